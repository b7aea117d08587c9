// The media type of a single GraphQL result, chosen as Apollo chooses it (its
// chooseContentTypeForSingleResultResponse: the same types, in the same order of preference), for
// the answers the gateway writes itself: a cached answer, and the errors it refuses a request with
// before Apollo runs. A client of GraphQL over HTTP that accepts only
// application/graphql-response+json gets it for those too, as it does from Apollo.
import Negotiator from 'negotiator';

const SINGLE_RESULT_TYPES = ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'];
const [JSON_TYPE, GRAPHQL_RESPONSE_TYPE] = SINGLE_RESULT_TYPES as [string, string, string];
/** Accept headers seen, with their type (clients send few distinct ones). */
const typeByAccept = new Map<string, string | null>();
const ACCEPT_HEADERS_KEPT = 100;

/**
 * The type of a single result for a request with this Accept header; null when only Apollo can
 * answer it (a 406 for a client that accepts neither JSON type, or the callback protocol).
 */
export function singleResultType(accept: string | undefined): string | null {
  if (!accept) return JSON_TYPE;
  let type = typeByAccept.get(accept);
  if (type === undefined) {
    const chosen = new Negotiator({ headers: { accept } }).mediaType(SINGLE_RESULT_TYPES);
    type = chosen === JSON_TYPE || chosen === GRAPHQL_RESPONSE_TYPE ? chosen : null;
    if (typeByAccept.size >= ACCEPT_HEADERS_KEPT) typeByAccept.clear();
    typeByAccept.set(accept, type);
  }
  return type;
}

/** The type of an error the gateway answers itself: as Apollo would choose, else JSON (a refusal goes out whatever was accepted). */
export const errorResultType = (accept: string | undefined): string => singleResultType(accept) ?? JSON_TYPE;
