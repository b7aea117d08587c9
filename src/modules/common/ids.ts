import { badUserInput } from '../../errors';

/** Parses a GraphQL `ID` argument: ids are positive integers, sent as strings or numbers. */
export function parseId(value: string | number, argumentName = 'id'): number {
  const id = typeof value === 'number' ? value : /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) {
    throw badUserInput(`\`${argumentName}\` must be a positive integer id; got ${JSON.stringify(value)}.`, {
      argumentName,
    });
  }
  return id;
}
