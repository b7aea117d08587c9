// Fastify's per-request logger (`request.log`), made only when the request logs something. pino's
// child() serialises the bindings and sets up redaction on every call: about 1% of the gateway's
// time answering cached requests, for a logger most requests never write to (the access log is at
// debug, and errors are rare). Used as Fastify's `childLoggerFactory`; one small object per
// request, its methods on the prototype.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level } from 'pino';
import type { Logger } from '../logger';

class LazyRequestLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  fatal(...line: unknown[]): void {
    this.write('fatal', line);
  }
  error(...line: unknown[]): void {
    this.write('error', line);
  }
  warn(...line: unknown[]): void {
    this.write('warn', line);
  }
  info(...line: unknown[]): void {
    this.write('info', line);
  }
  debug(...line: unknown[]): void {
    this.write('debug', line);
  }
  trace(...line: unknown[]): void {
    this.write('trace', line);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.logger().child(bindings, options);
  }

  private logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  private write(level: Level, line: unknown[]): void {
    // Below the level nothing is written, so nothing is made either.
    if (!(this.made ?? this.parent).isLevelEnabled(level)) return;
    const logger = this.logger();
    Reflect.apply(logger[level], logger, line);
  }
}

export function lazyRequestLogger(parent: Logger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // A route's own log level needs the child's level from the start.
  if (options.level !== undefined) return parent.child(bindings, options);
  return new LazyRequestLogger(parent, bindings, options);
}
