// graphql-ws on the same port and path as HTTP. The session is checked once, at connection_init
// (a bad token closes the socket with 4403); every operation then gets fresh loaders, the same
// parse/validation limits as HTTP, and the same error masking.
import type { Server as HttpServer } from 'node:http';
import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type ExecutionResult, type FormattedExecutionResult, type GraphQLSchema, type ValidationRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { RequestInfo } from '../auth/viewer';
import type { Authentication } from './auth-header';
import { formatError } from './format-error';

export interface WebSocketOptions<Context> {
  httpServer: HttpServer;
  path: string;
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  maxTokens: number;
  /** Resolves connectionParams.authorization; throws for a bad token. */
  authenticate(authorization: unknown): Promise<Authentication>;
  /** A fresh context for one operation of an authenticated socket. */
  createContext(authentication: Authentication, request: RequestInfo): Context;
}

interface SocketState {
  authentication?: Authentication;
}

export function attachWebSocketServer<Context>(options: WebSocketOptions<Context>) {
  const wsServer = new WebSocketServer({ server: options.httpServer, path: options.path });
  const rules = [...specifiedRules, ...options.validationRules];
  const states = new WeakMap<object, SocketState>();
  let operationCount = 0;

  const maskErrors = (result: ExecutionResult): FormattedExecutionResult | undefined =>
    result.errors?.length
      ? { ...result, errors: result.errors.map((error) => formatError(error.toJSON(), error)) }
      : undefined;

  const disposable = useServer(
    {
      connectionInitWaitTimeout: 3000,
      onConnect: async (ctx) => {
        try {
          const authentication = await options.authenticate(ctx.connectionParams?.authorization);
          states.set(ctx.extra.socket, { authentication });
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: (ctx, id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: options.maxTokens });
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('Invalid GraphQL document.')];
        }
        const errors = validate(options.schema, document, rules);
        if (errors.length) return errors;
        const authentication = states.get(ctx.extra.socket)?.authentication ?? { viewer: null, sessionToken: null };
        operationCount += 1;
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: options.createContext(authentication, {
            requestId: `ws-${id}-${operationCount}`,
            clientAddress: ctx.extra.request.socket.remoteAddress ?? 'unknown',
          }),
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => maskErrors(result),
    },
    wsServer,
  );

  return {
    wsServer,
    /** Closes every socket with 1001 (Going Away), so clients reconnect elsewhere and resume. */
    async close(): Promise<void> {
      for (const socket of wsServer.clients) socket.close(1001, 'Server shutting down');
      await disposable.dispose();
    },
  };
}
