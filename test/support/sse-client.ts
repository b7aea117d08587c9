// A bare GraphQL-over-SSE request (graphql-sse's distinct connections mode) on node:http: it
// records the status, headers, every event (`id:`, `event:`, `data:`) and comment as they arrive,
// and how the response ended, so tests can assert the wire format that EventSource and graphql-sse's
// client read. A refused request's JSON body is kept as `body`. Waiting is on arriving bytes or the
// end, never on a timer (the timeouts only turn a hang into a failure).
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

export interface SseEvent {
  /** The `id:` field: the event's stream cursor. */
  id?: string;
  event: string;
  data: string;
}

export interface SseErrorBody {
  errors: Array<{ message: string; extensions?: { code?: string; [key: string]: unknown } }>;
}

export interface SseResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every event received, oldest first. */
  events: SseEvent[];
  /** Every comment line's text (heartbeats are empty), oldest first. */
  comments: string[];
  /** The parsed JSON body of a response that is no event stream (a refusal); undefined for a stream. */
  body: SseErrorBody | undefined;
  /** The `data` of each `next` event, parsed. */
  results(): Array<{ data?: Record<string, unknown> | null; errors?: SseErrorBody['errors'] }>;
  /** Resolves once `count` `next` events arrived (or earlier ones did). */
  waitForNext(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  /** Resolves once a comment arrived after the call. */
  waitForComment(timeoutMs?: number): Promise<string>;
  /** Resolves when the server ended the response (or the connection dropped). */
  waitForEnd(timeoutMs?: number): Promise<void>;
  /** Hangs up, as a client leaving does. */
  close(): void;
  /** Stops reading from the socket (a stalled client: the kernel's buffers fill), and starts again. */
  pause(): void;
  resume(): void;
}

export interface SseRequestOptions {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /** GET puts the operation in the query string (EventSource's only way), POST in a JSON body (graphql-sse's client). @default 'GET' */
  method?: 'GET' | 'POST';
  token?: string;
  lastEventId?: string;
  headers?: Record<string, string>;
}

/** The URL an EventSource would open for this operation. */
export function sseUrl(endpoint: string, { query, variables, operationName }: Pick<SseRequestOptions, 'query' | 'variables' | 'operationName'>): string {
  const url = new URL(endpoint);
  url.searchParams.set('query', query);
  if (variables) url.searchParams.set('variables', JSON.stringify(variables));
  if (operationName) url.searchParams.set('operationName', operationName);
  return url.toString();
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Opens the request; resolves once the status and headers arrived. */
export function openSse(endpoint: string, options: SseRequestOptions): Promise<SseResponse> {
  const method = options.method ?? 'GET';
  const url = method === 'GET' ? sseUrl(endpoint, options) : endpoint;
  const body = method === 'POST' ? JSON.stringify({ query: options.query, variables: options.variables, operationName: options.operationName }) : undefined;
  const headers: Record<string, string> = {
    accept: 'text/event-stream',
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers }, (response) => resolve(record(response, () => request.destroy())));
    request.on('error', reject);
    request.end(body);
  });
}

function record(response: IncomingMessage, hangUp: () => void): SseResponse {
  const isStream = (response.headers['content-type'] ?? '').startsWith('text/event-stream');
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  let raw = '';
  let current: Partial<SseEvent> = {};
  let hasEnded = false;
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  const readLine = (line: string) => {
    if (line === '') {
      if (current.event !== undefined || current.data !== undefined) events.push({ event: current.event ?? 'message', data: current.data ?? '', ...(current.id !== undefined ? { id: current.id } : {}) });
      current = {};
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) {
      comments.push(line.slice(1).trim());
      return;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') current.event = value;
    else if (field === 'data') current.data = current.data === undefined ? value : `${current.data}\n${value}`;
    else if (field === 'id') current.id = value;
  };

  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    if (!isStream) {
      raw += chunk;
      return;
    }
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      readLine(buffered.slice(0, newline).replace(/\r$/, ''));
      buffered = buffered.slice(newline + 1);
    }
    notify();
  });
  const ended = new Promise<void>((resolve) => {
    const end = () => {
      hasEnded = true;
      notify();
      resolve();
    };
    response.on('end', end);
    response.on('close', end);
    response.on('error', end);
  });

  /** Resolves once `isDone()` holds, checked now and after every chunk. */
  const waitFor = <T>(isDone: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    withTimeout(
      new Promise<T>((resolve, reject) => {
        const check = () => {
          const done = isDone();
          if (done !== undefined) {
            listeners.delete(check);
            resolve(done);
          } else if (hasEnded) {
            listeners.delete(check);
            reject(new Error(`the response ended before ${what}; events: ${JSON.stringify(events)}`));
          }
        };
        listeners.add(check);
        check();
      }),
      timeoutMs,
      what,
    );

  const nextEvents = () => events.filter((event) => event.event === 'next');
  return {
    status: response.statusCode ?? 0,
    headers: response.headers,
    events,
    comments,
    get body() {
      return isStream || raw === '' ? undefined : (JSON.parse(raw) as SseErrorBody);
    },
    results: () => nextEvents().map((event) => JSON.parse(event.data) as ReturnType<SseResponse['results']>[number]),
    waitForNext: (count, timeoutMs = 20_000) => waitFor(() => (nextEvents().length >= count ? nextEvents() : undefined), `${count} next events`, timeoutMs),
    waitForComment(timeoutMs = 20_000) {
      const seen = comments.length;
      return waitFor(() => comments[seen], 'a comment', timeoutMs);
    },
    waitForEnd: (timeoutMs = 20_000) => withTimeout(ended, timeoutMs, 'the end of the response'),
    close: hangUp,
    pause: () => void response.pause(),
    resume: () => void response.resume(),
  };
}

/** A refused request's body, for tests that expect a refusal: its error codes. */
export async function refusalOf(endpoint: string, options: SseRequestOptions): Promise<{ status: number; codes: Array<string | undefined>; response: SseResponse }> {
  const response = await openSse(endpoint, options);
  await response.waitForEnd();
  return { status: response.status, codes: response.body?.errors.map((error) => error.extensions?.code) ?? [], response };
}
