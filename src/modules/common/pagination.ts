// Relay-style cursor connections with keyset paging: a cursor is an opaque, versioned encoding of
// the last row's id, so a page costs one indexed range scan however deep it is.
import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { badUserInput } from '../../errors';
import { MAX_INTEGER_COLUMN } from './ids';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `Page size, 0 to ${MAX_PAGE_SIZE}. Default ${DEFAULT_PAGE_SIZE}.` })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Return the rows after this cursor (an `endCursor`).' })
  after?: string | null;
}

/** Page arguments after validation: `afterId` is the keyset position to continue from. */
export interface PageRequest {
  first: number;
  afterId: number | null;
}

export interface Page<Row> {
  rows: Row[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

const CURSOR_PREFIX = 'v1:';

export function encodeCursor(id: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const decoded = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const id = decoded.startsWith(CURSOR_PREFIX) ? Number(decoded.slice(CURSOR_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(id) || id < 1 || id > MAX_INTEGER_COLUMN) {
    throw badUserInput('`after` is not a valid cursor: pass an `endCursor` from an earlier page.', { argumentName: 'after' });
  }
  return id;
}

export function toPageRequest({ first, after }: PageArgs): PageRequest {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (size < 0 || size > MAX_PAGE_SIZE) {
    throw badUserInput(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}; got ${size}.`, { argumentName: 'first' });
  }
  return { first: size, afterId: after ? decodeCursor(after) : null };
}

/** Builds a page from up to `first + 1` fetched rows (the extra row only says there is more). */
export function toPage<Row>(fetched: Row[], request: PageRequest): Page<Row> {
  return {
    rows: fetched.slice(0, request.first),
    hasNextPage: fetched.length > request.first,
    hasPreviousPage: request.afterId !== null,
  };
}

@ObjectType({ description: 'Where a page sits in its list.' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field()
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export interface ConnectionShape<Node> {
  edges: Array<{ cursor: string; node: Node }>;
  pageInfo: PageInfo;
}

/** The GraphQL value of a page of rows that have ids. */
export function toConnection<Row extends { id: number }>(page: Page<Row>): ConnectionShape<Row> {
  const edges = page.rows.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * Declares `<Name>Edge` for a node type and returns the base of its connection type:
 * `@ObjectType() class ProductConnection extends Connection(Product, 'Product') {}`.
 */
export function Connection<Node extends object>(nodeType: ClassType<Node>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor!: string;

    @Field(() => nodeType)
    node!: Node;
  }

  @ObjectType()
  abstract class ConnectionType {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  return ConnectionType;
}
