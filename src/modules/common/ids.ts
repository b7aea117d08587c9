import { badUserInput } from '../../errors';

/** The largest value of an `integer` column (ids, totals): a larger one in SQL makes the statement throw. */
export const MAX_INTEGER_COLUMN = 2_147_483_647;

/** Parses a GraphQL `ID` argument: ids are positive integers, sent as strings or numbers. */
export function parseId(value: string | number, argumentName = 'id'): number {
  const id = typeof value === 'number' ? value : /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id < 1 || id > MAX_INTEGER_COLUMN) {
    throw badUserInput(`\`${argumentName}\` must be a positive integer id; got ${JSON.stringify(value)}.`, {
      argumentName,
    });
  }
  return id;
}
