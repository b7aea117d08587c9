// What may be logged of an error, anywhere in the gateway, the relay or a worker: database
// failures carry user values (a statement's parameters, quoted values, rows in `detail`) that
// must not reach the logs.
/**
 * A quoted value in a database message (`invalid input syntax for type integer: "abc"`); the
 * identifiers Postgres quotes (`column "email"`, `constraint "users_email_key"`) follow no colon.
 */
const QUOTED = /: "[^"]*"/g;

/** A database driver's error (pg's or PGlite's DatabaseError): SQLSTATE code and severity. */
function isDatabaseError(error: Error): error is Error & { code: string; detail?: unknown; constraint?: unknown; table?: unknown; column?: unknown } {
  return 'severity' in error && typeof (error as { code?: unknown }).code === 'string';
}

/** The driver's message with quoted values blanked, and the identifiers it names (never `detail`, which quotes rows). */
function safeDatabaseError(error: Error & { code: string; constraint?: unknown; table?: unknown; column?: unknown }, message: string): Error {
  const safe = new Error(message);
  safe.name = error.name;
  const identifiers = { code: error.code, constraint: error.constraint, table: error.table, column: error.column };
  for (const [key, value] of Object.entries(identifiers)) if (typeof value === 'string') Object.assign(safe, { [key]: value });
  return safe;
}

/**
 * What may be logged of a masked error. Drizzle's query errors carry the statement's parameters
 * (emails, names, search terms) in their message and `params`, and the driver's errors quote
 * values in their message and rows in `detail`: keep the SQL text (placeholders only), the
 * SQLSTATE code and the identifiers, never the values. Applied down an error's `cause` chain,
 * which pino's serializer prints too.
 */
export function loggableError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 5) return error;
  if ('params' in error && 'query' in error) {
    const cause = error.cause instanceof Error ? error.cause : undefined;
    const causeMessage = cause ? ` (${cause.message.replace(QUOTED, ': "?"')})` : '';
    const message = `Failed query: ${String(error.query)}${causeMessage}`;
    if (cause && isDatabaseError(cause)) return Object.assign(safeDatabaseError(cause, message), { name: error.name });
    const safe = new Error(message);
    safe.name = error.name;
    const code = (cause as { code?: unknown } | undefined)?.code;
    return code === undefined ? safe : Object.assign(safe, { code });
  }
  if (isDatabaseError(error)) return safeDatabaseError(error, error.message.replace(QUOTED, ': "?"'));
  if (error.cause instanceof Error) {
    const cause = loggableError(error.cause, depth + 1);
    if (cause === error.cause) return error;
    const safe = new Error(error.message, { cause });
    safe.name = error.name;
    safe.stack = error.stack;
    return safe;
  }
  return error;
}
