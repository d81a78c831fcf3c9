/**
 * Probe of how the cold MongoDB paths of message-store.ts grow with the store: seeds
 * `--messages` messages spread over `--conversations` conversations (insertMany in batches,
 * documents shaped by toMessageDoc), creates the project's index, then times p50/p99 of the
 * four query shapes through MessageStore itself: latest conversation page, message by id,
 * edit (findOneAndUpdate upsert) and delete (tombstone updateOne upsert). Each page is also
 * checked against what was seeded, so a faster server that answers wrongly fails the probe.
 * `--big=<n>` adds one more conversation of n messages (seeded last) and times its latest page
 * too: the cost of a page that grows with its conversation, as an order pushdown should not.
 *
 * Server: `--uri=<mongodb uri>` (an existing server; the probe uses and drops its own
 * database), or a throwaway FerretDB it starts: `--bin=<ferretdb-local>` (default
 * .bin/ferretdb-local) with `--backend=sqlite` (temp dir) or `--backend=postgresql`
 * (`--pg=<url of a PostgreSQL server>`; the probe creates and drops a database there).
 *
 * Usage: node --import tsx scripts/ferretdb-growth-probe.ts --backend=postgresql \
 *   --messages=100000 [--conversations=10000] [--samples=200] [--page=100]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient, ObjectId } from 'mongodb';
import { waitUntil } from '../src/lifecycle/wait.js';
import { ManagedProcess } from '../src/local/managed-process.js';
import { freePort } from '../src/local/port-probe.js';
import { projectRoot } from '../src/local/project-root.js';
import { fromMessageDoc, toMessageDoc, type Message } from '../src/messages/message.js';
import { MessageStore } from '../src/messages/message-store.js';

const { values: args } = parseArgs({
  options: {
    uri: { type: 'string' },
    bin: { type: 'string', default: path.join(projectRoot(), '.bin', 'ferretdb-local') },
    backend: { type: 'string', default: 'sqlite' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    messages: { type: 'string', default: '10000' },
    conversations: { type: 'string', default: '10000' },
    samples: { type: 'string', default: '200' },
    page: { type: 'string', default: '100' },
    big: { type: 'string', default: '0' },
    batch: { type: 'string', default: '1000' },
    port: { type: 'string' },
    // Keep the data for a later run with the same --name (which then skips seeding).
    keep: { type: 'boolean', default: false },
    name: { type: 'string', default: `growth_probe_${process.pid}` },
  },
});

const N = Number(args.messages);
const CONVERSATIONS = Number(args.conversations);
const SAMPLES = Number(args.samples);
const PAGE = Number(args.page);
const BATCH = Number(args.batch);
const BIG = Number(args.big);
const DB = args.name;

/** Deterministic pseudo-random numbers, so runs at different sizes sample alike. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Two users per conversation: conversation c is between user 2c and user 2c+1. */
function userId(n: number): string {
  return n.toString(16).padStart(24, '0');
}

/** Message i: conversation i mod C, created i ms after a fixed start (so order = i order). */
function message(i: number, id: ObjectId): Message {
  const c = i % CONVERSATIONS;
  const fromFirst = Math.floor(i / CONVERSATIONS) % 2 === 0;
  return {
    id: id.toHexString(),
    senderId: userId(fromFirst ? 2 * c : 2 * c + 1),
    receiverId: userId(fromFirst ? 2 * c + 1 : 2 * c),
    content: `message ${i} of conversation ${c}`,
    imageUrl: null,
    publicId: null,
    createdAt: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
  };
}

/** Message j of the big conversation (between users 2C and 2C+1), after every other message. */
function bigMessage(j: number, id: ObjectId): Message {
  const [a, b] = [userId(2 * CONVERSATIONS), userId(2 * CONVERSATIONS + 1)];
  return {
    id: id.toHexString(),
    senderId: j % 2 === 0 ? a : b,
    receiverId: j % 2 === 0 ? b : a,
    content: `message ${j} of the big conversation`,
    imageUrl: null,
    publicId: null,
    createdAt: new Date(Date.UTC(2026, 0, 1) + N + j).toISOString(),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timed(label: string, n: number, run: (k: number) => Promise<void>) {
  const ms: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = performance.now();
    await run(k);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const row = {
    query: label,
    p50: +percentile(ms, 50).toFixed(2),
    p99: +percentile(ms, 99).toFixed(2),
  };
  console.log(JSON.stringify(row));
  return row;
}

async function startServer(): Promise<{ uri: string; stop: () => Promise<void> }> {
  if (args.uri) return { uri: args.uri, stop: async () => {} };
  const port = args.port ? Number(args.port) : await freePort();
  const cleanups: (() => void)[] = [];
  const serverArgs = ['-listen', `127.0.0.1:${port}`, '-log-level', 'error'];
  if (args.backend === 'postgresql') {
    const pgDb = `ferret_probe_${DB}`;
    const exists = execFileSync('psql', [
      args.pg,
      '-Atc',
      `SELECT 1 FROM pg_database WHERE datname = '${pgDb}'`,
    ]);
    if (exists.toString().trim() !== '1')
      execFileSync('psql', [args.pg, '-qc', `CREATE DATABASE ${pgDb}`]);
    if (!args.keep)
      cleanups.push(() => execFileSync('psql', [args.pg, '-qc', `DROP DATABASE ${pgDb}`]));
    const url = new URL(args.pg);
    url.pathname = `/${pgDb}`;
    serverArgs.push('-postgresql-url', url.toString());
  } else {
    const dir = args.keep
      ? path.join(tmpdir(), `ferret-probe-${DB}`)
      : mkdtempSync(path.join(tmpdir(), 'ferret-probe-'));
    if (!args.keep) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    serverArgs.push('-sqlite-dir', dir);
  }
  const proc = new ManagedProcess('ferretdb', args.bin, serverArgs);
  const uri = `mongodb://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    for (const c of cleanups) c();
  };
  await waitUntil(
    `ferretdb on ${port}`,
    async () => {
      const c = new MongoClient(uri, { serverSelectionTimeoutMS: 300 });
      try {
        await c.connect();
        return true;
      } catch {
        return false;
      } finally {
        await c.close();
      }
    },
    30000,
    { giveUpIf: () => proc.deadReason },
  ).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { uri, stop };
}

async function main() {
  const server = await startServer();
  const client = new MongoClient(server.uri);
  try {
    await client.connect();
    const db = client.db(DB);
    const store = MessageStore.fromDb(db);
    await store.ensureIndexes();

    // Ids derived from the index, so that a kept store is found again by a later run.
    const ids: ObjectId[] = Array.from(
      { length: N },
      (_, i) => new ObjectId(`6500${i.toString(16).padStart(20, '0')}`),
    );
    const bigIds: ObjectId[] = Array.from(
      { length: BIG },
      (_, j) => new ObjectId(`6501${j.toString(16).padStart(20, '0')}`),
    );
    const seeded = await store.collection.estimatedDocumentCount();
    const total = N + BIG;
    if (seeded !== 0 && seeded !== total) {
      throw new Error(`${DB} holds ${seeded} documents, not ${total}`);
    }
    const seedStart = performance.now();
    for (let i = 0; i < (seeded === total ? 0 : total); i += BATCH) {
      const docs = [];
      for (let k = i; k < Math.min(total, i + BATCH); k++) {
        const m = k < N ? message(k, ids[k]) : bigMessage(k - N, bigIds[k - N]);
        docs.push(toMessageDoc(m));
      }
      await store.collection.insertMany(docs, { ordered: false });
      if ((i / BATCH) % 100 === 99) {
        const s = (performance.now() - seedStart) / 1000;
        console.error(`  seeded ${i + BATCH} in ${s.toFixed(0)} s`);
      }
    }
    const seedSeconds = (performance.now() - seedStart) / 1000;
    console.log(
      JSON.stringify({
        backend: args.uri ? 'uri' : args.backend,
        bin: args.uri ? undefined : path.basename(args.bin),
        messages: N,
        conversations: CONVERSATIONS,
        big: BIG,
        seeded: seeded !== total,
        seedSeconds: +seedSeconds.toFixed(1),
        seedDocsPerSecond: seeded === total ? null : Math.round(total / seedSeconds),
      }),
    );

    const random = rng(42);
    const pick = () => Math.floor(random() * N);
    const perConversation = Math.ceil(N / CONVERSATIONS);
    const rows = [];

    rows.push(
      await timed('latest page', SAMPLES, async () => {
        const c = Math.floor(random() * Math.min(CONVERSATIONS, N));
        const conv = `${userId(2 * c)}:${userId(2 * c + 1)}`;
        const page = await store.findConversation(conv, PAGE);
        // Expected: messages c, c+C, c+2C, … — the last PAGE of them, oldest first.
        const count = Math.floor((N - 1 - c) / CONVERSATIONS) + 1;
        const want = Math.min(PAGE, count);
        const firstI = c + (count - want) * CONVERSATIONS;
        if (page.length !== want || page[0]?.id !== ids[firstI].toHexString()) {
          throw new Error(`wrong page for conversation ${c}: ${page.length} of ${want}`);
        }
      }),
    );
    if (BIG > 0) {
      const conv = `${userId(2 * CONVERSATIONS)}:${userId(2 * CONVERSATIONS + 1)}`;
      rows.push(
        await timed(`big conversation page (${BIG} messages)`, SAMPLES, async () => {
          const page = await store.findConversation(conv, PAGE);
          const want = Math.min(PAGE, BIG);
          if (page.length !== want || page[0]?.id !== bigIds[BIG - want].toHexString()) {
            throw new Error(`wrong page of the big conversation: ${page.length} of ${want}`);
          }
        }),
      );
    }
    rows.push(
      await timed('by id', SAMPLES, async () => {
        const i = pick();
        const doc = await store.findDoc(ids[i].toHexString());
        if (!doc || !doc._id.equals(ids[i])) throw new Error(`message ${i} not found`);
      }),
    );
    rows.push(
      await timed('edit', SAMPLES, async (k) => {
        const i = pick();
        const m = message(i, ids[i]);
        const edited = await store.writeEdit(m, `edit ${k}`, new Date());
        if (edited?.content !== `edit ${k}`) throw new Error(`edit of ${i} not applied`);
      }),
    );
    const deleted: number[] = [];
    rows.push(
      await timed('delete', SAMPLES, async () => {
        const i = pick();
        deleted.push(i);
        await store.writeTombstone(message(i, ids[i]), new Date());
      }),
    );
    for (const i of deleted.slice(0, 20)) {
      if (await store.findDoc(ids[i].toHexString())) throw new Error(`deleted ${i} still live`);
    }
    const tombstoned = await store.collection.findOne({ _id: ids[deleted[0]] });
    if (!tombstoned?.deletedAt) throw new Error('tombstone not stored');
    fromMessageDoc(tombstoned);
    console.log(JSON.stringify({ summary: true, messages: N, perConversation, page: PAGE, rows }));
    if (args.keep) {
      // Undo the tombstones, so that a later run over the kept store finds every message live.
      for (const i of deleted) {
        await store.collection.updateOne({ _id: ids[i] }, { $unset: { deletedAt: '' } });
      }
    } else {
      await db.dropDatabase();
    }
  } finally {
    await client.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
