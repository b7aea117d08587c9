// The write path's GraphQL documents (orders, catalog, profile) with the shapes they answer, and
// placeOrder(), the one mutation most tests send with arguments of their own.
import { postGraphQL, type Endpoint } from './graphql';

export const ORDER_FIELDS = 'id status totalCents createdAt updatedAt';

export const PLACE_ORDER = `mutation ($input: PlaceOrderInput!, $idempotencyKey: String) {
  placeOrder(input: $input, idempotencyKey: $idempotencyKey) { ${ORDER_FIELDS} }
}`;
export const PAY_ORDER = `mutation ($id: ID!) { payOrder(id: $id) { ${ORDER_FIELDS} } }`;
export const SHIP_ORDER = `mutation ($id: ID!) { shipOrder(id: $id) { ${ORDER_FIELDS} } }`;
export const CANCEL_ORDER = `mutation ($id: ID!) { cancelOrder(id: $id) { ${ORDER_FIELDS} } }`;
export const RESTOCK_PRODUCT = 'mutation ($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { id name stock updatedAt } }';
export const UPDATE_PRODUCT =
  'mutation ($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name description priceCents stock updatedAt } }';
export const UPDATE_PROFILE = 'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { id name email } }';

export interface OrderData {
  id: string;
  status: string;
  totalCents: number;
  createdAt: string;
  updatedAt: string;
}

export interface LineInput {
  productId: string;
  quantity: number;
}

/** One line of `quantity` units of product `productId`. */
export const line = (productId: number | string, quantity = 1): LineInput => ({ productId: String(productId), quantity });

export function placeOrder(endpoint: Endpoint, token: string | undefined, items: LineInput[], idempotencyKey?: string | null) {
  return postGraphQL<{ placeOrder: OrderData }>(endpoint, PLACE_ORDER, { variables: { input: { items }, idempotencyKey }, token });
}
