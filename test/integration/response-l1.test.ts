// Whole responses held in each replica's memory (src/cache/response-l1.ts), across two replicas
// sharing Redis and the database: a repeated query is answered from memory without a Redis
// lookup; a write acknowledged on A is never answered old on B, even when B has not heard the
// write's invalidation message yet (B's subscriber connection is held back: the PING that must
// precede a served copy cannot answer, so B reads Redis); a write to anything else leaves the copy
// served; and once the messages flow again the copy is dropped.
import type { Redis } from 'ioredis';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { loginDemoAccounts, mutate } from '../support/graphql';
import { UPDATE_PRODUCT } from '../support/documents';
import type { TestGateway } from '../support/gateway';

let pair: TwoGateways;
let tokens: { admin: string };

beforeAll(async () => {
  pair = await startTwoGateways({ seed: { users: 5, products: 10, orders: 5 } });
  tokens = await loginDemoAccounts(pair.a);
});

afterAll(async () => {
  await pair?.stop();
});

const heldHits = (gateway: TestGateway) => gateway.app.responseCache!.l1!.hits;

async function nameOn(gateway: TestGateway, id: string): Promise<string> {
  const response = await gateway.graphql(`{ product(id: "${id}") { id name } }`);
  await gateway.app.responseCache!.settled();
  return (response.body as { data: { product: { name: string } } }).data.product.name;
}

async function rename(id: string, name: string): Promise<void> {
  await mutate(pair.a, UPDATE_PRODUCT, { id, input: { name } }, tokens.admin);
}

it('answers a repeated query from memory, and a write on A at once on B though B has not heard of it yet', async () => {
  const { b } = pair;
  await rename('4', 'before');
  await nameOn(b, '4');
  const before = heldHits(b);
  expect(await nameOn(b, '4')).toBe('before');
  // Not vacuous: B answered it from memory.
  expect(heldHits(b)).toBe(before + 1);

  // B hears no message (nor a PONG) until its subscriber connection is read again.
  const subscriberSocket = (b.app.redisConnections.subscriber as unknown as Redis).stream;
  subscriberSocket.pause();
  try {
    await rename('4', 'after');
    expect(await nameOn(b, '4')).toBe('after');
    expect(heldHits(b)).toBe(before + 1);
  } finally {
    subscriberSocket.resume();
  }
  // The next copies are held and served again, and are the new ones.
  await nameOn(b, '4');
  expect(await nameOn(b, '4')).toBe('after');
  expect(heldHits(b)).toBeGreaterThan(before + 1);
});

it('keeps serving a copy from memory when a write changes something it did not read', async () => {
  const { b } = pair;
  await nameOn(b, '6');
  await nameOn(b, '6');
  const name = await nameOn(b, '6');
  const before = heldHits(b);
  await rename('7', `renamed ${Date.now()}`);
  expect(await nameOn(b, '6')).toBe(name);
  expect(heldHits(b)).toBe(before + 1);
  // Control: a write to product 6 is not answered from memory.
  await rename('6', `renamed ${Date.now()}`);
  expect(await nameOn(b, '6')).not.toBe(name);
  expect(heldHits(b)).toBe(before + 1);
});
