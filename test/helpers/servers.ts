import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  prepareMongoServerProgram,
  startMongoServer,
  type RunningMongo,
} from '../../src/local/mongo-server.js';
import { freePort } from '../../src/local/port-probe.js';
import {
  freeClusterPorts,
  startRedisCluster,
  type RunningCluster,
} from '../../src/local/redis-cluster.js';
import { startRedisServer, type RunningRedis } from '../../src/local/redis-server.js';

/**
 * Throwaway servers for tests: a `redis-server` with the project's redis.conf
 * (persistence off unless asked) and a MongoDB-protocol server (mongod on PATH, else the
 * embedded FerretDB), each on a free port with a temporary data directory.
 */
export interface ThrowawayRedis extends RunningRedis {
  dir: string;
  /** Stops the server (SIGTERM) and removes its directory. */
  dispose(): Promise<void>;
  /** Starts it again on the same port and directory (after stop()). */
  restart(): Promise<ThrowawayRedis>;
}

export async function startThrowawayRedis(
  opts: { persistence?: boolean; extraArgs?: string[]; port?: number; dir?: string } = {},
): Promise<ThrowawayRedis> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'chat-redis-'));
  const running = await startRedisServer({
    port,
    dir,
    persistence: opts.persistence ?? false,
    extraArgs: opts.extraArgs,
  });
  return {
    ...running,
    dir,
    async dispose() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: () => startThrowawayRedis({ ...opts, port, dir }),
  };
}

export interface ThrowawayCluster extends RunningCluster {
  dir: string;
  /** Stops every node and removes the directory. */
  dispose(): Promise<void>;
}

/** A Redis Cluster (3 masters + 3 replicas unless asked, persistence off) of child processes. */
export async function startThrowawayCluster(
  opts: { masters?: number; replicas?: number; extraArgs?: string[] } = {},
): Promise<ThrowawayCluster> {
  const replicas = opts.replicas ?? 1;
  const ports = await freeClusterPorts((opts.masters ?? 3) * (replicas + 1));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-cluster-'));
  let running: RunningCluster;
  try {
    running = await startRedisCluster({
      ports,
      dir,
      replicas,
      persistence: false,
      extraArgs: opts.extraArgs,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...running,
    dir,
    async dispose() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ThrowawayMongo extends RunningMongo {
  dir: string;
  dispose(): Promise<void>;
  restart(): Promise<ThrowawayMongo>;
}

export async function startThrowawayMongo(
  opts: { port?: number; dir?: string } = {},
): Promise<ThrowawayMongo> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'chat-mongo-'));
  const running = await startMongoServer({ port, dataDir: dir });
  return {
    ...running,
    dir,
    async dispose() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: () => startThrowawayMongo({ port, dir }),
  };
}

/** The servers shared by the whole run (started by the root hooks, or given by env). */
export interface SharedServers {
  redisUrl: string;
  mongoUri: string;
}

let shared: SharedServers | undefined;
const owned: Array<{ dispose(): Promise<void> }> = [];

export async function startSharedServers(): Promise<SharedServers> {
  const given = { redis: process.env.TEST_REDIS_URL, mongo: process.env.TEST_MONGODB_URI };
  // A first build of FerretDB takes minutes on a fresh machine: done before any server's
  // readiness wait starts, so that no wait runs out during it.
  if (!given.mongo) await prepareMongoServerProgram();
  const [redisUrl, mongoUri] = await Promise.all([
    given.redis
      ? given.redis
      : startThrowawayRedis().then((r) => {
          owned.push(r);
          return r.url;
        }),
    given.mongo
      ? given.mongo
      : startThrowawayMongo().then((m) => {
          owned.push(m);
          return m.uri;
        }),
  ]);
  shared = { redisUrl, mongoUri };
  return shared;
}

export async function stopSharedServers(): Promise<void> {
  await Promise.all(owned.splice(0).map((s) => s.dispose()));
  shared = undefined;
}

export function sharedServers(): SharedServers {
  if (!shared) throw new Error('shared test servers are not started (root hooks not loaded?)');
  return shared;
}
