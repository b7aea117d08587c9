// Peer: plain Apollo Server 5 with per-request DataLoaders and no cache, what most teams run.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { announceReady, createLoaders, dataLoaderResolvers, openData, openRedis, port, typeDefs, viewerId, type DataLoaderContext } from './common';

async function main(): Promise<void> {
  const data = await openData();
  const redis = openRedis();
  const server = new ApolloServer<DataLoaderContext>({ typeDefs, resolvers: dataLoaderResolvers(data) });
  await startStandaloneServer(server, {
    listen: { port: port(), host: '127.0.0.1' },
    context: async ({ req }) => ({ viewerId: await viewerId(redis, data, req.headers.authorization), loaders: createLoaders(data) }),
  });
  announceReady('apollo');
}

void main();
