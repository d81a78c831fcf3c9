import { createNodeRedisClient, RedisConnection } from 'bullmq';
import { createClient } from 'redis';

/**
 * BullMQ 6 talks to Redis through ioredis unless a client factory is set; it ships an
 * adapter for node-redis (`createNodeRedisClient`), the client this project uses, so the
 * baseline needs no second Redis driver. Every connection BullMQ opens (including a
 * worker's blocking one) goes through this factory, to the URL given here.
 */
export function useNodeRedisForBullmq(redisUrl: string): { host: string; port: number } {
  const url = new URL(redisUrl);
  RedisConnection.clientFactory = (opts) => {
    const client = createClient({
      url: `redis://${opts.host ?? url.hostname}:${opts.port ?? url.port}`,
    });
    return createNodeRedisClient(client);
  };
  return { host: url.hostname, port: Number(url.port) };
}
