import { ConfigError } from '../config/config.js';
import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-client.js';

/**
 * Records the key layout (partition count) in Redis at the first start and refuses a
 * process configured with another: its keys would not find the existing ones, and the
 * daemon's records of messages not yet in MongoDB would be stranded.
 * @throws ConfigError REDIS_PARTITIONS when this Redis holds another layout
 */
export async function claimKeyLayout(redis: RedisClient, space: KeySpace): Promise<void> {
  await redis.set(space.shared.keyLayout, String(space.count), { NX: true });
  await checkKeyLayout(redis, space);
}

/**
 * Refuses a layout other than the one recorded in Redis, writing nothing (`npm start`
 * checks it before PM2 starts anything).
 * @throws ConfigError REDIS_PARTITIONS when this Redis holds another layout
 */
export async function checkKeyLayout(redis: RedisClient, space: KeySpace): Promise<void> {
  const key = space.shared.keyLayout;
  const have = await redis.get(key);
  if (have !== null && have !== String(space.count)) {
    throw new ConfigError(
      'REDIS_PARTITIONS',
      `this Redis holds keys laid out in ${have} partition(s) (${key}); ` +
        'keep that value, or start from an empty Redis once the daemon persisted every pending message',
      String(space.count),
    );
  }
}
