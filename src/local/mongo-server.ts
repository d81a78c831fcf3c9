import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { waitUntil } from '../lifecycle/wait.js';
import { ensureFerretdbBinary, findMongod } from './ferretdb-binary.js';
import { ManagedProcess } from './managed-process.js';
import { isPortOpen } from './port-probe.js';

export interface MongoServerOptions {
  port: number;
  /** Data directory; FerretDB keeps SQLite files there, mongod its dbpath. */
  dataDir: string;
  /** Reuse a server already listening on the port. */
  reuse?: boolean;
}

export interface RunningMongo {
  uri: string;
  port: number;
  kind: 'mongod' | 'ferretdb' | 'reused';
  process: ManagedProcess | undefined;
  stop(): Promise<void>;
}

/** The command that serves MongoDB locally: a real mongod on PATH, else embedded FerretDB. */
export async function mongoServerCommand(opts: MongoServerOptions): Promise<{
  kind: 'mongod' | 'ferretdb';
  command: string;
  args: string[];
}> {
  const mongod = findMongod();
  if (mongod) {
    return {
      kind: 'mongod',
      command: mongod,
      args: ['--bind_ip', '127.0.0.1', '--port', String(opts.port), '--dbpath', opts.dataDir],
    };
  }
  return {
    kind: 'ferretdb',
    command: await ensureFerretdbBinary(),
    args: ['-listen', `127.0.0.1:${opts.port}`, '-sqlite-dir', opts.dataDir, '-log-level', 'error'],
  };
}

/**
 * Makes the local MongoDB-protocol server's program ready (builds FerretDB when no mongod is
 * on PATH), so that callers can do it before any readiness wait starts.
 */
export async function prepareMongoServerProgram(): Promise<void> {
  if (!findMongod()) await ensureFerretdbBinary();
}

async function answersPing(uri: string): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

/** Starts (or reuses) a MongoDB-protocol server on 127.0.0.1:port and waits for `ping`. */
export async function startMongoServer(opts: MongoServerOptions): Promise<RunningMongo> {
  const uri = `mongodb://127.0.0.1:${opts.port}`;
  if (opts.reuse && (await isPortOpen('127.0.0.1', opts.port)) && (await answersPing(uri))) {
    return { uri, port: opts.port, kind: 'reused', process: undefined, stop: async () => {} };
  }
  const { kind, command, args } = await mongoServerCommand(opts);
  mkdirSync(path.resolve(opts.dataDir), { recursive: true });
  const proc = new ManagedProcess(kind, command, args);
  try {
    await waitUntil(`${kind} on port ${opts.port}`, () => answersPing(uri), 30000, {
      giveUpIf: () => proc.deadReason,
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { uri, port: opts.port, kind, process: proc, stop: () => proc.stop() };
}
