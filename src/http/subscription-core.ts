// What every subscription transport does with one operation, whatever carries it (graphql-ws
// separates its core from `use/ws` the same way): parse and validate it with the HTTP limits,
// build its context, admit its cost, and shape what it sends back (error masking, the response
// size limit). websocket.ts and sse.ts are thin adapters over this: they own connections,
// authentication of a connection and framing, never the rules, so neither is the cheaper way in.
// It lives under http/ (not subscriptions/) because the rules it applies are http/'s: imports stay one-way.
// A `query @live` is admitted here like a subscription (same limits, same cost admission) and its
// `execute` streams its results (live-operations.ts).
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  execute,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  OperationTypeNode,
  type ValidationRule,
} from 'graphql';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import type { RequestInfo } from '../auth/viewer';
import { AppError, ErrorCode } from '../errors';
import type { SubscriberSocket } from '../subscriptions/subscription-feeds';
import type { Authentication } from './auth-header';
import type { CostGate } from './cost';
import { createErrorFormatter, INTERNAL_ERROR_MESSAGE } from './format-error';
import { exceedsJsonBytes, responseTooLarge } from './response-size';
import { resumeAfterCursor } from './resume-after';
import { liveDirectiveOf } from '../live/live-directive';
import type { LiveOperations } from './live-operations';
import { SharedEventResults } from './shared-event-results';

export interface SubscriptionCoreOptions<Context> {
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  maxTokens: number;
  /** Off: `__schema`/`__type` are validation errors and "Did you mean …?" hints are dropped, as over HTTP. */
  isIntrospectionEnabled: boolean;
  /** Largest result sent (GRAPHQL_MAX_RESPONSE_BYTES, as over HTTP); a bigger one becomes RESPONSE_TOO_LARGE. */
  maxResponseBytes: number;
  /** Hears each result that was replaced. @default none */
  onResponseTooLarge?(): void;
  /** The same operation cost limit and budget as HTTP (cost.ts). */
  costGate: CostGate;
  /** Whose cost budget an operation of this context draws on. */
  costSubjectOf(context: Context): string;
  /** A fresh context for one operation. */
  createContext(authentication: Authentication, request: RequestInfo, socket?: SubscriberSocket): Context;
  /** Runs `query @live` operations; absent: @live is ignored (one result). @default none */
  liveOperations?: LiveOperations;
}

/** One operation as a client sends it, its document already resolved to text. */
export interface OperationPayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/** Who sends the operation, as the transport knows it. */
export interface OperationOrigin {
  authentication: Authentication;
  /** Called once the operation is valid (so refused ones use no request id). */
  requestInfo(): RequestInfo;
  /** The connection the operation's feed belongs to (resume budget, slow consumer). */
  socket: SubscriberSocket;
  /** Operation types this transport runs; another is BAD_REQUEST. @default all */
  allowedOperations?: readonly OperationTypeNode[];
  /** A cursor that replaces the root field's `after` argument (SSE's Last-Event-ID). @default none */
  resumeAfter?: string;
}

/** Parse and validation errors with the extensions.code Apollo gives the same errors over HTTP. */
function withCode(error: GraphQLError, code: ApolloServerErrorCode): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code },
  });
}

/** Errors a subscription's event stream threw reach graphql-ws wrapped: unwrap ours. */
function unwrapStreamError(error: GraphQLError): GraphQLError {
  return error.originalError instanceof GraphQLError ? error.originalError : error;
}

/** The root field a subscription operation selects (validation allows exactly one). */
export function subscriptionFieldOf(document: DocumentNode, operationName: string | null | undefined): string | undefined {
  const operation = getOperationAST(document, operationName);
  const first = operation?.operation === 'subscription' ? operation.selectionSet.selections[0] : undefined;
  return first?.kind === Kind.FIELD ? first.name.value : undefined;
}

export function createSubscriptionCore<Context>(options: SubscriptionCoreOptions<Context>) {
  const rules = [
    ...specifiedRules,
    ...options.validationRules,
    ...(options.isIntrospectionEnabled ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const formatError = createErrorFormatter({ hideSuggestions: !options.isIntrospectionEnabled });

  const maskErrors = (result: ExecutionResult): FormattedExecutionResult | undefined =>
    result.errors?.length
      ? { ...result, errors: result.errors.map((error) => formatError(error.toJSON(), error)) }
      : undefined;
  const sharedResults = new SharedEventResults();
  /** formatNext's work per result: a shared result is measured and masked once for all its subscribers. */
  const formattedResults = new WeakMap<ExecutionResult, { replacement: FormattedExecutionResult | undefined; isTooLarge: boolean }>();

  return {
    /** The arguments to subscribe with, or the errors refusing the operation (parse, validation, cost, budget). */
    async prepare(payload: OperationPayload, origin: OperationOrigin): Promise<ExecutionArgs | readonly GraphQLError[]> {
      let document: DocumentNode;
      try {
        document = parse(payload.query, { maxTokens: options.maxTokens });
      } catch (error) {
        return [withCode(error instanceof GraphQLError ? error : new GraphQLError('Invalid GraphQL document.'), ApolloServerErrorCode.GRAPHQL_PARSE_FAILED)];
      }
      const errors = validate(options.schema, document, rules);
      if (errors.length) return errors.map((error) => withCode(error, ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED));
      const operation = getOperationAST(document, payload.operationName);
      const live = options.liveOperations && liveDirectiveOf(document, payload.operationName, payload.variables);
      // A live query streams like a subscription, so it goes wherever one does.
      const kind = live ? OperationTypeNode.SUBSCRIPTION : operation?.operation;
      if (origin.allowedOperations && operation && kind && !origin.allowedOperations.includes(kind)) {
        const allowed = origin.allowedOperations.join(' and ');
        return [new AppError(ErrorCode.BadRequest, `Only ${allowed} operations (and live queries) run here; send a ${operation.operation} as a plain HTTP request (Accept: application/json).`)];
      }
      const liveKey = live ? options.liveOperations!.keyOf(document, payload, origin.authentication) : undefined;
      if (liveKey instanceof GraphQLError) return [liveKey];
      if (origin.resumeAfter !== undefined && !live) document = resumeAfterCursor(options.schema, document, payload.operationName, origin.resumeAfter);
      const request = origin.requestInfo();
      const contextValue = options.createContext(origin.authentication, request, origin.socket);
      try {
        await options.costGate.admit({ document, operationName: payload.operationName, variables: payload.variables }, options.costSubjectOf(contextValue));
      } catch (error) {
        if (error instanceof GraphQLError) return [error];
        throw error;
      }
      if (live && liveKey !== undefined) {
        options.liveOperations!.remember(contextValue, { ...liveKey, throttleMs: live.throttleMs, patch: live.patch, authentication: origin.authentication, request });
      } else if (kind === OperationTypeNode.SUBSCRIPTION) {
        const { viewer } = origin.authentication;
        const viewerScope = viewer ? `${viewer.id}:${viewer.role}` : 'anonymous';
        sharedResults.remember(contextValue, { ...payload, resumeAfter: origin.resumeAfter, viewerScope });
      }
      return { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
    },

    /** graphql-ws's subscribe: the operation's source events, identical subscriptions sharing each live event's execution. */
    subscribe(args: ExecutionArgs) {
      return sharedResults.subscribe(args);
    },

    /** One source event of a subscription as its result (shared by identical subscriptions when live). */
    executeEvent(args: ExecutionArgs, sourceEvent: unknown) {
      return sharedResults.execute(args, sourceEvent);
    },

    /** Executes prepared arguments: a live query's results as they change, else one result. */
    execute(args: ExecutionArgs) {
      return options.liveOperations ? options.liveOperations.execute(args) : execute(args);
    },

    /** Whether prepared arguments are a live query (its execute yields results, not source events). */
    isLive(args: ExecutionArgs): boolean {
      return options.liveOperations?.isLive(args) ?? false;
    },

    /** One result as sent: undefined to send it as it is, else its replacement (masked errors, or RESPONSE_TOO_LARGE). */
    formatNext(result: ExecutionResult): FormattedExecutionResult | undefined {
      let formatted = formattedResults.get(result);
      if (!formatted) {
        const isTooLarge = exceedsJsonBytes(result, options.maxResponseBytes);
        // The operation goes on: a later, smaller event is delivered again.
        formatted = { isTooLarge, replacement: isTooLarge ? { errors: [responseTooLarge(null, options.maxResponseBytes)] } : maskErrors(result) };
        formattedResults.set(result, formatted);
      }
      if (formatted.isTooLarge) options.onResponseTooLarge?.();
      return formatted.replacement;
    },

    /**
     * What a client is told when its running operation's source fails (CURSOR_EXPIRED on a
     * catch-up, the database replaced…): the error if it is one of ours, else an internal error.
     */
    failureOf(error: unknown): GraphQLFormattedError[] {
      return this.formatErrors([error instanceof GraphQLError ? error : new AppError(ErrorCode.InternalServerError, INTERNAL_ERROR_MESSAGE)]);
    },

    /** Errors that end or refuse an operation, masked as over HTTP. */
    formatErrors(errors: readonly GraphQLError[]): GraphQLFormattedError[] {
      return errors.map((error) => {
        const original = unwrapStreamError(error);
        return formatError(original.toJSON(), original);
      });
    },
  };
}

/** The core as adapters use it (the context type stays inside: they never look into it). */
export type SubscriptionCore = ReturnType<typeof createSubscriptionCore>;
