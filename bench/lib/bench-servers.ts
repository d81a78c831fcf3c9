import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareMongoServerProgram, startMongoServer } from '../../src/local/mongo-server.js';
import { freePort } from '../../src/local/port-probe.js';
import { startRedisServer } from '../../src/local/redis-server.js';
import { onCleanup } from './cleanup.js';

/** The servers of one benchmark run, started like the tests start theirs. */
export interface BenchServers {
  redisUrl: string;
  redisPort: number;
  /** PID of redis-server, for reading its CPU time from /proc. */
  redisPid: number | undefined;
  mongoUri: string;
  /** PID of the MongoDB-protocol server (FerretDB or mongod), for its CPU time from /proc. */
  mongoPid: number | undefined;
  mongoKind: string;
}

/**
 * Starts a throwaway `redis-server` with the project's redis.conf (persistence off: no
 * scenario here measures AOF, and fsyncs would only add noise) and a MongoDB-protocol
 * server (mongod on PATH, else the embedded FerretDB), each on a free port with a
 * temporary directory that is removed at cleanup.
 */
export async function startBenchServers(): Promise<BenchServers> {
  const redisDir = mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const mongoDir = mkdtempSync(path.join(os.tmpdir(), 'bench-mongo-'));
  await prepareMongoServerProgram(); // a first FerretDB build, before any readiness wait
  const [redis, mongo] = await Promise.all([
    freePort().then((port) => startRedisServer({ port, dir: redisDir, persistence: false })),
    freePort().then((port) => startMongoServer({ port, dataDir: mongoDir })),
  ]);
  onCleanup('redis-server', async () => {
    await redis.stop();
    rmSync(redisDir, { recursive: true, force: true });
  });
  onCleanup('mongo-server', async () => {
    await mongo.stop();
    rmSync(mongoDir, { recursive: true, force: true });
  });
  return {
    redisUrl: redis.url,
    redisPort: redis.port,
    redisPid: redis.process?.pid,
    mongoUri: mongo.uri,
    mongoPid: mongo.process?.pid,
    mongoKind: mongo.kind,
  };
}
