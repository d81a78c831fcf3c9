import type { RedisNodeClient } from '../../src/redis/redis-client.js';

/** CPU seconds Redis has used so far (user + system, main thread and children). */
export async function redisCpuSeconds(redis: RedisNodeClient): Promise<number> {
  const info = await redis.info('cpu');
  const get = (name: string) => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}
