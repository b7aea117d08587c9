import { badUserInput } from '../../errors';

/**
 * Checks that a string argument can be stored: Postgres text cannot hold NUL (U+0000), and would
 * answer with an error that is the server's (a 500-like INTERNAL_SERVER_ERROR) instead of the
 * client's. Returns it.
 */
export function requireText(argumentName: string, value: string): string {
  if (value.includes('\u0000')) throw badUserInput(`\`${argumentName}\` must not contain NUL characters.`, { argumentName });
  return value;
}

/** Checks a string argument's length (and that it is storable text, see requireText); returns it. */
export function requireLength(argumentName: string, value: string, min: number, max: number): string {
  if (value.length < min || value.length > max) {
    throw badUserInput(`\`${argumentName}\` must be ${min} to ${max} characters long.`, { argumentName });
  }
  return requireText(argumentName, value);
}

/** Checks an integer argument's range; returns it. */
export function requireRange(argumentName: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw badUserInput(`\`${argumentName}\` must be an integer from ${min} to ${max}; got ${value}.`, { argumentName });
  }
  return value;
}

/** An update must change something. */
export function requireChanges(values: object): void {
  if (Object.keys(values).length === 0) throw badUserInput('`input` has no fields to change.', { argumentName: 'input' });
}
