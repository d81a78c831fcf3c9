import type { MongoClient } from 'mongodb';
import type { RedisClient } from '../redis/redis-client.js';

export interface ComponentHealth {
  status: 'ok' | 'down';
  latencyMs?: number;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  redis: ComponentHealth;
  mongo: ComponentHealth;
}

async function timed(check: () => Promise<unknown>, timeoutMs: number): Promise<ComponentHealth> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'ok', latencyMs: Math.round((performance.now() - start) * 10) / 10 };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Pings Redis and MongoDB in parallel; each gets `timeoutMs` to answer. */
export async function checkHealth(
  deps: { redis: RedisClient; mongo: MongoClient; mongoDb: string },
  timeoutMs = 1000,
): Promise<HealthReport> {
  const [redis, mongo] = await Promise.all([
    timed(async () => {
      if (!deps.redis.isReady) throw new Error('not connected');
      return deps.redis.ping();
    }, timeoutMs),
    timed(() => deps.mongo.db(deps.mongoDb).command({ ping: 1 }), timeoutMs),
  ]);
  return {
    status: redis.status === 'ok' && mongo.status === 'ok' ? 'ok' : 'degraded',
    redis,
    mongo,
  };
}
