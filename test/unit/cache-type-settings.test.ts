// Settings that name cache types must name real ones: a misspelt type in CACHE_TYPE_TTL_SECONDS or
// CACHE_L1_TYPES would otherwise configure nothing, silently. createApp (so the gateway at start)
// refuses them with a ConfigError naming each one and listing the types.
import { ConfigError, loadConfig } from '../../src/config';
import { assertKnownCacheTypes } from '../../src/modules/context';

it('accepts the cache types the loaders use', () => {
  expect(() => assertKnownCacheTypes(loadConfig({ CACHE_TYPE_TTL_SECONDS: 'Product=60,OrderPages=5', CACHE_L1_TYPES: 'Product,User' }))).not.toThrow();
  expect(() => assertKnownCacheTypes(loadConfig({}))).not.toThrow();
});

it('refuses unknown type names in either setting, naming each and listing the known ones', () => {
  const check = (env: Record<string, string>) => () => assertKnownCacheTypes(loadConfig(env));
  expect(check({ CACHE_TYPE_TTL_SECONDS: 'Bogus=1' })).toThrow(ConfigError);
  expect(check({ CACHE_TYPE_TTL_SECONDS: 'Product=60,Bogus=1' })).toThrow(/CACHE_TYPE_TTL_SECONDS names "Bogus", not a cache type.*Product/);
  expect(check({ CACHE_L1_TYPES: 'Prodcut' })).toThrow(/CACHE_L1_TYPES names "Prodcut"/);
  expect(check({ CACHE_TYPE_TTL_SECONDS: 'Bogus=1', CACHE_L1_TYPES: 'Prodcut' })).toThrow(/CACHE_TYPE_TTL_SECONDS names "Bogus".*; CACHE_L1_TYPES names "Prodcut"/);
});
