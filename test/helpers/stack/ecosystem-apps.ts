import { createRequire } from 'node:module';
import path from 'node:path';
import type { StartOptions } from 'pm2';
import { projectRoot } from '../../../src/local/project-root.js';

/** The two apps of ecosystem.config.js the stack runs. */
export interface EcosystemApps {
  api: StartOptions;
  daemon: StartOptions;
}

/**
 * Loads the project's ecosystem.config.js as PM2 would (`require` of the ESM file, whose
 * `module.exports` export is `{ apps }`), with `API_INSTANCES`/`DAEMON_INSTANCES` and
 * `REDIS_URL`/`MONGODB_URI` set so that it adds no local servers, and returns the API and
 * expiry-daemon definitions.
 *
 * The file is loaded once per process (require caches it); callers override `instances`
 * and `env` per stack.
 */
export function loadEcosystemApps(env: {
  apiInstances: number;
  daemonInstances: number;
  redisUrl: string;
  mongoUri: string;
}): EcosystemApps {
  const saved = { ...process.env };
  Object.assign(process.env, {
    API_INSTANCES: String(env.apiInstances),
    DAEMON_INSTANCES: String(env.daemonInstances),
    REDIS_URL: env.redisUrl,
    MONGODB_URI: env.mongoUri,
  });
  try {
    const file = path.join(projectRoot(), 'ecosystem.config.js');
    const { apps } = createRequire(import.meta.url)(file) as { apps: StartOptions[] };
    const api = apps.find((a) => a.name === 'api');
    const daemon = apps.find((a) => a.name === 'expiry-daemon');
    if (!api || !daemon) throw new Error('ecosystem.config.js has no api or expiry-daemon app');
    return { api, daemon };
  } finally {
    // The variables were only for the file's decisions; the test process keeps its own.
    for (const k of ['API_INSTANCES', 'DAEMON_INSTANCES', 'REDIS_URL', 'MONGODB_URI']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}
