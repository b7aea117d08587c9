// The reviews module's queries and mutation, through the real gateway (schema, cache, outbox):
// what a team writes for its own module with streamgate/testing.
import { createTestGateway, type TestGateway } from 'streamgate/testing';
import { ADD_REVIEW, PRODUCT_WITH_REVIEWS, REVIEWS } from './documents';
import { reviewsModule } from './reviews.module';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await createTestGateway({ modules: [reviewsModule] });
});
afterEach(() => gateway.reset());
afterAll(() => gateway?.close());

test('customers review a product, and everyone reads the reviews, newest first', async () => {
  const product = await gateway.fixtures.product({ name: 'Reviewed Kettle' });
  const added = await gateway.execute(ADD_REVIEW, { as: 'alice', variables: { input: { productId: String(product.id), rating: 4, body: 'Boils fast.' } } });
  expect(added.errors).toBeUndefined();
  expect(added.data?.addReview).toEqual({ id: expect.any(String), rating: 4, body: 'Boils fast.', product: { id: String(product.id), name: 'Reviewed Kettle' } });

  await gateway.execute(ADD_REVIEW, { as: 'bob', variables: { input: { productId: String(product.id), rating: 2, body: 'Too loud.' } } });

  const listed = await gateway.execute(REVIEWS, { variables: { productId: String(product.id) } });
  expect(listed.data?.reviews.map((review) => review.body)).toEqual(['Too loud.', 'Boils fast.']);
});

test('the mutation writes ReviewAdded through the outbox', async () => {
  const product = await gateway.fixtures.product();
  const added = await gateway.execute(ADD_REVIEW, { as: 'bob', variables: { input: { productId: String(product.id), rating: 5, body: 'Great.' } } });
  const reviewId = Number(added.data?.addReview.id);
  expect(await gateway.events('catalog')).toHavePublished({ type: 'REVIEW_ADDED', data: { reviewId, productId: product.id, userId: 3, rating: 5 } });
});

test('a cached list is invalidated by the next review (read-your-writes through the cache)', async () => {
  const product = await gateway.fixtures.product();
  const productId = String(product.id);
  // Read once: the empty list is now cached in Redis.
  expect((await gateway.execute(PRODUCT_WITH_REVIEWS, { variables: { id: productId } })).data?.product?.reviews).toEqual([]);
  await gateway.execute(ADD_REVIEW, { as: 'alice', variables: { input: { productId, rating: 3, body: 'Fine.' } } });
  expect((await gateway.execute(PRODUCT_WITH_REVIEWS, { variables: { id: productId } })).data?.product?.reviews).toEqual([{ id: expect.any(String), rating: 3 }]);
});

test('errors carry the codes clients branch on', async () => {
  const product = await gateway.fixtures.product();
  const input = { productId: String(product.id), rating: 5, body: 'Twice?' };
  expect(await gateway.execute(ADD_REVIEW, { variables: { input } })).toHaveGraphQLError('UNAUTHENTICATED');
  expect(await gateway.execute(ADD_REVIEW, { as: 'alice', variables: { input: { ...input, productId: '999999' } } })).toHaveGraphQLError('NOT_FOUND');
  expect(await gateway.execute(ADD_REVIEW, { as: 'alice', variables: { input: { ...input, rating: 6 } } })).toHaveGraphQLError('BAD_USER_INPUT');
  expect((await gateway.execute(ADD_REVIEW, { as: 'alice', variables: { input } })).errors).toBeUndefined();
  expect(await gateway.execute(ADD_REVIEW, { as: 'alice', variables: { input } })).toHaveGraphQLError('CONFLICT');
});

test('reset() took the previous tests\' reviews away', async () => {
  const events = await gateway.events('catalog');
  expect(events).toEqual([]);
  // Product 1 is seeded: no test reviewed it, and no review survives a reset anyway.
  expect((await gateway.execute(REVIEWS, { variables: { productId: '1' } })).data?.reviews).toEqual([]);
});
