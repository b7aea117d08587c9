// What an error log may carry of a database failure: the SQL text, the SQLSTATE code and the
// identifiers, never the parameters, a quoted value or the row in `detail`.
import { loggableError } from '../../src/loggable-error';

/** A driver error shaped as pg's and PGlite's DatabaseError. */
function databaseError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { name: 'DatabaseError', severity: 'ERROR', ...fields });
}

it('drops the parameters of a failed drizzle query and the detail of its cause', () => {
  const cause = databaseError('duplicate key value violates unique constraint "users_email_unique"', {
    code: '23505',
    detail: 'Key (email)=(carol@example.com) already exists.',
    constraint: 'users_email_unique',
    table: 'users',
  });
  const failed = Object.assign(new Error('Failed query: insert into "users" ("email") values ($1)\nparams: carol@example.com', { cause }), {
    query: 'insert into "users" ("email") values ($1)',
    params: ['carol@example.com'],
  });
  const safe = loggableError(failed) as Error & Record<string, unknown>;
  expect(JSON.stringify({ ...safe, message: safe.message, stack: safe.stack })).not.toContain('carol@example.com');
  expect(safe.message).toContain('values ($1)');
  expect(safe.message).toContain('constraint "users_email_unique"');
  expect(safe).toMatchObject({ code: '23505', constraint: 'users_email_unique', table: 'users' });
});

it('blanks the value a driver message quotes, keeping quoted identifiers', () => {
  const safe = loggableError(databaseError('invalid input syntax for type integer: "dave@example.com"', { code: '22P02', detail: 'x' })) as Error;
  expect(safe.message).toBe('invalid input syntax for type integer: "?"');
  expect(JSON.stringify({ ...safe })).not.toContain('detail');
});

it('cleans a database error wrapped as the cause of another error', () => {
  const inner = Object.assign(new Error('Failed query: select 1 where $1\nparams: erin@example.com'), { query: 'select 1 where $1', params: ['erin@example.com'] });
  const outer = new Error('could not load', { cause: inner });
  const safe = loggableError(outer) as Error;
  expect(safe.message).toBe('could not load');
  expect(String((safe.cause as Error).message)).not.toContain('erin@example.com');
});

it('leaves other errors as they are', () => {
  const error = new Error('plain');
  expect(loggableError(error)).toBe(error);
  expect(loggableError('text')).toBe('text');
});

it("keeps a failed query's SQL text and the driver's message and code, never its parameters", () => {
  const cause = Object.assign(new Error('relation "users" does not exist'), { code: '42P01' });
  const failed = Object.assign(new Error('Failed query: select * from users where email = $1\nparams: alice@example.com'), {
    name: 'DrizzleQueryError',
    query: 'select * from users where email = $1',
    params: ['alice@example.com'],
    cause,
  });
  const logged = loggableError(failed) as Error & { code?: string };
  expect(logged.message).toBe('Failed query: select * from users where email = $1 (relation "users" does not exist)');
  expect(logged.name).toBe('DrizzleQueryError');
  expect(logged.code).toBe('42P01');
  expect(JSON.stringify({ ...logged, message: logged.message, stack: logged.stack })).not.toContain('alice@example.com');
});
