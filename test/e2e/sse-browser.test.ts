// Subscriptions over Server-Sent Events in a real headless Chromium (the system's `chromium`,
// driven by playwright-core) against two gateway replicas in the test process: a plain
// `new EventSource('/graphql?query=…')` on a public subscription receives `next` events whose
// `lastEventId` is the event's cursor; when its replica stops, the browser reconnects by itself
// with Last-Event-ID (sent here to the other replica, as a load balancer would) and receives exactly
// the stream's events after that id, including those written while it was away.
import type { IncomingMessage } from 'node:http';
import { chromium, type Browser, type Page, type Route } from 'playwright-core';
import { demoAccounts } from '../../src/db/seed';
import { findChromium, isBrowserRequired, NO_BROWSER_REASON } from '../support/chromium';
import { RESTOCK_PRODUCT } from '../support/documents';
import { login, mutate, type Endpoint } from '../support/graphql';
import { readStream, streamTailOf } from '../support/streams';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { deferred, waitUntil } from '../../src/testing/wait';

/** The browser globals the page functions use: the tests compile without the DOM lib. */
declare class EventSource {
  constructor(url: string);
  addEventListener(type: string, listener: (event: { data?: string; lastEventId?: string }) => void): void;
  close(): void;
}
declare const window: Record<string, unknown>;

const chromiumPath = findChromium();
const [admin] = demoAccounts as [(typeof demoAccounts)[number]];
const PRODUCT_CHANGED = 'subscription { productChanged(id: "1") { cursor type product { stock } } }';

interface ReceivedEvent {
  type: string;
  data: string;
  lastEventId: string;
}

if (!chromiumPath && !isBrowserRequired) {
  console.warn(`sse-browser.test.ts skipped: ${NO_BROWSER_REASON}`);
  it.skip(`receives subscription events in headless Chromium's EventSource: skipped, ${NO_BROWSER_REASON}`, () => undefined);
} else {
  describe("EventSource in headless Chromium", () => {
    let pair: TwoGateways;
    let adminToken: string;
    let browser: Browser;
    let page: Page;
    const received: ReceivedEvent[] = [];
    const listeners = new Set<() => void>();
    /** The Last-Event-ID of every GraphQL request replica b received, as it arrived on the wire. */
    const lastEventIdsAtB: Array<string | undefined> = [];
    /** Once set, the EventSource's requests are sent to replica b (replica a is gone). */
    let isReplicaAGone = false;

    beforeAll(async () => {
      if (!chromiumPath) throw new Error('CI_REQUIRE_BROWSER is set but no chromium binary was found on PATH (apt-get install -y chromium)');
      pair = await startTwoGateways({ seed: { users: 2, products: 3, orders: 0 } });
      adminToken = await login(pair.a, admin.email, admin.password);
      browser = await chromium.launch({ executablePath: chromiumPath });
      page = await browser.newPage();
      // A load balancer in miniature: once replica a is gone, the browser's requests go to b.
      await page.route('**/graphql?*', (route: Route) => {
        const target = new URL(route.request().url());
        if (isReplicaAGone) target.port = new URL(pair.b.url).port;
        return route.continue({ url: target.toString() });
      });
      // Chromium adds Last-Event-ID below what Playwright's interception sees: read it where it lands.
      pair.b.app.server!.fastify.server.on('request', (request: IncomingMessage) => {
        if (request.url?.startsWith('/graphql?')) lastEventIdsAtB.push(request.headers['last-event-id'] as string | undefined);
      });
      await page.exposeFunction('reportSseEvent', (type: string, data: string, lastEventId: string) => {
        received.push({ type, data, lastEventId });
        for (const listener of [...listeners]) listener();
      });
      // Any page of the gateway's origin will do: EventSource is same-origin here (no CORS).
      const response = await page.goto(`${new URL(pair.a.url).origin}/healthz`);
      expect(response?.status()).toBe(200);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await pair?.stop();
    });

    /** Resolves once `isDone` holds for what the page reported (checked on every report). */
    function waitForReceived(isDone: (events: ReceivedEvent[]) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
      const done = deferred();
      const check = () => {
        if (isDone(received)) done.resolve();
      };
      listeners.add(check);
      check();
      const timer = setTimeout(() => done.reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(received)}`)), timeoutMs);
      return done.promise.finally(() => {
        clearTimeout(timer);
        listeners.delete(check);
      });
    }

    const nextEvents = () => received.filter((event) => event.type === 'next');

    /** The `next` events received so far, once at least `count` arrived. */
    async function waitForNext(count: number): Promise<ReceivedEvent[]> {
      await waitForReceived(() => nextEvents().length >= count, `${count} next events`);
      return nextEvents();
    }

    const restock = (endpoint: Endpoint) => mutate(endpoint, RESTOCK_PRODUCT, { id: '1', quantity: 1 }, adminToken);
    const cursorOf = (event: ReceivedEvent) => (JSON.parse(event.data) as { data: { productChanged: { cursor: string } } }).data.productChanged.cursor;

    async function productOneIdsAfter(afterId: string): Promise<string[]> {
      const redis = pair.redis.connect();
      try {
        const entries = await readStream(redis, pair.redis.keys.stream('catalog'), afterId);
        return entries.filter((entry) => entry.event.aggregate.type === 'Product' && entry.event.aggregate.id === '1').map((entry) => entry.streamId);
      } finally {
        redis.disconnect();
      }
    }

    it('receives `next` events whose lastEventId is the cursor', async () => {
      const tail = await streamTailOf(pair.redis, 'catalog');
      await page.evaluate((url) => {
        const source = new EventSource(url);
        const report = window.reportSseEvent as (type: string, data: string, lastEventId: string) => void;
        source.addEventListener('next', (event) => report('next', event.data ?? '', event.lastEventId ?? ''));
        source.addEventListener('complete', () => report('complete', '', ''));
        source.addEventListener('error', () => report('error', '', ''));
        source.addEventListener('open', () => report('open', '', ''));
        window.source = source;
      }, `/graphql?query=${encodeURIComponent(PRODUCT_CHANGED)}`);
      // The stream is open (and subscribed) once `open` fired: only then is a write sure to reach it.
      await waitForReceived((events) => events.some((event) => event.type === 'open'), 'the stream to open');
      await restock(pair.a);
      await restock(pair.a);
      const events = await waitForNext(2);
      const expected = await productOneIdsAfter(tail);
      expect(events.map((event) => event.lastEventId)).toEqual(expected);
      expect(events.map(cursorOf)).toEqual(expected);
    });

    it('reconnects by itself with Last-Event-ID when its replica stops, and gets exactly the events it missed from the other one', async () => {
      const before = received.filter((event) => event.type === 'next');
      const lastSeen = before.at(-1)!.lastEventId;
      isReplicaAGone = true;
      await pair.a.stop();
      // Written while the browser is away (it waits about 3 s before reconnecting).
      for (let i = 0; i < 3; i += 1) await restock(pair.b);
      // Replica b's relay may take over publishing only now (a held the outbox lock): wait for the stream.
      let missed: string[] = [];
      await waitUntil(async () => (missed = await productOneIdsAfter(lastSeen)).length >= 3, 'the three restocks are in the stream');
      expect(missed).toHaveLength(3);
      const events = await waitForNext(before.length + 3);
      expect(events.slice(before.length).map((event) => event.lastEventId)).toEqual(missed);
      expect(lastEventIdsAtB).toEqual([lastSeen]);
      expect(received.some((event) => event.type === 'complete')).toBe(false);
      await page.evaluate(() => (window.source as EventSource).close());
    }, 60_000);
  });
}
