// What a cached whole response is stored with, and so what decides whether it may be served again:
// the versions of every cache key its loaders read. ResponseDependencies records them and encodes
// them as the header readResponse-n.lua checks. `isCurrent` below follows that script's grammar
// and decision (documented at its top), so these tests can state the rule end to end:
// a response is served again only while nothing it read has changed.
import { createHash } from 'node:crypto';
import { MAX_DEPENDENCIES, parseHeader, ResponseDependencies, type GenerationsAtStart } from '../../src/cache/dependencies';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const v = (stable: string, volatile = '') => ({ stable, volatile });

interface HeaderGroup {
  slot: number;
  generation: string;
  digest: string;
  type: string;
  fields: string[];
}

/** The header as readResponse-n.lua splits it: ";" between groups, "|" within, "," between fields. */
function decodeHeader(header: string): HeaderGroup[] {
  return header.split(';').map((group) => {
    const [slot, generation, digest, type, fields, ...rest] = group.split('|');
    expect(rest).toEqual([]);
    return { slot: Number(slot), generation: generation!, digest: digest!, type: type!, fields: fields!.split(',') };
  });
}

/**
 * readResponse-n.lua's decision: each group is current when the generation in its slot is the one
 * recorded, or else when every recorded field still has a version and their SHA-1 matches.
 */
function isCurrent(header: string, generations: string[], versions: Record<string, Record<string, string>>): boolean {
  return decodeHeader(header).every(({ slot, generation, digest, type, fields }) => {
    if (generations[slot] === generation) return true;
    const current = fields.map((field) => versions[type]?.[field]);
    return current.every((version) => version !== undefined) && sha1(current.join(',')) === digest;
  });
}

describe('the header', () => {
  it('is null when the response read nothing through the cache (nothing would guard it)', () => {
    expect(new ResponseDependencies().header()).toBeNull();
  });

  it('has one group per type, in the order first read, with the digest of the versions in field order', () => {
    const generations: GenerationsAtStart = new Map([
      ['Product.v1', { index: 0, generation: 'gP' }],
      ['User.v1', { index: 2, generation: 'gU' }],
    ]);
    const dependencies = new ResponseDependencies(new Set(), generations);
    dependencies.add('User.v1', '7', v('u7'));
    dependencies.add('Product.v1', '3', v('p3'));
    dependencies.add('Product.v1', '1', v('p1'));
    expect(decodeHeader(dependencies.header()!)).toEqual([
      { slot: 2, generation: 'gU', digest: sha1('u7'), type: 'User.v1', fields: ['7'] },
      { slot: 0, generation: 'gP', digest: sha1('p3,p1'), type: 'Product.v1', fields: ['3', '1'] },
    ]);
  });

  it('has slot -1 and no generation for a type the lookup read no generation of (its versions are always compared)', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('Order.v1', '5', v('o5'));
    expect(decodeHeader(dependencies.header()!)).toEqual([{ slot: -1, generation: '', digest: sha1('o5'), type: 'Order.v1', fields: ['5'] }]);
  });

  it("records the stable version, guarded by the type's stable generation, for a document that reads only stable fields", () => {
    const generations: GenerationsAtStart = new Map([
      ['Product.v1', { index: 0, generation: 'any' }],
      ['Product.v1:stable', { index: 1, generation: 'stable' }],
    ]);
    const dependencies = new ResponseDependencies(new Set(), generations);
    dependencies.add('Product.v1', '3', v('s3', 'x3'));
    expect(decodeHeader(dependencies.header()!)).toEqual([{ slot: 1, generation: 'stable', digest: sha1('s3'), type: 'Product.v1', fields: ['3'] }]);
  });

  it('records the volatile version ("<id>!"), guarded by any change of the type, for a document that reads volatile fields', () => {
    const generations: GenerationsAtStart = new Map([
      ['Product.v1', { index: 0, generation: 'any' }],
      ['Product.v1:stable', { index: 1, generation: 'stable' }],
    ]);
    const dependencies = new ResponseDependencies(new Set(['Product.v1']), generations);
    dependencies.add('Product.v1', '3', v('s3', 'x3'));
    expect(decodeHeader(dependencies.header()!)).toEqual([{ slot: 0, generation: 'any', digest: sha1('x3'), type: 'Product.v1', fields: ['3!'] }]);
  });
});

describe('what makes a response untracked (answered, never stored)', () => {
  it('a key seen at two versions within one request (it was invalidated meanwhile)', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('Order.v1', '5', v('a'));
    dependencies.add('Order.v1', '5', v('b'));
    expect(dependencies.header()).toBeNull();
  });

  it('but not a key read twice at the same version: it counts once', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('Order.v1', '5', v('a'));
    dependencies.add('Order.v1', '5', v('a'));
    expect(decodeHeader(dependencies.header()!)[0]!.fields).toEqual(['5']);
  });

  it('a read without a version (Redis did not answer, an L1 hit)', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('Order.v1', '5', v('a'));
    dependencies.add('Order.v1', '6', v(''));
    expect(dependencies.header()).toBeNull();
  });

  it.each([
    ['a comma in a key id', 'Order.v1', 'a,b'],
    ['a bar in a key id', 'Order.v1', 'a|b'],
    ['a semicolon in a key id', 'Order.v1', 'a;b'],
    ['a space in a key id', 'Order.v1', 'a b'],
    ['a colon in a key id', 'OrderPage.v1', 'user:7'],
    ['a colon in a type', 'Order:v1', '5'],
  ])('a name the header could not carry unambiguously (%s)', (_why, type, keyId) => {
    const dependencies = new ResponseDependencies();
    dependencies.add(type, keyId, v('a'));
    expect(dependencies.header()).toBeNull();
  });

  it(`more than MAX_DEPENDENCIES (${MAX_DEPENDENCIES}) keys, and exactly that many is still stored`, () => {
    const atLimit = new ResponseDependencies();
    for (let id = 0; id < MAX_DEPENDENCIES; id += 1) atLimit.add('Product.v1', String(id), v(`p${id}`));
    expect(atLimit.header()).not.toBeNull();
    atLimit.add('Product.v1', 'one-more', v('x'));
    expect(atLimit.header()).toBeNull();
  });

  it('untrack(), for good: later reads do not make it storable again', () => {
    const dependencies = new ResponseDependencies();
    dependencies.untrack();
    dependencies.add('Order.v1', '5', v('a'));
    expect(dependencies.header()).toBeNull();
  });
});

describe('covered keys', () => {
  const pageCover = [['OrderPage.v1', 'user-7']] as const;

  it('skips a key read after a key that covers it (the cover goes with every invalidation of it)', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('OrderPage.v1', 'user-7', v('page'));
    dependencies.add('Order.v1', '5', v('o5'), pageCover);
    expect(decodeHeader(dependencies.header()!).map((group) => group.type)).toEqual(['OrderPage.v1']);
  });

  it('records a key read before its cover (nothing guarded it when it was read)', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('Order.v1', '5', v('o5'), pageCover);
    dependencies.add('OrderPage.v1', 'user-7', v('page'));
    expect(decodeHeader(dependencies.header()!).map((group) => group.type)).toEqual(['Order.v1', 'OrderPage.v1']);
  });

  it("records a key whose cover is another scope than the one read (another customer's page)", () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('OrderPage.v1', 'user-8', v('page8'));
    dependencies.add('Order.v1', '5', v('o5'), pageCover);
    expect(decodeHeader(dependencies.header()!).map((group) => group.type)).toEqual(['OrderPage.v1', 'Order.v1']);
  });

  it('covers transitively: items covered by an order that is itself covered by its page', () => {
    const dependencies = new ResponseDependencies();
    dependencies.add('OrderPage.v1', 'user-7', v('page'));
    dependencies.add('Order.v1', '5', v('o5'), pageCover);
    dependencies.add('OrderItems.v1', '5', v('i5'), [['Order.v1', '5']]);
    expect(decodeHeader(dependencies.header()!).map((group) => group.type)).toEqual(['OrderPage.v1']);
  });

  it("does not skip the volatile version of a type whose volatile part the document reads (covers guard stable versions only)", () => {
    const dependencies = new ResponseDependencies(new Set(['Order.v1']));
    dependencies.add('OrderPage.v1', 'user-7', v('page'));
    dependencies.add('Order.v1', '5', v('s5', 'x5'), pageCover);
    expect(decodeHeader(dependencies.header()!).map((group) => group.fields)).toEqual([['user-7'], ['5!']]);
  });
});

describe('the freshness decision (readResponse-n.lua, as documented)', () => {
  const generationsAtStart: GenerationsAtStart = new Map([
    ['Product.v1', { index: 0, generation: 'gP1' }],
    ['Order.v1', { index: 1, generation: 'gO1' }],
  ]);

  function storedResponse() {
    const dependencies = new ResponseDependencies(new Set(), generationsAtStart);
    dependencies.add('Product.v1', '3', v('p3'));
    dependencies.add('Order.v1', '5', v('o5'));
    dependencies.add('Order.v1', '6', v('o6'));
    return dependencies.header()!;
  }

  const versionsNow = () => ({ 'Product.v1': { '3': 'p3', '4': 'p4' }, 'Order.v1': { '5': 'o5', '6': 'o6', '9': 'o9' } });

  it('serves it while no type it read changed, without comparing versions', () => {
    expect(isCurrent(storedResponse(), ['gP1', 'gO1'], {})).toBe(true);
  });

  it('serves it after a write to a key of the type it did not read (another order)', () => {
    const versions = versionsNow();
    versions['Order.v1']['9'] = 'o9-new';
    expect(isCurrent(storedResponse(), ['gP1', 'gO2'], versions)).toBe(true);
  });

  it('misses after a write to a key it read (its version was replaced)', () => {
    const versions = versionsNow();
    versions['Order.v1']['6'] = 'o6-new';
    expect(isCurrent(storedResponse(), ['gP1', 'gO2'], versions)).toBe(false);
  });

  it('misses once a version it read is gone (invalidated or evicted), even with nothing else changed', () => {
    const versions: Record<string, Record<string, string>> = versionsNow();
    delete versions['Order.v1']!['5'];
    expect(isCurrent(storedResponse(), ['gP1', 'gO2'], versions)).toBe(false);
  });
});

it('reads a stored header back as it was written (parseHeader, used by the Cluster lookup and the copies held in memory), and refuses what is not one', () => {
  const dependencies = new ResponseDependencies(new Set(['Product.v1']), new Map([['Product.v1', { index: 0, generation: 'g0' }]]));
  dependencies.add('Product.v1', '5', v('s5', 'v5'));
  dependencies.add('User.v1', '1', v('u1'));
  dependencies.add('User.v1', '2', v('u2'));
  const header = dependencies.header()!;
  expect(parseHeader(header)).toEqual(decodeHeader(header).map(({ type, fields, ...group }) => ({ ...group, typeKey: type, keyIds: fields })));
  expect(parseHeader(header)!.map(({ typeKey, keyIds }) => [typeKey, keyIds])).toEqual([['Product.v1', ['5!']], ['User.v1', ['1', '2']]]);
  expect(parseHeader('not|a header')).toBeNull();
});
