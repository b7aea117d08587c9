// The operations the tests run, typed as codegen's client preset would type them (a team that runs
// `npm run codegen` on its documents gets these types generated; written by hand here to keep the
// example self-contained). A TypedDocument types `execute`'s result and variables.
import { parse } from 'graphql';
import type { TypedDocument } from 'streamgate/testing';

interface ReviewFields {
  id: string;
  rating: number;
  body: string;
  product: { id: string; name: string };
}

export const ADD_REVIEW: TypedDocument<{ addReview: ReviewFields }, { input: { productId: string; rating: number; body: string } }> = parse(`
  mutation AddReview($input: AddReviewInput!) {
    addReview(input: $input) { id rating body product { id name } }
  }
`);

export const REVIEWS: TypedDocument<{ reviews: ReviewFields[] }, { productId: string }> = parse(`
  query Reviews($productId: ID!) {
    reviews(productId: $productId) { id rating body product { id name } }
  }
`);

export const PRODUCT_WITH_REVIEWS: TypedDocument<{ product: { id: string; reviews: Array<{ id: string; rating: number }> } | null }, { id: string }> = parse(`
  query ProductWithReviews($id: ID!) {
    product(id: $id) { id reviews { id rating } }
  }
`);

export const MY_REVIEW_ADDED: TypedDocument<{ myReviewAdded: { cursor: string; review: { id: string; rating: number } } }, { after?: string | null }> = parse(`
  subscription MyReviewAdded($after: String) {
    myReviewAdded(after: $after) { cursor review { id rating } }
  }
`);
