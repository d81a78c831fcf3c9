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

/** Byte sequences that are never valid UTF-8, any of which makes a body a 400 BAD_JSON. */
export const invalidUtf8: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .constantFrom(
      [0xff],
      [0xfe],
      [0xff, 0xfe],
      // a continuation byte with no lead
      [0x80],
      [0xbf],
      // overlong forms ("<" and "/" in two, three and four bytes)
      [0xc0, 0xbc],
      [0xc1, 0x81],
      [0xe0, 0x80, 0xaf],
      [0xf0, 0x80, 0x80, 0xaf],
      // UTF-16 surrogates
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      // beyond U+10FFFF
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      // truncated sequences
      [0xc3],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
    )
    .map((bytes) => Buffer.from(bytes)),
  // A lead byte followed by a printable ASCII character instead of a continuation byte
  // (not `"` or `\`, so that the JSON around stays well-formed).
  fc
    .tuple(
      fc.integer({ min: 0xc2, max: 0xf4 }),
      fc.integer({ min: 0x20, max: 0x7e }).filter((b) => b !== 0x22 && b !== 0x5c),
    )
    .map((bytes) => Buffer.from(bytes)),
);

/**
 * `fields` (string values) as a JSON object whose value of one field has `bad` bytes
 * inserted at `at` (any position within it): valid JSON but for its encoding.
 */
export function withInvalidUtf8(
  fields: Record<string, string>,
  field: string,
  at: number,
  bad: Buffer,
): Buffer {
  const parts: Buffer[] = [Buffer.from('{')];
  for (const [i, [name, value]] of Object.entries(fields).entries()) {
    parts.push(Buffer.from(`${i === 0 ? '' : ','}${JSON.stringify(name)}:"`));
    const cut = name === field ? Math.min(at, value.length) : value.length;
    parts.push(Buffer.from(JSON.stringify(value.slice(0, cut)).slice(1, -1)));
    if (name === field) parts.push(bad);
    parts.push(Buffer.from(`${JSON.stringify(value.slice(cut)).slice(1, -1)}"`));
  }
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

/**
 * A Content-Type that is not JSON in UTF-8 (null: no header), each of which makes a body a
 * 415 UNSUPPORTED_MEDIA_TYPE.
 */
export const nonJsonContentType: fc.Arbitrary<string | null> = fc.oneof(
  fc.constantFrom(
    null,
    '',
    'text/plain',
    'text/plain;charset=UTF-8',
    'text/html',
    'application/xml',
    'text/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/jsonp',
    'application/json-patch+json',
    'application/ld+json',
    'text/json',
  ),
  fc
    .constantFrom('latin1', 'iso-8859-1', 'utf-16', 'utf-16le', 'windows-1252', 'us-ascii')
    .map((charset) => `application/json; charset=${charset}`),
  fc.stringMatching(/^[a-z]{1,10}\/[a-z0-9.+-]{1,15}$/).filter((t) => t !== 'application/json'),
);
