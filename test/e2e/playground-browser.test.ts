// The GraphiQL playground in a real headless Chromium (the system's `chromium`, driven by
// playwright-core) against a gateway in the test process: the editor and docs explorer render, a
// query runs over HTTP, a subscription ticks over the websocket, the Authorization header from the
// headers editor reaches the websocket, and the page asks nothing of any origin but the gateway's
// (every other request is aborted and recorded). With PLAYGROUND_SCREENSHOT=<file.png> it also
// writes the screenshot the README shows (docs/images/playground.png).
import { chromium, type Browser, type Page } from 'playwright-core';
import { findChromium, isBrowserRequired, NO_BROWSER_REASON } from '../support/chromium';
import { placeOrder, line } from '../support/documents';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { deferred } from '../../src/testing/wait';

const chromiumPath = findChromium();

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const RESULT_PANE = '.graphiql-response .CodeMirror';
const VISIBLE_TOOL_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const EXECUTE_BUTTON = '.graphiql-execute-button';

/**
 * The few browser globals the functions run in the page use: the tests compile without the DOM
 * lib (which would change types for the Node code), so they are declared here, for this file only.
 */
declare const document: { querySelector(selector: string): unknown };
declare const window: unknown;
declare class MutationObserver {
  constructor(callback: () => void);
  observe(target: unknown, options: { subtree: boolean; childList: boolean; characterData: boolean }): void;
  disconnect(): void;
}

interface CodeMirrorElement {
  /** GraphiQL keeps the parsed operation on its query editor's CodeMirror instance. */
  CodeMirror: { getValue(): string; setValue(value: string): void; operationName?: string | null };
}

if (!chromiumPath && !isBrowserRequired) {
  console.warn(`playground-browser.test.ts skipped: ${NO_BROWSER_REASON}`);
  it.skip(`drives the playground in headless Chromium: skipped, ${NO_BROWSER_REASON}`, () => undefined);
} else {
  describe('the playground in headless Chromium', () => {
    let gateway: TestGateway;
    let browser: Browser;
    let page: Page;
    let origin: string;
    /** Every request the page tried to make to another origin (each one aborted). */
    const outsideRequests: string[] = [];
    const pageErrors: string[] = [];
    const cspViolations: string[] = [];
    const websocketUrls: string[] = [];

    beforeAll(async () => {
      if (!chromiumPath) throw new Error('CI_REQUIRE_BROWSER is set but no chromium binary was found on PATH (apt-get install -y chromium)');
      gateway = await startTestGateway();
      origin = new URL(gateway.url).origin;
      browser = await chromium.launch({ executablePath: chromiumPath });
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await recordOutsideRequests(page, outsideRequests);
      page.on('websocket', (socket) => websocketUrls.push(socket.url()));
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (/Content[- ]Security[- ]Policy/i.test(message.text())) cspViolations.push(message.text());
      });
      const response = await page.goto(gateway.url);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    });

    afterAll(async () => {
      await browser?.close();
      await gateway?.stop();
    });

    /** Aborts every request of `page` to an origin other than the gateway's, and records its URL. */
    const recordOutsideRequests = (page: Page, recorded: string[]) =>
      page.route('**/*', (route) => {
        const url = route.request().url();
        if (new URL(url).origin === origin) return route.continue();
        recorded.push(url);
        return route.abort('blockedbyclient');
      });

    const setEditor = (selector: string, text: string) =>
      page.evaluate(([selector, text]) => (document.querySelector(selector) as CodeMirrorElement).CodeMirror.setValue(text), [selector, text] as const);

    /**
     * Puts an operation into the query editor, and waits until GraphiQL has parsed it (it does so
     * debounced, after the edit): only then does Run send it, and over the right transport.
     */
    async function setOperation(operationName: string, text: string) {
      await setEditor(QUERY_EDITOR, text);
      await page.waitForFunction(
        ([selector, operationName]) => (document.querySelector(selector) as CodeMirrorElement).CodeMirror.operationName === operationName,
        [QUERY_EDITOR, operationName] as const,
      );
    }

    /** Resolves with the result pane's text the first time `isWanted` holds for it (checked on every DOM change of the pane). */
    async function runAndWaitForResult(isWanted: (text: string) => boolean): Promise<string> {
      const wanted = deferred<string>();
      const name = `reportResult${Math.random().toString(36).slice(2)}`;
      await page.exposeFunction(name, (text: string) => isWanted(text) && wanted.resolve(text));
      await page.evaluate(
        ([selector, name]) => {
          const pane = document.querySelector(selector) as CodeMirrorElement;
          const page = window as unknown as Record<string, unknown> & { resultObserver?: MutationObserver };
          page.resultObserver?.disconnect(); // the previous run's
          page.resultObserver = new MutationObserver(() => (page[name] as (text: string) => void)(pane.CodeMirror.getValue()));
          page.resultObserver.observe(pane, { subtree: true, childList: true, characterData: true });
        },
        [RESULT_PANE, name] as const,
      );
      await page.click(EXECUTE_BUTTON);
      // A bound on the wait, so a failure shows what the pane holds instead of a bare Jest timeout.
      const timeout = setTimeout(() => {
        void page.evaluate((selector) => (document.querySelector(selector) as CodeMirrorElement).CodeMirror.getValue(), RESULT_PANE).then(
          (text) => wanted.reject(new Error(`the result pane never showed what was expected; it shows: ${text}`)),
          wanted.reject,
        );
      }, 20_000);
      return wanted.promise.finally(() => clearTimeout(timeout));
    }

    it('renders the editor and the docs explorer, with the schema loaded over HTTP', async () => {
      await page.waitForSelector(QUERY_EDITOR);
      await page.waitForSelector(RESULT_PANE);
      // The explorer lists the root types once introspection has answered.
      await page.waitForSelector('.graphiql-doc-explorer >> text=Subscription');
      expect(await page.isVisible('.graphiql-doc-explorer')).toBe(true);
      // A dialog adds <style> elements as it opens: the CSP must let it (checked in the last test).
      await page.click('button[aria-label="Open settings dialog"]');
      await page.waitForSelector('[role="dialog"]');
      await page.keyboard.press('Escape');
      await page.waitForSelector('[role="dialog"]', { state: 'detached' });
    });

    it('runs a query typed into the editor and shows its data in the result pane', async () => {
      const query = ['query FirstProducts {', '  products(first: 3) {', '    edges {', '      node {', '        id name', '        priceCents stock', '      }', '    }', '  }', '}'].join('\n');
      await setOperation('FirstProducts', query);
      const text = await runAndWaitForResult((text) => text.includes('"products"'));
      const expected = await gateway.graphql(query);
      expect(expected.body.data).toBeDefined();
      expect(JSON.parse(text)).toEqual({ data: expected.body.data });
      if (process.env.PLAYGROUND_SCREENSHOT) await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT });
    });

    it('streams serverTime over the websocket: the result pane shows it ticking', async () => {
      await setOperation('Ticks', 'subscription Ticks { serverTime }');
      const seen = new Set<string>();
      await runAndWaitForResult((text) => {
        const time = /"serverTime":\s*"([^"]+)"/.exec(text)?.[1];
        if (time) seen.add(time);
        return seen.size >= 2;
      });
      expect([...seen].every((time) => !Number.isNaN(Date.parse(time)))).toBe(true);
      expect(websocketUrls.length).toBeGreaterThan(0);
      expect(websocketUrls.every((url) => url === gateway.wsUrl)).toBe(true);
      await page.click(EXECUTE_BUTTON); // stops the subscription
    });

    it('sends the Authorization header from the headers editor to the websocket (connectionParams)', async () => {
      const token = await gateway.login('alice@streamgate.dev', 'alice-password');
      const placed = await placeOrder(gateway, token, [line(1)]);
      const orderId = placed.body.data!.placeOrder.id;
      await page.click('button:has-text("Headers")');
      await setEditor(VISIBLE_TOOL_EDITOR, JSON.stringify({ Authorization: `Bearer ${token}` }));
      // myOrders needs a session: anonymous sockets get UNAUTHENTICATED. From the stream's start,
      // so alice's order placed above is replayed at once.
      await setOperation('AliceOrders', 'subscription AliceOrders { myOrders(after: "0-0") { type order { id } } }');
      const text = await runAndWaitForResult((text) => text.includes('"myOrders"') || text.includes('"errors"'));
      expect(JSON.parse(text)).toEqual({ data: { myOrders: { type: 'ORDER_PLACED', order: { id: orderId } } } });
      await page.click(EXECUTE_BUTTON);
    });

    it('made no request outside the gateway, broke no CSP rule and threw nothing', () => {
      expect(outsideRequests).toEqual([]);
      // A request the CSP blocked never reaches the network (nor the recorder): it shows up here.
      expect(cspViolations).toEqual([]);
      expect(pageErrors).toEqual([]);
    });

    it('asks for nothing outside the gateway even with its CSP out of the way', async () => {
      // The CSP would stop such requests before the recorder sees them; this page has no CSP, so
      // whatever the page and GraphiQL try to load is recorded.
      const context = await browser.newContext({ bypassCSP: true });
      try {
        const unprotected = await context.newPage();
        const recorded: string[] = [];
        await recordOutsideRequests(unprotected, recorded);
        await unprotected.goto(gateway.url);
        await unprotected.waitForSelector('.graphiql-doc-explorer >> text=Subscription');
        expect(recorded).toEqual([]);
      } finally {
        await context.close();
      }
    });
  });
}
