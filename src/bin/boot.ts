import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, type Config } from '../config/config.js';
import { loadEnvFiles } from '../config/load-env.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { exitOnFatal } from '../lifecycle/shutdown.js';
import { projectRoot } from '../local/project-root.js';

/**
 * Outside production, an API started without JWT_SECRET uses a generated secret kept in
 * `data/dev-jwt-secret`, so that every local API process (PM2 cluster mode) and restarts
 * accept the same tokens. Created once, race-free (`wx`), readable by the owner only.
 */
function developmentSecret(): string {
  const file = path.join(projectRoot(), 'data', 'dev-jwt-secret');
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    writeFileSync(file, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * Common start of the API and daemon entry points: `.env` + `config/<env>.env`, validation of
 * the variables the process reads (one line and exit code {@link CONFIG_EXIT_CODE} on a bad
 * one, which PM2 does not restart: see ecosystem.config.js), the logger, fatal-error handlers.
 */
export function boot(name: string, role: 'api' | 'daemon'): { config: Config; logger: Logger } {
  loadEnvFiles();
  const generateSecret =
    role === 'api' && !process.env.JWT_SECRET && process.env.NODE_ENV !== 'production';
  let config: Config;
  try {
    config = loadConfig(
      generateSecret ? { ...process.env, JWT_SECRET: developmentSecret() } : process.env,
      role,
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(CONFIG_EXIT_CODE);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, name });
  exitOnFatal(logger);
  if (generateSecret) {
    logger.warn(
      '!!! JWT_SECRET is not set: using a development secret generated in data/dev-jwt-secret. ' +
        'Set JWT_SECRET (at least 32 characters; required when NODE_ENV=production). !!!',
    );
  }
  return { config, logger };
}
