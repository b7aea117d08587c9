// How a frontend uses the documents `npm run codegen` generates from schema/operations into gql/.
// Never run: test/integration/codegen.test.ts and `npm run typecheck:examples` type-check it against
// freshly generated output, so the annotations and `@ts-expect-error` lines below are checks on the
// generated types. Requests send only the document's id (`documentId`): the gateway looks the text
// up in gql/persisted-documents.json, which it loads with GRAPHQL_TRUSTED_DOCUMENTS.
import type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import { graphql } from './gql';
import type { Client } from 'graphql-ws';
import { subscribeResumable, type ResumableSubscription } from './resumable-subscription';
import {
  LoginDocument,
  MyOrderEventsDocument,
  MyOrdersDocument,
  ProductsDocument,
  ServerTimeDocument,
  type OrderStatus,
  type ProductFieldsFragment,
} from './gql/graphql';

const GATEWAY_URL = 'http://localhost:4000/graphql';

/** Documents whose variables are all optional (or that have none) may be sent without any. */
type VariablesArgument<TVariables> =
  Record<string, never> extends TVariables ? [variables?: TVariables] : [variables: TVariables];

interface GraphQLResponse<TResult> {
  data?: TResult | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/**
 * The id codegen gave the document (`sha256:<hex>` of its normalized text, the key it has in
 * persisted-documents.json). Generated documents carry it in `__meta__`, which the DocumentNode
 * type does not declare.
 */
export function documentIdOf(document: DocumentNode): string {
  const meta: unknown = (document as { __meta__?: unknown }).__meta__;
  const hash = typeof meta === 'object' && meta !== null && 'hash' in meta ? meta.hash : undefined;
  if (typeof hash !== 'string') throw new Error('This document has no persisted id: was it generated with persistedDocuments on?');
  return hash;
}

/**
 * POSTs one operation by its id alone (the body stays small, and the id is what the gateway's
 * trusted documents are keyed by); the result and variables types come from the document itself.
 */
export async function request<TResult, TVariables>(
  document: TypedDocumentNode<TResult, TVariables>,
  token: string | null,
  ...[variables]: VariablesArgument<TVariables>
): Promise<TResult> {
  const response = await fetch(GATEWAY_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ documentId: documentIdOf(document), variables }),
  });
  const body = (await response.json()) as GraphQLResponse<TResult>;
  const [firstError] = body.errors ?? [];
  if (firstError) throw new Error(`${firstError.extensions?.code ?? 'ERROR'}: ${firstError.message}`);
  if (body.data == null) throw new Error(`Empty response (HTTP ${response.status})`);
  return body.data;
}

export async function login(email: string, password: string): Promise<{ token: string; expiresAt: Date }> {
  const { login: session } = await request(LoginDocument, null, { email, password });
  // DateTimeISO arrives as a string (codegen.yml maps the scalar).
  const expiresAtIso: string = session.expiresAt;
  return { token: session.token, expiresAt: new Date(expiresAtIso) };
}

/** Takes the query's result type rather than a hand-written copy of it. */
export function formatProductPage(result: ResultOf<typeof ProductsDocument>): string[] {
  return result.products.edges.map(({ node }) => `${node.sku} ${node.name}: ${formatCents(node.priceCents)}`);
}

export async function firstProductPriceCents(search: string): Promise<number | null> {
  const variables: VariablesOf<typeof ProductsDocument> = { first: 1, search };
  const result = await request(ProductsDocument, null, variables);
  const priceCents: number | undefined = result.products.edges[0]?.node.priceCents;
  // @ts-expect-error ProductFields does not select `updatedAt`; only the Product query adds it.
  const _updatedAt = result.products.edges[0]?.node.updatedAt;
  return priceCents ?? null;
}

/** Walks every page of a search, following `endCursor` while `hasNextPage`. */
export async function searchAllProducts(search: string): Promise<ProductFieldsFragment[]> {
  const products: ProductFieldsFragment[] = [];
  let after: string | null = null;
  do {
    const page: ResultOf<typeof ProductsDocument> = await request(ProductsDocument, null, {
      first: 100,
      after,
      search,
    });
    products.push(...page.products.edges.map(({ node }) => node));
    after = page.products.pageInfo.hasNextPage ? page.products.pageInfo.endCursor : null;
  } while (after !== null);
  return products;
}

export function describeStatus(status: OrderStatus): string {
  switch (status) {
    case 'PENDING':
      return 'awaiting payment';
    case 'PAID':
      return 'paid, not yet shipped';
    case 'SHIPPED':
      return 'on its way';
    case 'CANCELLED':
      return 'cancelled';
    default: {
      // A status added to the schema breaks this build until the frontend handles it.
      const unhandled: never = status;
      throw new Error(`Unknown order status ${String(unhandled)}`);
    }
  }
}

export async function myShippedOrderLines(token: string): Promise<string[]> {
  const { orders } = await request(MyOrdersDocument, token, { first: 20, status: 'SHIPPED' });
  return orders.edges.flatMap(({ node: order }) =>
    order.items.map(
      (item) =>
        `${order.user.name}: ${item.quantity} x ${item.product.name} at ${formatCents(item.unitPriceCents)}` +
        ` (${describeStatus(order.status)})`,
    ),
  );
}

/** What a graphql-ws `next` handler for the ServerTime subscription receives. */
export function onServerTime(event: ResultOf<typeof ServerTimeDocument>): Date {
  return new Date(event.serverTime);
}

type MyOrderEvent = ResultOf<typeof MyOrderEventsDocument>['myOrders'];

/**
 * A live list of the viewer's orders that survives reconnects: `after` is the cursor kept from
 * last time (or null), and every event's order arrives fully typed.
 */
export function watchMyOrders(client: Client, after: string | null, render: (event: MyOrderEvent) => void): ResumableSubscription {
  return subscribeResumable<MyOrderEvent>(client, {
    query: print(MyOrderEventsDocument),
    field: 'myOrders',
    after,
    onEvent: (event) => render(event),
    // CURSOR_EXPIRED: the events after `after` are gone. Refetch the list, then watch from now.
    onError: (errors) => console.warn(errors.map((error) => error.extensions?.code ?? error.message).join(', ')),
  });
}

/** Mistakes the generated types turn into compile errors. */
export function compileTimeChecks(token: string): void {
  // @ts-expect-error Login's variables are required.
  void request(LoginDocument, null);
  // @ts-expect-error enums are string unions (enumsAsTypes), and SHIPPING is not an OrderStatus.
  void request(MyOrdersDocument, token, { status: 'SHIPPING' });
  // Inline documents are typed only once codegen reads them (these examples keep theirs in
  // schema/operations), so an unknown one comes back as `unknown`, never `any`.
  const inline = graphql('query Inline { me { id } }');
  // @ts-expect-error `inline` is unknown.
  void inline.definitions;
}

function formatCents(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}
