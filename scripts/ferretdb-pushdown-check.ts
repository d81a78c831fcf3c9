/**
 * Differential check of the FerretDB pushdown patch (tools/ferretdb/patches): runs the same
 * queries on documents chosen to trip an equality pushdown (array values, strings with escapes,
 * numbers of several BSON types, missing fields, _id of several types, dot notation) against
 * two FerretDB programs on the same backend, and fails when any answer differs. The reference
 * is the upstream build (`--reference`), the candidate the patched one (`--candidate`).
 *
 * Then sorted, skipped and limited pages of a messages-like collection (the order pushdown):
 * each conversation holds one kind of sort key that SQL text order gets wrong (numbers, strings,
 * null, missing, arrays, timestamps, dates of 12 or 14 digits, _id of other types), ties on
 * createdAt, deleted messages; pages are read with the project's index, its descending twin,
 * no index, and while a document has an array in the filtered field.
 *
 * Usage: node --import tsx scripts/ferretdb-pushdown-check.ts --reference=<bin> \
 *   --candidate=<bin> [--backend=sqlite|postgresql] [--pg=<url>]
 * The upstream build: `(cd tools/ferretdb && go build -o /tmp/ferretdb-upstream .)` (go.mod
 * pins the released module; the patches are applied only by src/local/ferretdb-binary.ts);
 * the patched one: .bin/ferretdb-local.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import {
  Double,
  Int32,
  Long,
  MongoClient,
  ObjectId,
  Timestamp,
  type Collection,
  type Document,
} from 'mongodb';
import { waitUntil } from '../src/lifecycle/wait.js';
import { ManagedProcess } from '../src/local/managed-process.js';
import { freePort } from '../src/local/port-probe.js';

const { values: args } = parseArgs({
  options: {
    reference: { type: 'string' },
    candidate: { type: 'string' },
    backend: { type: 'string', default: 'sqlite' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});

const oid = new ObjectId('65a000000000000000000001');
const docs: Document[] = [
  { _id: 1, f: 'x', g: 1 },
  { _id: 2, f: ['x', 'y'], g: new Int32(1) },
  { _id: 3, f: ['y'], g: new Long(1) },
  { _id: 4, f: [{ x: 'x' }, 'z'], g: new Double(1.0) },
  { _id: 5, g: 2 },
  { _id: 6, f: null },
  { _id: 7, f: { x: 1 } },
  { _id: 8, f: 'a"b\\c<d>&e\u2028f\u00e9' },
  { _id: 9, f: 'x', deletedAt: new Date(0) },
  { _id: 'x', f: 'x' },
  { _id: oid, f: oid },
  { _id: { a: 1 }, f: [oid, 'x'] },
  { _id: 10, f: true, d: new Date(1_700_000_000_000) },
  { _id: 11, f: 1.5, n: { f: 'x' } },
  { _id: 12, f: 9007199254740993n.toString(), big: new Long('9007199254740993') },
  { _id: 13, f: '' },
  { _id: 14, f: ['x', 'x', 1] },
];

const filters: Document[] = [
  { f: 'x' },
  { f: 'y' },
  { f: ['x'] },
  { f: 'a"b\\c<d>&e\u2028f\u00e9' },
  { f: oid },
  { f: true },
  { f: 1.5 },
  { f: '' },
  { f: null },
  { f: { x: 1 } },
  { f: { $eq: 'x' } },
  { f: 'x', deletedAt: { $exists: false } },
  { _id: 1 },
  { _id: 'x' },
  { _id: oid },
  { _id: { a: 1 } },
  { _id: oid, deletedAt: { $exists: false } },
  { g: 1 },
  { g: new Long(1) },
  { g: new Double(1) },
  { big: new Long('9007199254740993') },
  { d: new Date(1_700_000_000_000) },
  { 'n.f': 'x' },
  { f: 'x', g: 1 },
  { f: { $ne: 'x' } },
  { $or: [{ f: 'x' }, { f: 'y' }] },
];

const T0 = Date.UTC(2026, 0, 1);
/** ObjectId n of the sorted pages, with hex letters in it so that text order is tested. */
const sid = (n: number) => new ObjectId(`65b0${(0xabcdef00 + n).toString(16).padStart(20, '0')}`);
/** The odd sort key of each conversation `odd-<name>` (besides three ordinary messages). */
const oddKeys: Record<string, unknown> = {
  long: new Long(T0 + 1500),
  int: new Int32(7),
  double: new Double(T0 + 1500.5),
  string: '2026-01-01',
  null: null,
  array: [new Date(T0 + 500), new Date(T0 + 5000)],
  emptyArray: [],
  timestamp: new Timestamp({ t: 1, i: 1 }),
  date12: new Date(999_999_999_999),
  date14: new Date(10_000_000_000_005),
  negative: new Date(-5),
  objectId: sid(900),
  object: { d: new Date(T0) },
};
const pageDocs: Document[] = [];
let n = 0;
// conversation a: ties on createdAt, deleted messages
for (let k = 0; k < 12; k++) {
  const doc: Document = {
    _id: sid(n++),
    conversationId: 'a',
    createdAt: new Date(T0 + (k % 5) * 1000),
  };
  if (k % 4 === 1) doc.deletedAt = new Date(T0 + 9000);
  pageDocs.push(doc);
}
for (const [name, key] of Object.entries(oddKeys)) {
  for (let k = 0; k < 3; k++) {
    pageDocs.push({
      _id: sid(n++),
      conversationId: `odd-${name}`,
      createdAt: new Date(T0 + k * 1000),
    });
  }
  pageDocs.push({ _id: sid(n++), conversationId: `odd-${name}`, createdAt: key });
}
pageDocs.push({ _id: sid(n++), conversationId: 'odd-missing', createdAt: new Date(T0) });
pageDocs.push({ _id: sid(n++), conversationId: 'odd-missing' });
// _id of other types, ties on createdAt
for (const id of [10, 9, 'x', sid(n++), { a: 1 }]) {
  pageDocs.push({ _id: id, conversationId: 'ids', createdAt: new Date(T0) });
}
// ObjectIds and dates in createdAt: both ordered by their text
for (const key of [sid(901), new Date(T0), sid(902), new Date(T0 + 1)]) {
  pageDocs.push({ _id: sid(n++), conversationId: 'mixed', createdAt: key });
}
// the same JSON text for a string and an ObjectId
const hex = sid(n++).toHexString();
pageDocs.push({ _id: sid(n++), conversationId: hex, createdAt: new Date(T0 + 2) });
pageDocs.push({ _id: sid(n++), conversationId: new ObjectId(hex), createdAt: new Date(T0 + 1) });
pageDocs.push({ _id: sid(n), conversationId: 'a"b', createdAt: new Date(T0) });

const pageConversations = ['a', 'none', 'mixed', 'ids', 'odd-missing', hex, 'a"b'].concat(
  Object.keys(oddKeys).map((k) => `odd-${k}`),
);
const pageSorts: Document[] = [
  { createdAt: -1, _id: -1 },
  { createdAt: 1, _id: 1 },
  { createdAt: -1, _id: 1 },
  { _id: -1 },
];
const pageWindows = [
  { skip: 0, limit: 3 },
  { skip: 2, limit: 3 },
  { skip: 0, limit: 100 },
  { skip: 1, limit: 0 },
  // read through getMore, the cursor kept open between batches
  { skip: 0, limit: 7, batchSize: 2 },
];

/** Every page of every conversation, as the ids in the order returned. */
async function pages(coll: Collection, label: string, out: unknown[]): Promise<void> {
  for (const c of pageConversations) {
    const filters: Document[] = [
      { conversationId: c },
      { conversationId: c, deletedAt: { $exists: false } },
      { conversationId: c, _id: sid(3) },
      {
        conversationId: c,
        deletedAt: { $exists: false },
        $or: [
          { createdAt: { $lt: new Date(T0 + 3000) } },
          { createdAt: new Date(T0 + 3000), _id: { $lt: sid(8) } },
        ],
      },
    ];
    for (const filter of filters) {
      for (const sort of pageSorts) {
        for (const { skip, limit, batchSize } of pageWindows) {
          const cursor = coll.find(filter).sort(sort).skip(skip).limit(limit);
          const found = await (batchSize ? cursor.batchSize(batchSize) : cursor).toArray();
          out.push({ label, filter, sort, skip, limit, ids: found.map((d) => d._id) });
        }
      }
    }
  }
}

async function start(bin: string, backend: string) {
  const port = await freePort();
  const cleanups: (() => void)[] = [];
  const serverArgs = ['-listen', `127.0.0.1:${port}`, '-log-level', 'error'];
  if (backend === 'postgresql') {
    const pgDb = `ferret_check_${process.pid}_${port}`;
    execFileSync('psql', [args.pg, '-qc', `CREATE DATABASE ${pgDb}`]);
    cleanups.push(() => execFileSync('psql', [args.pg, '-qc', `DROP DATABASE ${pgDb}`]));
    const url = new URL(args.pg);
    url.pathname = `/${pgDb}`;
    serverArgs.push('-postgresql-url', url.toString());
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'ferret-check-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    serverArgs.push('-sqlite-dir', dir);
  }
  const proc = new ManagedProcess('ferretdb', bin, serverArgs);
  const client = new MongoClient(`mongodb://127.0.0.1:${port}`, { serverSelectionTimeoutMS: 300 });
  await waitUntil(
    'ferretdb',
    () =>
      client.connect().then(
        () => true,
        () => false,
      ),
    30000,
    { giveUpIf: () => proc.deadReason },
  );
  return {
    client,
    stop: async () => {
      await client.close();
      await proc.stop();
      for (const c of cleanups) c();
    },
  };
}

/** Every filter's answer, with the index on f, after dropping it, and on a fresh collection. */
async function answers(bin: string, backend: string): Promise<unknown[]> {
  const server = await start(bin, backend);
  try {
    const coll = server.client.db('check').collection('c');
    await coll.createIndex({ f: 1, g: 1, _id: 1 }, { name: 'f_g' });
    await coll.insertMany(docs);
    const out: unknown[] = [];
    const run = async (label: string) => {
      for (const filter of filters) {
        const found = await coll.find(filter).sort({ _id: 1 }).toArray();
        const one = await coll.findOne(filter);
        const count = await coll.countDocuments(filter);
        // Without a sort, which match findOne returns is unspecified: check it is one of them.
        const oneMatches =
          one === null ? found.length === 0 : found.some((d) => isDeepStrictEqual(d._id, one._id));
        out.push({ label, filter, ids: found.map((d) => d._id), oneMatches, count });
      }
      const upd = await coll.updateMany({ f: 'x' }, { $inc: { hits: 1 } });
      const fam = await coll.findOneAndUpdate(
        { _id: oid, deletedAt: { $exists: false } },
        { $set: { e: label } },
        { returnDocument: 'after' },
      );
      out.push({ label, updated: upd.modifiedCount, fam: fam?.e ?? null });
    };
    await run('indexed');
    await coll.dropIndex('f_g');
    await run('unindexed');
    await coll.createIndex({ f: 1 }, { name: 'f_only' });
    await run('reindexed');
    const del = await coll.deleteMany({ f: 'x' });
    out.push({ deleted: del.deletedCount, left: await coll.countDocuments({}) });

    const messages = server.client.db('check').collection('m');
    await messages.createIndex({ conversationId: 1, createdAt: 1, _id: 1 }, { name: 'conv' });
    await messages.insertMany(pageDocs);
    await pages(messages, 'pages indexed', out);
    const arrayDoc = { _id: sid(999), conversationId: ['z', 'a'], createdAt: new Date(T0 + 2500) };
    await messages.insertOne(arrayDoc);
    await pages(messages, 'pages with an array', out);
    await messages.deleteOne({ _id: arrayDoc._id });
    await messages.dropIndex('conv');
    await pages(messages, 'pages unindexed', out);
    await messages.createIndex(
      { conversationId: 1, createdAt: -1, _id: -1 },
      { name: 'conv_desc' },
    );
    await pages(messages, 'pages indexed descending', out);
    return out;
  } finally {
    await server.stop();
  }
}

async function main() {
  if (!args.reference || !args.candidate) throw new Error('--reference and --candidate needed');
  const want = await answers(args.reference, args.backend);
  const got = await answers(args.candidate, args.backend);
  let differences = 0;
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (!isDeepStrictEqual(JSON.stringify(want[i]), JSON.stringify(got[i]))) {
      differences += 1;
      console.error(
        `differs:\n  reference ${JSON.stringify(want[i])}\n  candidate ${JSON.stringify(got[i])}`,
      );
    }
  }
  console.log(`${args.backend}: ${want.length} answers compared, ${differences} differ`);
  if (differences > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
