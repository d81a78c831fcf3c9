import type { MongoClient } from 'mongodb';
import type { ComponentHealthJson, HealthReportJson } from '../contract/http-schemas.js';
import { isClusterClient, type RedisClient } from '../redis/redis-client.js';
import { masterClients } from '../redis/redis-nodes.js';

/** One dependency's health (the contract's `componentHealthSchema`). */
export type ComponentHealth = ComponentHealthJson;

/** The answer of `GET /health` (the contract's `healthReportSchema`). */
export type HealthReport = HealthReportJson;

async function timed(
  check: () => Promise<Partial<ComponentHealth> | undefined | void>,
  timeoutMs: number,
): Promise<ComponentHealth> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const latencyMs = Math.round((performance.now() - start) * 10) / 10;
    return { ...(found ?? {}), status: 'ok', latencyMs };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One node: PING. A cluster: every master of the slot map answers PING and the cluster
 * says `cluster_state:ok` (all slots served), or it is down.
 */
async function checkRedis(redis: RedisClient): Promise<Partial<ComponentHealth> | undefined> {
  if (!redis.isReady) throw new Error('not connected');
  if (!isClusterClient(redis)) {
    await redis.ping();
    return undefined;
  }
  const masters = await masterClients(redis);
  await Promise.all(masters.map((node) => node.ping()));
  const state = /cluster_state:(\w+)/.exec(String(await masters[0]!.clusterInfo()))?.[1];
  if (state !== 'ok') throw new Error(`cluster_state:${state ?? '?'}`);
  return { masters: masters.length };
}

/** Pings Redis and MongoDB in parallel; each gets `timeoutMs` to answer. */
export async function checkHealth(
  deps: { redis: RedisClient; mongo: MongoClient; mongoDb: string },
  timeoutMs = 1000,
): Promise<HealthReport> {
  const [redis, mongo] = await Promise.all([
    timed(() => checkRedis(deps.redis), timeoutMs),
    timed(async () => {
      await deps.mongo.db(deps.mongoDb).command({ ping: 1 });
    }, timeoutMs),
  ]);
  return {
    status: redis.status === 'ok' && mongo.status === 'ok' ? 'ok' : 'degraded',
    redis,
    mongo,
  };
}
