// Peer: GraphQL Yoga with per-request DataLoaders and its response cache on Redis
// (@graphql-yoga/plugin-response-cache + @envelop/response-cache-redis), sessions per viewer. A
// mutation invalidates the cached responses that hold an entity its result returns (the plugin's
// `invalidateViaMutation`, on by default): placeOrder's selection includes its products' ids.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createRedisCache } from '@envelop/response-cache-redis';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import { createSchema, createYoga } from 'graphql-yoga';
import { announceReady, createLoaders, dataLoaderResolvers, invalidatesOnWrite, openData, openRedis, port, typeDefs, viewerId, type DataLoaderContext } from './common';

async function main(): Promise<void> {
  const data = await openData();
  const redis = openRedis();
  const yoga = createYoga<object, DataLoaderContext>({
    schema: createSchema<DataLoaderContext>({ typeDefs, resolvers: dataLoaderResolvers(data) }),
    context: async ({ request }) => ({
      viewerId: await viewerId(redis, data, request.headers.get('authorization') ?? undefined),
      loaders: createLoaders(data),
    }),
    plugins: [
      useResponseCache({
        cache: createRedisCache({ redis }),
        ttl: 300_000,
        invalidateViaMutation: invalidatesOnWrite(),
        session: (request) => request.headers.get('authorization'),
        // Orders are the viewer's own: one cached response per session. A product is public:
        // one cached response for everyone.
        buildResponseCacheKey: ({ documentString, variableValues, sessionId }) =>
          createHash('sha256')
            .update(JSON.stringify([documentString, variableValues, documentString.includes('orders') ? sessionId : null]))
            .digest('hex'),
      }),
    ],
    logging: false,
    maskedErrors: true,
  });
  createServer(yoga).listen(port(), '127.0.0.1', () => announceReady('yoga'));
}

void main();
