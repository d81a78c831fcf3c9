import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
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
 * Common start of every entry point: `.env` + `config/<env>.env`, validation (one line and
 * exit code 1 on a bad variable), the logger, fatal-error handlers.
 */
export function boot(
  name: string,
  opts: { usesTokens?: boolean } = {},
): { config: Config; logger: Logger } {
  loadEnvFiles();
  const generateSecret =
    opts.usesTokens && !process.env.JWT_SECRET && process.env.NODE_ENV !== 'production';
  let config: Config;
  try {
    config = loadConfig(
      generateSecret ? { ...process.env, JWT_SECRET: developmentSecret() } : process.env,
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
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
