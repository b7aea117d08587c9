// A module declares which of its Query fields may be answered from the whole-response cache: those
// that read only through the loaders (so every value they use comes with a cache key's version).
// A field that reads around them (a search, a projection in Redis) is simply not declared.
import { Extensions } from 'type-graphql';
import { RESPONSE_CACHE_EXTENSION, type CacheableField } from '../../cache/response-cache';

/** Marks a Query field cacheable: per viewer, or shared by all ('public'); see CacheableField. */
export const Cacheable = (field: CacheableField): MethodDecorator => Extensions({ [RESPONSE_CACHE_EXTENSION]: field });
