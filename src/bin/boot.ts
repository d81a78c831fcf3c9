import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { loadEnvFiles } from '../config/load-env.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { exitOnFatal } from '../lifecycle/shutdown.js';

/**
 * Common start of every entry point: `.env` + `config/<env>.env`, validation (one line and
 * exit code 1 on a bad variable), the logger, fatal-error handlers.
 */
export function boot(name: string): { config: Config; logger: Logger } {
  loadEnvFiles();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, name });
  exitOnFatal(logger);
  if (config.auth.jwtSecretGenerated) {
    logger.warn(
      '!!! JWT_SECRET is not set: using a random secret for this process only. Tokens will not ' +
        'survive a restart or work across API processes. Set JWT_SECRET (required in production). !!!',
    );
  }
  return { config, logger };
}
