// What an SSE stream writes (sse-stream.ts), on a fake response: the cursor as `id:`, a `complete`
// that EventSource dispatches, and close codes translated into what a stream can say: a revoked
// session ends it for good (UNAUTHENTICATED, then complete); a shutdown or a slow consumer ends it
// without `complete`, so the client reconnects with Last-Event-ID.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { CloseCode } from '../../src/http/close-codes';
import { SseStream } from '../../src/http/sse-stream';

class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, unknown> = {};
  written = '';
  writableEnded = false;
  writableNeedDrain = false;
  setHeader(name: string, value: unknown) {
    this.headers[name] = value;
  }
  writeHead(status: number, headers: Record<string, unknown>) {
    this.status = status;
    Object.assign(this.headers, headers);
  }
  flushHeaders() {}
  write(chunk: string) {
    this.written += chunk;
    return !this.writableNeedDrain;
  }
  end(chunk = '') {
    this.written += chunk;
    this.writableEnded = true;
    this.emit('close');
  }
}

function openStream() {
  const response = new FakeResponse();
  const stream = new SseStream(response as unknown as ServerResponse);
  stream.open({ 'x-request-id': 'r1' });
  return { response, stream };
}

it('opens with the event-stream headers and the ones given', () => {
  const { response } = openStream();
  expect(response.status).toBe(200);
  expect(response.headers).toMatchObject({
    'x-request-id': 'r1',
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
});

it('writes `next` events with the cursor as `id:`, and none for an id that would break the line', () => {
  const { response, stream } = openStream();
  stream.sendNext({ data: { n: 1 } }, '1700000000000-0');
  stream.sendNext({ data: { n: 2 } });
  stream.sendNext({ data: { n: 3 } }, 'a\nb');
  expect(response.written).toBe(
    'id: 1700000000000-0\nevent: next\ndata: {"data":{"n":1}}\n\n' + 'event: next\ndata: {"data":{"n":2}}\n\n' + 'event: next\ndata: {"data":{"n":3}}\n\n',
  );
});

it('completes with an empty data line (EventSource dispatches no event without one), then writes nothing more', () => {
  const { response, stream } = openStream();
  stream.complete();
  stream.sendNext({ data: {} }, '1-0');
  stream.heartbeat();
  expect(response.written).toBe('event: complete\ndata:\n\n');
  expect(stream.isClosed).toBe(true);
});

it('ends a revoked session for good: UNAUTHENTICATED, then complete', () => {
  const { response, stream } = openStream();
  stream.close(CloseCode.Forbidden, 'Session revoked; log in again');
  expect(response.written).toBe(
    'event: next\ndata: {"errors":[{"message":"Session revoked; log in again","extensions":{"code":"UNAUTHENTICATED"}}]}\n\n' + 'event: complete\ndata:\n\n',
  );
});

it.each([CloseCode.GoingAway, CloseCode.SlowConsumer, CloseCode.TryAgainLater])('ends without `complete` on %i, so the client reconnects and resumes', (code) => {
  const { response, stream } = openStream();
  stream.close(code, 'why\nit ended');
  expect(response.written).toBe(': why it ended\n\n');
  expect(response.writableEnded).toBe(true);
});

it('tells close listeners once, even those added after it closed', () => {
  const { response, stream } = openStream();
  const heard: string[] = [];
  stream.once('close', () => heard.push('before'));
  response.end();
  stream.once('close', () => heard.push('after'));
  expect(heard).toEqual(['before', 'after']);
});

it('waits for drain when the socket buffer is full, and not when it is not', async () => {
  const { response, stream } = openStream();
  await stream.drained();
  response.writableNeedDrain = true;
  expect(stream.sendNext({ data: {} })).toBe(false);
  let isDrained = false;
  const drained = stream.drained().then(() => (isDrained = true));
  await Promise.resolve();
  expect(isDrained).toBe(false);
  response.emit('drain');
  await drained;
  expect(isDrained).toBe(true);
});
