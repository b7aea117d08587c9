import { badUserInput } from '../../errors';

/** Checks a string argument's length; returns it. */
export function requireLength(argumentName: string, value: string, min: number, max: number): string {
  if (value.length < min || value.length > max) {
    throw badUserInput(`\`${argumentName}\` must be ${min} to ${max} characters long.`, { argumentName });
  }
  return value;
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
