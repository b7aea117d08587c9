// The process's logger: JSON lines (pino) with ISO-8601 timestamps, so lines read the same in a
// terminal and in a log store without knowing pino's epoch-milliseconds `time`.
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout (or `destination`); tokens and cookies never reach them. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'streamgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'],
  };
  return destination ? pino(options, destination) : pino(options);
}
