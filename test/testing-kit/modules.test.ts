// The module extension point's refusals: what a team gets wrong is reported by name when the
// gateway starts (createApp calls registerModules first, and createServices, which builds the
// loaders once, before it serves), rather than a module silently shadowing a part of the gateway.
import { createLoaders, createServices, registerModules, type GatewayModule } from '../../src/modules/context';

const empty: Omit<GatewayModule, 'name'> = { resolvers: [] };
// Loaders and services are plain objects until used: inert dependencies are enough to name them.
const inertDeps = {} as Parameters<typeof createServices>[0];

test('a module whose loader takes a name the gateway uses is refused', () => {
  const shadowing: GatewayModule = { ...empty, name: 'shadowing', createLoaders: () => ({ productById: null }) };
  expect(() => createServices(inertDeps, [shadowing])).toThrow('Module "shadowing" adds a loader "productById", a name already taken');
  expect(() => createLoaders(inertDeps.db, inertDeps.cache, [shadowing])).toThrow('a name already taken');
});

test('a module whose service takes a name the gateway uses is refused', () => {
  const shadowing: GatewayModule = { ...empty, name: 'shadowing_services', createServices: () => ({ orders: null }) };
  expect(() => createServices(inertDeps, [shadowing])).toThrow('adds a service "orders"');
});

test('two modules cannot add the same loader', () => {
  const first: GatewayModule = { ...empty, name: 'first', createLoaders: () => ({ widgetById: 1 }) };
  const second: GatewayModule = { ...empty, name: 'second', createLoaders: () => ({ widgetById: 2 }) };
  expect(createLoaders(inertDeps.db, inertDeps.cache, [first])).toHaveProperty('widgetById', 1);
  expect(() => createLoaders(inertDeps.db, inertDeps.cache, [first, second])).toThrow('Module "second" adds a loader "widgetById"');
});

test('module names must be usable in a table name, and unique', () => {
  expect(() => registerModules([{ ...empty, name: 'Bad-Name' }])).toThrow('Module name "Bad-Name"');
  expect(() => registerModules([{ ...empty, name: 'twice' }, { ...empty, name: 'twice' }])).toThrow('Module name "twice"');
  expect(() => registerModules([{ ...empty, name: 'fine_1' }])).not.toThrow();
});

test("a module's event types and aggregates are its own: not the gateway's, not another module's, on a known stream", () => {
  expect(() => registerModules([{ ...empty, name: 'moving', events: { streams: { OrderPlaced: 'catalog' } } }])).toThrow(
    'Module "moving" adds the event type OrderPlaced, already the gateway\'s',
  );
  expect(() => registerModules([{ ...empty, name: 'posing', events: { streams: {}, channels: { Product: () => [] } } }])).toThrow(
    'Module "posing" adds the aggregate Product, already the gateway\'s',
  );
  expect(() => registerModules([{ ...empty, name: 'lost', events: { streams: { WidgetLost: 'widgets' as never } } }])).toThrow('which is no stream');
  registerModules([{ ...empty, name: 'first', events: { streams: { WidgetMade: 'catalog' }, channels: { Widget: () => [] } } }]);
  expect(() => registerModules([{ ...empty, name: 'second', events: { streams: { WidgetMade: 'orders' } } }])).toThrow("already first's");
  expect(() => registerModules([{ ...empty, name: 'second', events: { streams: {}, channels: { Widget: () => [] } } }])).toThrow("already first's");
});
