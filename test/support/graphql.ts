// GraphQL over HTTP, the one way the tests do it: a POST of `{ query, variables }` to a gateway's
// URL (an in-process gateway's or a child process's) with an optional bearer token, answering the
// status and the parsed `{ data, errors }`. On top: `mutate` for "this must succeed, give me the
// data", `onlyError` for "this must fail with one error", and logins.
import { demoAccounts, generatedUserPassword } from '../../src/db/seed';

/** Where operations go: a URL, or anything with one (TestGateway, GatewayProcess). */
export type Endpoint = string | { url: string };

export interface GraphQLErrorBody {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface GraphQLResponse<Data> {
  status: number;
  body: { data?: Data | null; errors?: GraphQLErrorBody[] };
}

export interface GraphQLRequestOptions {
  variables?: Record<string, unknown>;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Extra request headers (they override the defaults). */
  headers?: Record<string, string>;
}

/** A client bound to one endpoint, and optionally one session. */
export interface GraphQLClient {
  url: string;
  request<Data = Record<string, unknown>>(query: string, options?: GraphQLRequestOptions): Promise<GraphQLResponse<Data>>;
  /** The data of an operation that must succeed; throws with the whole answer otherwise. */
  data<Data = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<Data>;
}

const LOGIN = 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }';

export const urlOf = (endpoint: Endpoint): string => (typeof endpoint === 'string' ? endpoint : endpoint.url);

/** POSTs one operation; any status is answered (the body must be JSON). */
export async function postGraphQL<Data = Record<string, unknown>>(
  endpoint: Endpoint,
  query: string,
  options: GraphQLRequestOptions = {},
): Promise<GraphQLResponse<Data>> {
  const response = await fetch(urlOf(endpoint), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse<Data>['body'] };
}

/** Sends `query` and returns its data; throws with the whole answer if anything went wrong. */
export async function mutate<Data>(endpoint: Endpoint, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Data> {
  const { status, body } = await postGraphQL<Data>(endpoint, query, { variables, token });
  if (status !== 200 || body.errors || !body.data) throw new Error(`operation failed at ${urlOf(endpoint)}: ${status} ${JSON.stringify(body)}\n${query}`);
  return body.data;
}

export function graphqlClient(endpoint: Endpoint, token?: string): GraphQLClient {
  const url = urlOf(endpoint);
  return {
    url,
    request: (query, options = {}) => postGraphQL(url, query, { token, ...options }),
    data: (query, variables = {}) => mutate(url, query, variables, token),
  };
}

/** The single error's code, message and extensions, or a description of what came back instead. */
export function onlyError(response: GraphQLResponse<unknown>) {
  const errors = response.body.errors ?? [];
  if (errors.length !== 1) throw new Error(`expected exactly one error, got ${JSON.stringify(response.body)}`);
  const [error] = errors as [GraphQLErrorBody];
  return { code: error.extensions?.code, message: error.message, extensions: error.extensions ?? {} };
}

/** A session token; throws with the errors when the login is refused. */
export async function login(endpoint: Endpoint, email: string, password: string): Promise<string> {
  const { body } = await postGraphQL<{ login: { token: string } }>(endpoint, LOGIN, { variables: { email, password } });
  if (!body.data?.login) throw new Error(`login failed: ${JSON.stringify(body.errors)}`);
  return body.data.login.token;
}

/** Session tokens of the three demo accounts (admin, alice, bob; see src/db/seed.ts). */
export async function loginDemoAccounts(endpoint: Endpoint): Promise<{ admin: string; alice: string; bob: string }> {
  const [admin, alice, bob] = await Promise.all(demoAccounts.slice(0, 3).map((account) => login(endpoint, account.email, account.password)));
  return { admin: admin!, alice: alice!, bob: bob! };
}

/** Logs in the seeded (non-demo) users with these ids; returns their tokens in the same order. */
export function loginGeneratedUsers(endpoint: Endpoint, userIds: number[]): Promise<string[]> {
  return Promise.all(userIds.map((id) => login(endpoint, `user${id}@example.com`, generatedUserPassword)));
}
