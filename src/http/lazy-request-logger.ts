// Fastify's per-request logger (`request.log`), made only when the request logs something. pino's
// child() serialises the bindings and sets up redaction on every call: about 1% of the gateway's
// time answering cached requests, for a logger most requests never write to (the access log is at
// debug, and errors are rare). Used as Fastify's `childLoggerFactory`.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, LogFn } from 'pino';
import type { Logger } from '../logger';

export function lazyRequestLogger(parent: Logger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // A route's own log level needs the child's level from the start.
  if (options.level !== undefined) return parent.child(bindings, options);
  let child: Logger | undefined;
  const made = () => (child ??= parent.child(bindings, options));
  // Below the level nothing is written, so nothing is made either.
  const at = (level: Level) =>
    ((...args: unknown[]) => {
      if (!(child ?? parent).isLevelEnabled(level)) return;
      const logger = made();
      Reflect.apply(logger[level], logger, args);
    }) as LogFn;
  return {
    get level() {
      return (child ?? parent).level;
    },
    set level(level: string) {
      made().level = level;
    },
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => undefined,
    child: (childBindings, childOptions) => made().child(childBindings, childOptions),
  };
}
