// The mixed rows of `npm run bench`: the read mix of (a) and (b) over CONNECTIONS connections
// while other customers place orders at a fixed rate, and a checker that counts the reads showing
// stock older than an order acknowledged before the read was sent. Stock only goes down here (no
// restocks, no cancellations), so a product(id) read sent at time t is stale when its `stock` is
// above the row's initial stock minus the units of the orders acknowledged before t; an order still
// unanswered at t may or may not show, so it never makes a read stale.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import autocannon, { type Result } from 'autocannon';
import { Pool } from 'pg';
import { CONNECTIONS, DURATION_SECONDS, SIZES, goodData, median, sum } from './harness';

/** The gateway's placeOrder (schema/schema.graphql); its products' ids let Yoga's cache invalidate them. */
export const PLACE_ORDER = 'mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { id items { product { id stock } } } }';
export const MIXED_RATES = (process.env.BENCH_MIXED_RATES ?? '0,5,50')
  .split(',')
  .filter((rate) => rate.trim() !== '')
  .map((rate) => {
    if (!(Number(rate) >= 0)) throw new Error(`BENCH_MIXED_RATES: "${rate}" is not a rate`);
    return Number(rate);
  });
/**
 * Orders take one unit of a product with at least this much stock: a row places at most
 * rate × (warm-up + seconds) units (650 at 50/s) spread over hundreds of products, so none runs out.
 */
const MIN_WRITABLE_STOCK = 100;
const MIN_WRITABLE_PRODUCTS = 100;
/** The unmeasured run of reads and writes before a server's mixed rows (warmUpWrites). */
const WRITE_WARMUP_SECONDS = 10;
/** Each rate's row is measured in this many windows, the rates taking turns (measureMixed). */
const MIXED_ROUNDS = 5;
/** Orders at a window's rate before its reads are measured: the cache settles into that rate. */
const WINDOW_WARMUP_SECONDS = 1;
/** How often the writer's timer checks for orders due: often enough to keep 50/s steady. */
const WRITER_TICK_MS = 5;

export interface MixedTarget {
  name: string;
  url: string;
  /** The response cache's hits and misses so far (streamgate's /metrics), or null when it has none. */
  responseCache?(): Promise<{ hits: number; misses: number } | null>;
}

export interface MixedOptions {
  productQuery: string;
  ordersQuery: string;
  /** Tokens of the customers who read their orders. */
  readerTokens: string[];
  /** Tokens of the customers who place orders: none of them is a reader. */
  writerTokens: string[];
  stocks: Stocks;
}

export interface MixedRow {
  server: string;
  targetWritesPerSecond: number;
  /** placeOrder acknowledged during the measured reads, per second. */
  writesPerSecond: number;
  /** placeOrder that failed (non-200, errors, connection) during the row, warm-up included. */
  failedWrites: number;
  readsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** product(id) reads checked for staleness (the measured ones). */
  productReads: number;
  staleReads: number;
  /** How long the oldest stale value had been out of date when its read was sent (at least). */
  worstStaleMs: number | null;
  badReads: number;
  /** Response cache hits / (hits + misses) during the measured reads; null: the server reports none. */
  responseCacheHitRate: number | null;
}

/** Every product's stock, read while no order is in flight. */
export interface Stocks {
  current(): Promise<Map<number, number>>;
  /** An acknowledged order took `units` of `productId`. */
  taken(productId: number, units: number): void;
  close(): Promise<void>;
}

/**
 * PostgreSQL: read from the database before each row. PGlite: one process owns the directory, so
 * the stock is read once, before any server starts (call this first), and kept here from the
 * acknowledged orders; an order that committed without an answer makes the real stock lower than
 * kept, which can only hide a stale read, never invent one.
 */
export async function openStocks(databaseEnv: Record<string, string>): Promise<Stocks> {
  const text = 'select id, stock from products';
  const toMap = (rows: Array<{ id: number; stock: number }>) => new Map(rows.map((row) => [Number(row.id), Number(row.stock)]));
  if (databaseEnv.DATABASE_URL) {
    const pool = new Pool({ connectionString: databaseEnv.DATABASE_URL, max: 1 });
    return {
      current: async () => toMap((await pool.query<{ id: number; stock: number }>(text)).rows),
      taken: () => {},
      close: () => pool.end(),
    };
  }
  const pglite = await PGlite.create(databaseEnv.PGLITE_DIR!);
  const kept = toMap((await pglite.query<{ id: number; stock: number }>(text)).rows);
  await pglite.close();
  return {
    current: async () => new Map(kept),
    taken: (productId, units) => kept.set(productId, kept.get(productId)! - units),
    close: async () => {},
  };
}

/** The orders acknowledged during one row: per product, the ack times (ascending) and the units acknowledged up to each. */
class Acks {
  private readonly byProduct = new Map<number, { at: number[]; units: number[] }>();

  record(productId: number, units: number, at: number): void {
    const acks = this.byProduct.get(productId) ?? { at: [], units: [] };
    acks.at.push(at);
    acks.units.push((acks.units.at(-1) ?? 0) + units);
    this.byProduct.set(productId, acks);
  }

  /** Units of `productId` whose order was acknowledged strictly before `time`. */
  unitsBefore(productId: number, time: number): number {
    const acks = this.byProduct.get(productId);
    if (!acks) return 0;
    let low = 0;
    let high = acks.at.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (acks.at[middle]! < time) low = middle + 1;
      else high = middle;
    }
    return low === 0 ? 0 : acks.units[low - 1]!;
  }

  /** When the acknowledged units of `productId` first exceeded `units`; undefined: not during this row. */
  whenUnitsExceeded(productId: number, units: number): number | undefined {
    const acks = this.byProduct.get(productId);
    const index = acks?.units.findIndex((acknowledged) => acknowledged > units) ?? -1;
    return index < 0 ? undefined : acks!.at[index];
  }
}

class StaleChecker {
  reads = 0;
  stale = 0;
  worstMs: number | null = null;

  constructor(
    private readonly initial: Map<number, number>,
    private readonly acks: Acks,
    private readonly rowStartedAt: number,
  ) {}

  check(productId: number, sentAt: number, stock: number): void {
    this.reads += 1;
    const initial = this.initial.get(productId)!;
    if (stock <= initial - this.acks.unitsBefore(productId, sentAt)) return;
    this.stale += 1;
    // Out of date since the first acknowledged order the read misses; above the initial stock,
    // it misses an order of an earlier row: since this row began, at least.
    const since = stock > initial ? this.rowStartedAt : (this.acks.whenUnitsExceeded(productId, initial - stock) ?? this.rowStartedAt);
    this.worstMs = Math.max(this.worstMs ?? 0, Math.round(sentAt - since));
  }
}

/**
 * The writer's connections, kept alive. Plain node:http, not fetch: the writer shares this process
 * with autocannon's readers, and fetch cost it about 2.5 ms of CPU per order against 1 ms here
 * (measured at 50/s), CPU the readers of the row then lacked, whichever server was measured.
 */
const writerAgent = new http.Agent({ keepAlive: true });

function postOrder(url: string, token: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent: writerAgent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * placeOrder at `rate` per second from this process, one unit of a random writable product as a
 * random writer, until stopped. The timer sends whatever is due since the start, so a late tick
 * catches up and the rate holds however long the answers take.
 */
function startWriter(url: string, tokens: string[], products: number[], rate: number, acks: Acks, stocks: Stocks) {
  const ackTimes: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let failed = 0;
  let sent = 0;
  const place = async () => {
    const productId = products[Math.floor(Math.random() * products.length)]!;
    try {
      const token = tokens[Math.floor(Math.random() * tokens.length)]!;
      const response = await postOrder(url, token, JSON.stringify({ query: PLACE_ORDER, variables: { input: { items: [{ productId: String(productId), quantity: 1 }] } } }));
      if (response.status !== 200 || !goodData(response.text)) {
        failed += 1;
        return;
      }
      const at = performance.now();
      acks.record(productId, 1, at);
      stocks.taken(productId, 1);
      ackTimes.push(at);
    } catch {
      failed += 1;
    }
  };
  const startedAt = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * rate);
    for (; sent < due; sent += 1) {
      const placing = place().finally(() => inFlight.delete(placing));
      inFlight.add(placing);
    }
  }, WRITER_TICK_MS);
  return {
    acknowledgedBetween: (from: number, to: number) => ackTimes.filter((at) => at >= from && at < to).length,
    /** Stops sending and waits for every answer, so the next row starts with no order in flight. */
    async stop(): Promise<{ failed: number }> {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { failed };
    },
  };
}

interface ReadContext {
  /** 0 for an orders read. */
  productId: number;
  sentAt: number;
}

/**
 * The read mix for `seconds`: half anonymous product(id) for a random id, half the nested orders
 * as a random reader. Each connection's context carries its request's product id and send time
 * to its answer (autocannon sends one request per connection at a time, built by setupRequest
 * just before it is written, so the recorded time is never after the real one).
 */
function loadMix(url: string, options: MixedOptions, seconds: number, onProductRead?: (productId: number, sentAt: number, stock: number) => void) {
  let badReads = 0;
  return new Promise<{ result: Result; badReads: number }>((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        connections: CONNECTIONS,
        duration: seconds,
        requests: [
          {
            setupRequest: (request, context) => {
              const read = context as ReadContext;
              const isProduct = Math.random() < 0.5;
              read.productId = isProduct ? 1 + Math.floor(Math.random() * SIZES.products) : 0;
              read.sentAt = performance.now();
              return {
                ...request,
                body: isProduct ? JSON.stringify({ query: options.productQuery, variables: { id: String(read.productId) } }) : JSON.stringify({ query: options.ordersQuery }),
                headers: {
                  'content-type': 'application/json',
                  ...(isProduct ? {} : { authorization: `Bearer ${options.readerTokens[Math.floor(Math.random() * options.readerTokens.length)]}` }),
                },
              };
            },
            onResponse: (status, body, context) => {
              const read = context as ReadContext;
              const data = status === 200 ? goodData(body) : null;
              if (!data) badReads += 1;
              else if (read.productId) onProductRead?.(read.productId, read.sentAt, (data.product as { stock: number }).stock);
            },
          },
        ],
      },
      // Connection errors and timeouts never reach onResponse.
      (error, result) => (error ? reject(error) : resolve({ result, badReads: badReads + result.errors })),
    );
  });
}

/** The products an order may take a unit of: those with at least MIN_WRITABLE_STOCK left. */
function writableProducts(stocks: Map<number, number>): number[] {
  return [...stocks].filter(([, stock]) => stock >= MIN_WRITABLE_STOCK).map(([id]) => id);
}

/** What one window of reads at one write rate gave. */
interface MixedWindow {
  result: Result;
  badReads: number;
  failedWrites: number;
  /** Orders acknowledged while the reads were measured, and for how long they were. */
  acknowledged: number;
  measuredMs: number;
  productReads: number;
  staleReads: number;
  worstStaleMs: number | null;
  /** Response cache hits and lookups during the measured reads; null: the server reports none. */
  cache: { hits: number; lookups: number } | null;
}

/** Orders at `rate` from the window's start; reads measured for `seconds` after WINDOW_WARMUP_SECONDS. */
async function mixedWindow(target: MixedTarget, options: MixedOptions, rate: number, seconds: number): Promise<MixedWindow> {
  const initial = await options.stocks.current();
  const writable = writableProducts(initial);
  if (writable.length < MIN_WRITABLE_PRODUCTS) {
    throw new Error(`only ${writable.length} products have ${MIN_WRITABLE_STOCK} units left: reseed (delete .data/bench/*.seeded)`);
  }
  const acks = new Acks();
  const startedAt = performance.now();
  const writer = startWriter(target.url, options.writerTokens, writable, rate, acks, options.stocks);
  let measured: Omit<MixedWindow, 'failedWrites' | 'acknowledged'> & { from: number };
  let failedWrites: number;
  try {
    await loadMix(target.url, options, WINDOW_WARMUP_SECONDS);
    const checker = new StaleChecker(initial, acks, startedAt);
    const cacheBefore = await target.responseCache?.();
    const from = performance.now();
    const { result, badReads } = await loadMix(target.url, options, seconds, (productId, sentAt, stock) => checker.check(productId, sentAt, stock));
    const measuredMs = performance.now() - from;
    const cacheAfter = await target.responseCache?.();
    const cache =
      cacheBefore && cacheAfter
        ? { hits: cacheAfter.hits - cacheBefore.hits, lookups: cacheAfter.hits + cacheAfter.misses - cacheBefore.hits - cacheBefore.misses }
        : null;
    measured = { result, badReads, from, measuredMs, productReads: checker.reads, staleReads: checker.stale, worstStaleMs: checker.worstMs, cache };
  } finally {
    failedWrites = (await writer.stop()).failed;
  }
  const { from, ...window } = measured;
  return { ...window, failedWrites, acknowledged: writer.acknowledgedBetween(from, from + window.measuredMs) };
}


/** A row from its windows: rates over their whole measured time, counts summed, latencies the median window's. */
function mixedRowOf(server: string, rate: number, windows: MixedWindow[]): MixedRow {
  const measuredSeconds = sum(windows.map((window) => window.measuredMs)) / 1000;
  const caches = windows.map((window) => window.cache);
  const lookups = caches.includes(null) ? 0 : sum(caches.map((cache) => cache!.lookups));
  const worst = windows.map((window) => window.worstStaleMs).filter((ms): ms is number => ms !== null);
  return {
    server,
    targetWritesPerSecond: rate,
    writesPerSecond: Math.round((sum(windows.map((window) => window.acknowledged)) / measuredSeconds) * 10) / 10,
    failedWrites: sum(windows.map((window) => window.failedWrites)),
    readsPerSecond: Math.round(sum(windows.map((window) => window.result.requests.total)) / measuredSeconds),
    p50Ms: median(windows.map((window) => window.result.latency.p50)),
    p99Ms: median(windows.map((window) => window.result.latency.p99)),
    productReads: sum(windows.map((window) => window.productReads)),
    staleReads: sum(windows.map((window) => window.staleReads)),
    worstStaleMs: worst.length > 0 ? Math.max(...worst) : null,
    badReads: sum(windows.map((window) => window.badReads)),
    responseCacheHitRate: lookups > 0 ? Number((sum(caches.map((cache) => cache!.hits)) / lookups).toFixed(3)) : null,
  };
}

/**
 * Before a server's mixed rows: the read mix while orders come in at the highest rate of the rows,
 * unmeasured, so that what the rows measure is a server whose write path already runs optimised
 * code, as in a shop that has been taking orders for hours (without it the first row of writes
 * measured the JIT compiling that path: 0.62x then 0.72x and 0.68x of read-only at 50/s in one run).
 */
async function warmUpWrites(target: MixedTarget, options: MixedOptions): Promise<void> {
  const rate = Math.max(...MIXED_RATES);
  if (!(rate > 0)) return;
  const writable = writableProducts(await options.stocks.current());
  const writer = startWriter(target.url, options.writerTokens, writable, rate, new Acks(), options.stocks);
  try {
    await loadMix(target.url, options, WRITE_WARMUP_SECONDS);
  } finally {
    await writer.stop();
  }
}

/**
 * The mixed rows of one server, one per rate of BENCH_MIXED_RATES, after one warm-up of its write
 * path: MIXED_ROUNDS windows per rate, the rates taking turns (the order rotating each round), so
 * that the machine's drift weighs on every rate alike (a row is compared with the same server's
 * read-only row).
 */
export async function measureMixed(target: MixedTarget, options: MixedOptions): Promise<MixedRow[]> {
  await warmUpWrites(target, options);
  const rates = [...new Set(MIXED_RATES)];
  const windows = new Map<number, MixedWindow[]>(rates.map((rate) => [rate, []]));
  for (let round = 0; round < MIXED_ROUNDS; round++) {
    for (let turn = 0; turn < rates.length; turn++) {
      const rate = rates[(turn + round) % rates.length]!;
      windows.get(rate)!.push(await mixedWindow(target, options, rate, DURATION_SECONDS / MIXED_ROUNDS));
    }
  }
  const rows = rates.map((rate) => mixedRowOf(target.name, rate, windows.get(rate)!));
  for (const row of rows) console.log(JSON.stringify(row));
  return rows;
}

export function mixedMarkdown(rows: MixedRow[]): string {
  const lines = [
    '| placeOrder/s target | achieved | server | reads req/s | p50 ms | p99 ms | × read-only | × best fresh peer | stale reads | response cache hits | bad reads / failed writes |',
    '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ratio = (value: number, of: number | undefined) => (of ? (value / of).toFixed(2) : '—');
  for (const rate of new Set(MIXED_RATES)) {
    const ofRate = rows.filter((row) => row.targetWritesPerSecond === rate);
    const freshPeers = ofRate.filter((row) => !row.server.startsWith('streamgate') && row.staleReads === 0);
    const bestFreshPeer = freshPeers.length ? Math.max(...freshPeers.map((row) => row.readsPerSecond)) : undefined;
    for (const row of ofRate.sort((a, b) => b.readsPerSecond - a.readsPerSecond)) {
      const readOnly = rows.find((other) => other.server === row.server && other.targetWritesPerSecond === 0)?.readsPerSecond;
      const server = row.staleReads > 0 ? `${row.server} (stale)` : row.server;
      const hits = row.responseCacheHitRate === null ? '—' : `${(row.responseCacheHitRate * 100).toFixed(1)}%`;
      lines.push(
        `| ${rate} | ${row.writesPerSecond} | ${server} | ${row.readsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${ratio(row.readsPerSecond, readOnly)} | ${ratio(row.readsPerSecond, bestFreshPeer)} | ${row.staleReads} of ${row.productReads} | ${hits} | ${row.badReads} / ${row.failedWrites} |`,
      );
    }
  }
  return lines.join('\n');
}
