// Label values for Prometheus series. Operation names, error codes and field names come from
// clients (or could), and every distinct label value is a series kept in memory for the life of the
// process: each label here is bounded to a known set, or to the first values seen, and anything
// else is counted under one fallback value.
import { Kind, parse, type GraphQLSchema } from 'graphql';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { ErrorCode } from '../errors';

/** The operationName of an operation without a name. */
export const ANONYMOUS_OPERATION = 'anonymous';
/** Values beyond the bound (or outside the known set). */
export const OTHER_LABEL = 'other';
/** An operation that never resolved (parse or validation failed, or a request refused before GraphQL ran). */
export const UNKNOWN_OPERATION = 'unknown';

export interface BoundedLabelOptions {
  /** Values always admitted (e.g. the trusted documents' operation names). @default none */
  known?: Iterable<string>;
  /** Further values admitted as first seen; 0 once the known set is the whole vocabulary. @default 0 */
  maxAdmitted?: number;
  /** What any other value is counted as. @default "other" */
  fallback?: string;
}

/** A label whose values are bounded: known values, then the first `maxAdmitted` others, then `fallback`. */
export class BoundedLabel {
  private readonly values: Set<string>;
  private admittedCount = 0;
  private readonly maxAdmitted: number;
  private readonly fallback: string;

  constructor({ known = [], maxAdmitted = 0, fallback = OTHER_LABEL }: BoundedLabelOptions = {}) {
    this.values = new Set(known);
    this.maxAdmitted = maxAdmitted;
    this.fallback = fallback;
  }

  /** The label value `value` is counted under. */
  of(value: string): string {
    if (this.values.has(value)) return value;
    if (this.admittedCount >= this.maxAdmitted) return this.fallback;
    this.admittedCount += 1;
    this.values.add(value);
    return value;
  }
}

/**
 * Operation names: with trusted documents, exactly the names they define (any other operation is
 * "other"); without them, the first `maxNames` names seen. A nameless operation is "anonymous".
 */
export class OperationNameLabel {
  private readonly names: BoundedLabel;

  constructor(options: { trustedDocuments?: Iterable<string>; maxNames: number }) {
    const trustedNames = options.trustedDocuments ? [...options.trustedDocuments].flatMap(operationNamesOf) : undefined;
    this.names = trustedNames
      ? new BoundedLabel({ known: [ANONYMOUS_OPERATION, UNKNOWN_OPERATION, ...trustedNames] })
      : new BoundedLabel({ known: [ANONYMOUS_OPERATION, UNKNOWN_OPERATION], maxAdmitted: options.maxNames });
  }

  of(operationName: string | null | undefined): string {
    return this.names.of(operationName || ANONYMOUS_OPERATION);
  }
}

/** The names of the operations a document defines (none when it does not parse). */
function operationNamesOf(document: string): string[] {
  try {
    return parse(document).definitions.flatMap((definition) =>
      definition.kind === Kind.OPERATION_DEFINITION && definition.name ? [definition.name.value] : [],
    );
  } catch {
    return [];
  }
}

/** Every `extensions.code` the gateway or Apollo Server gives an error; any other is "other". */
export function errorCodeLabel(): BoundedLabel {
  return new BoundedLabel({ known: [...Object.values(ErrorCode), ...Object.values(ApolloServerErrorCode)] });
}

/** The subscription root fields of `schema`; anything else (there should be nothing) is "other". */
export function subscriptionFieldLabel(schema: GraphQLSchema): BoundedLabel {
  return new BoundedLabel({ known: Object.keys(schema.getSubscriptionType()?.getFields() ?? {}) });
}
