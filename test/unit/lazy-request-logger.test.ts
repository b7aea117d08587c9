// The per-request logger is made on the first line a request writes, never for a request that
// writes none, and its lines carry the request's bindings as pino's child would.
import { lazyRequestLogger } from '../../src/http/lazy-request-logger';
import { createLogger } from '../../src/logger';

function recordingParent(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const parent = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const child = jest.spyOn(parent, 'child');
  return { parent, lines, child };
}

test('a request that logs nothing, or only below the level, makes no child logger', () => {
  const { parent, lines, child } = recordingParent('info');
  const log = lazyRequestLogger(parent, { reqId: 'r1' }, {});
  log.debug('not at this level');
  log.trace({ detail: 1 }, 'nor this');
  expect(child).not.toHaveBeenCalled();
  expect(lines).toEqual([]);
  expect(log.level).toBe('info');
});

test('the first line makes the child once; lines carry the bindings and their own fields', () => {
  const { parent, lines, child } = recordingParent('info');
  const log = lazyRequestLogger(parent, { reqId: 'r2' }, {});
  log.info({ statusCode: 200 }, 'answered');
  log.error('failed');
  expect(child).toHaveBeenCalledTimes(1);
  expect(lines).toEqual([
    expect.objectContaining({ reqId: 'r2', statusCode: 200, msg: 'answered', level: 30 }),
    expect.objectContaining({ reqId: 'r2', msg: 'failed', level: 50 }),
  ]);
});

test("a child of the request's logger, and a level set on it, apply to the request only", () => {
  const { parent, lines } = recordingParent('info');
  const log = lazyRequestLogger(parent, { reqId: 'r3' }, {});
  log.level = 'debug';
  log.debug('now written');
  log.child({ step: 'parse' }).warn('nested');
  expect(parent.level).toBe('info');
  expect(lines).toEqual([expect.objectContaining({ reqId: 'r3', msg: 'now written' }), expect.objectContaining({ reqId: 'r3', step: 'parse', msg: 'nested' })]);
});
