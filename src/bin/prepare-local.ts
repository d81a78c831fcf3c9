// Run by `npm start` before PM2: validates the whole configuration (and REDIS_PARTITIONS against a
// Redis that already answers), creates ./data and, when
// a local MongoDB-protocol server will be needed (MONGODB_URI unset, no mongod on PATH,
// nothing on 127.0.0.1:27017), builds the embedded FerretDB program once. Kept out of
// ecosystem.config.js so that a bad variable stops `npm start` before PM2 starts anything,
// and a slow first build shows its progress here instead of inside PM2.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, type Config } from '../config/config.js';
import { loadEnvFiles } from '../config/load-env.js';
import { ensureFerretdbBinary, findMongod } from '../local/ferretdb-binary.js';
import { isPortOpen } from '../local/port-probe.js';
import { projectRoot } from '../local/project-root.js';
import { createLogger } from '../logging/logger.js';
import { checkKeyLayout } from '../redis/key-layout.js';
import { keySpaceOf } from '../redis/key-space.js';
import { createRedisClient } from '../redis/redis-client.js';

loadEnvFiles();
let config: Config;
try {
  config = loadConfig(process.env, 'all');
  await checkLayoutIfReachable(config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(CONFIG_EXIT_CODE);
}

const root = projectRoot();
for (const dir of ['data/redis', 'data/ferretdb', 'data/mongo']) {
  mkdirSync(path.join(root, dir), { recursive: true });
}
if (config.mongo.isLocalDefault && !findMongod() && !(await isPortOpen('127.0.0.1', 27017))) {
  try {
    await ensureFerretdbBinary(root);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
// As ecosystem.config.js decides: no local Redis beside REDIS_URL, REDIS_HOST or a cluster.
if (config.redis.isLocalDefault) {
  const r = await isPortOpen('127.0.0.1', 6379);
  process.stderr.write(
    r
      ? 'Reusing the Redis already answering on 127.0.0.1:6379.\n'
      : 'Starting a local redis-server with ./redis.conf on 127.0.0.1:6379.\n',
  );
}

/**
 * REDIS_PARTITIONS against the layout recorded in a Redis that answers already (one the
 * stack would start is checked by the processes themselves, at connect).
 */
async function checkLayoutIfReachable(config: Config): Promise<void> {
  const url = new URL(config.redis.url);
  if (!(await isPortOpen(url.hostname, Number(url.port) || 6379))) return;
  const redis = createRedisClient(
    config.redis,
    createLogger({ level: 'silent', name: 'prepare' }),
    {
      name: 'prepare-local',
      failFastWhenDown: true,
    },
  );
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 3000).unref()),
    ]);
    await checkKeyLayout(redis, keySpaceOf(config.redis));
  } catch (err) {
    // Unreachable or not ready: the processes check at connect.
    if (err instanceof ConfigError) throw err;
  } finally {
    redis.destroy();
  }
}
