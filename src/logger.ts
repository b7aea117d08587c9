import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout; tokens and cookies never reach them. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'streamgate' },
    redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'],
  });
}
