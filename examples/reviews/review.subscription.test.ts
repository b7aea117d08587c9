// The reviews module's subscription over the gateway's real feed (Redis pub/sub, replay).
import { createTestGateway, type TestGateway } from 'streamgate/testing';
import { ADD_REVIEW, MY_REVIEW_ADDED } from './documents';
import { reviewsModule } from './reviews.module';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await createTestGateway({ modules: [reviewsModule] });
});
afterEach(() => gateway.reset());
afterAll(() => gateway?.close());

const review = (productId: number, rating: number) => ({ input: { productId: String(productId), rating, body: `${rating} stars` } });

test('an author hears their own reviews, and nobody else\'s', async () => {
  const [first, second] = [await gateway.fixtures.product(), await gateway.fixtures.product()];
  const alices = await gateway.subscribe(MY_REVIEW_ADDED, { as: 'alice' });

  await gateway.execute(ADD_REVIEW, { as: 'bob', variables: review(first.id, 2) });
  const added = await gateway.execute(ADD_REVIEW, { as: 'alice', variables: review(second.id, 5) });

  const heard = await alices.next();
  expect(heard.data?.myReviewAdded.review).toEqual({ id: added.data?.addReview.id, rating: 5 });
  // Bob's review was published before Alice's: had it been delivered, it would have come first.
  expect(alices.received).toHaveLength(1);
});

test('`after` replays the reviews published since a cursor', async () => {
  const products = [await gateway.fixtures.product(), await gateway.fixtures.product(), await gateway.fixtures.product()];
  const live = await gateway.subscribe(MY_REVIEW_ADDED, { as: 'bob' });
  for (const [index, product] of products.entries()) await gateway.execute(ADD_REVIEW, { as: 'bob', variables: review(product.id, index + 1) });
  const [first] = await live.next(3);

  const resumed = await gateway.subscribe(MY_REVIEW_ADDED, { as: 'bob', variables: { after: first!.data!.myReviewAdded.cursor } });
  const replayed = await resumed.next(2);
  expect(replayed.map((result) => result.data?.myReviewAdded.review.rating)).toEqual([2, 3]);
});

test('an anonymous subscriber is refused', async () => {
  const anonymous = await gateway.subscribe(MY_REVIEW_ADDED);
  expect(await anonymous.next()).toHaveGraphQLError('UNAUTHENTICATED');
});
