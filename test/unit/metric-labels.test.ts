// Label bounding: whatever clients send, the series a label can create stay few.
import { buildSchema } from 'graphql';
import { BoundedLabel, OperationNameLabel, errorCodeLabel, subscriptionFieldLabel } from '../../src/observability/metric-labels';

it('admits the first names seen, then counts the rest as "other"', () => {
  const names = new OperationNameLabel({ maxNames: 2 });
  expect(names.of('A')).toBe('A');
  expect(names.of('B')).toBe('B');
  expect(names.of('C')).toBe('other');
  expect(names.of('A')).toBe('A');
  expect(names.of(null)).toBe('anonymous');
  expect(names.of('')).toBe('anonymous');
});

it('with trusted documents, admits exactly their operation names', () => {
  const names = new OperationNameLabel({ trustedDocuments: ['query Listed { a }', 'mutation Other { b } query Second { c }', 'not graphql {'], maxNames: 100 });
  expect(names.of('Listed')).toBe('Listed');
  expect(names.of('Second')).toBe('Second');
  expect(names.of('Sneaky')).toBe('other');
});

it('admits only known error codes', () => {
  const codes = errorCodeLabel();
  expect(codes.of('NOT_FOUND')).toBe('NOT_FOUND');
  expect(codes.of('GRAPHQL_VALIDATION_FAILED')).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(codes.of('MADE_UP_BY_A_CLIENT')).toBe('other');
});

it('admits only the subscription root fields of the schema', () => {
  const fields = subscriptionFieldLabel(buildSchema('type Query { a: Int } type Subscription { ticks: Int }'));
  expect(fields.of('ticks')).toBe('ticks');
  expect(fields.of('a')).toBe('other');
});

it('uses the given fallback beyond the bound', () => {
  const label = new BoundedLabel({ maxAdmitted: 1, fallback: 'rest' });
  expect(label.of('x')).toBe('x');
  expect(label.of('y')).toBe('rest');
});
