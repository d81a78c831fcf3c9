import fc from 'fast-check';

// Generators of hostile input for the fuzz suite. Every request they build is INVALID by
// construction (a field of the wrong type or size, an unknown key, broken JSON, a
// malformed id), so the API must refuse each one with a 4xx and store nothing.
//
// Values are generated as JSON *text*, not JS values: deep nesting and invalid UTF-8 can
// then be expressed without JSON.stringify (which would overflow or repair them).

const OPERATORS = [
  '$gt',
  '$ne',
  '$in',
  '$nin',
  '$where',
  '$regex',
  '$exists',
  '$set',
  '$expr',
  '$function',
];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];

/** A JSON text that is not a string: numbers, booleans, arrays, objects, operators. */
export const nonStringJson: fc.Arbitrary<string> = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.boolean().map(String),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }).map((a) => JSON.stringify(a)),
  fc
    .tuple(fc.constantFrom(...OPERATORS), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()))
    .map(([op, v]) => `{${JSON.stringify(op)}:${JSON.stringify(v)}}`),
  fc
    .constantFrom(...PROTO_KEYS)
    .map((k) => `{${JSON.stringify(k)}:{"polluted":true,"isAdmin":true}}`),
  fc.integer({ min: 50, max: 20000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
  fc.integer({ min: 50, max: 5000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
  fc.object({ maxDepth: 2, maxKeys: 3 }).map((o) => JSON.stringify(o)),
);

/** A JSON string far over every field's limit (and at times over the 100 KiB body limit). */
export const hugeString: fc.Arbitrary<string> = fc
  .integer({ min: 6000, max: 150_000 })
  .map((n) => JSON.stringify('x'.repeat(n)));

/** A JSON string that is never a valid ObjectId (24 hex), idempotency key or username. */
export const badIdString: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom('', '$ne', '__proto__', 'constructor', '{"$gt":""}', '../../etc/passwd'),
    fc.string({ maxLength: 30 }).map((s) => `$${s}`),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => `Ω${s}`),
    fc
      .stringMatching(/^[0-9a-f]{23}$|^[0-9a-f]{25,30}$|^[0-9A-F]{24}$/)
      .filter((s) => /[A-F]/.test(s) || s.length !== 24),
  )
  // Not a valid idempotency key either (so it can stand for clientMsgId too).
  .filter((s) => !/^[A-Za-z0-9_-]{1,64}$/.test(s))
  .map((s) => JSON.stringify(s));

/** A JSON value that a string field of the API must refuse. */
export const badFieldValue = (field: 'id' | 'text'): fc.Arbitrary<string> =>
  field === 'id'
    ? fc.oneof(nonStringJson, hugeString, badIdString)
    : fc.oneof(nonStringJson, hugeString);

/** An extra key no schema allows (prototype pollution, operators, anything else). */
export const extraKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTO_KEYS, ...OPERATORS, 'isAdmin', 'role', '_id', 'senderId'),
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** A body as fields of JSON text: `{ name: '"value"' }`. */
export type JsonFields = Record<string, string>;

function objectText(fields: Array<[string, string]>): string {
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/**
 * A body that `schema` (the valid fields in `base`, `id` fields named in `idFields`) must
 * refuse: one field made bad, an unknown key added, broken JSON, or not an object.
 */
export function invalidBody(base: JsonFields, idFields: string[] = []): fc.Arbitrary<Buffer> {
  const names = Object.keys(base);
  const badField = fc
    .constantFrom(...names)
    .chain((name) =>
      badFieldValue(idFields.includes(name) ? 'id' : 'text').map((v) =>
        objectText(Object.entries({ ...base, [name]: v })),
      ),
    );
  const addKey = fc
    .tuple(
      extraKey,
      fc.oneof(
        nonStringJson,
        fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s)),
      ),
    )
    .filter(([k]) => !names.includes(k))
    .map(([k, v]) => objectText([...Object.entries(base), [k, v]]));
  const text = fc.oneof(badField, addKey).map((t) => Buffer.from(t, 'utf8'));
  const valid = Buffer.from(objectText(Object.entries(base)), 'utf8');
  const broken = fc.oneof(
    // Truncated: any strict prefix of the object is invalid JSON (or empty: no fields).
    fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
    // Invalid UTF-8 bytes where JSON expects a token.
    fc
      .tuple(
        fc.integer({ min: 1, max: valid.length - 1 }),
        fc.constantFrom(0xff, 0xc3, 0xed, 0x80, 0xfe),
      )
      .map(([at, byte]) =>
        Buffer.concat([valid.subarray(0, 1), Buffer.from([byte]), valid.subarray(1)]).subarray(
          0,
          Math.max(at, 2),
        ),
      ),
    fc.constantFrom(
      Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
      Buffer.from('{"a":"\xed\xa0\x80"', 'latin1'),
    ),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
    // Not an object.
    fc
      .constantFrom('[]', 'null', 'true', '42', '"str"', '[{"username":"a"}]')
      .map((t) => Buffer.from(t)),
  );
  return fc.oneof({ arbitrary: text, weight: 3 }, { arbitrary: broken, weight: 1 });
}

/** A path segment that is never a valid, existing id. */
export const badPathSegment: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom(
      '$ne',
      '__proto__',
      'constructor',
      'prototype',
      '{"$gt":""}',
      'null',
      'undefined',
      '..',
    ),
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }),
    fc.stringMatching(/^[0-9a-f]{24}$/), // well-formed but (almost surely) no such user/message
    fc.integer({ min: 200, max: 5000 }).map((n) => 'a'.repeat(n)),
  )
  .filter((s) => s !== '.' && s !== '..' && s.length > 0)
  .map((s) => encodeURIComponent(s));

/** A query string with keys and values no route accepts. */
export const badQuery: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('limit', 'before', 'limit[$gt]', '__proto__', 'constructor', '$where'),
        fc.string({ minLength: 1, maxLength: 8 }),
      ),
      fc.oneof(
        fc.constantFrom('-1', '0', '101', 'abc', '1e3', '$ne', ''),
        fc.string({ maxLength: 20 }),
      ),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((pairs) =>
    pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
  );
