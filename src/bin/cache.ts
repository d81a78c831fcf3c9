#!/usr/bin/env node
// The cache CLI: `npm run cache -- <command>` (see src/cli/cache-cli.ts for the commands).
import { createInterface } from 'node:readline/promises';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig } from '../config/config.js';
import { loadEnvFiles } from '../config/load-env.js';
import { createLogger } from '../logging/logger.js';
import { runCacheCli } from '../cli/cache-cli.js';

loadEnvFiles();
let code: number;
try {
  const config = loadConfig(process.env, 'cli');
  // The CLI's lines are its answer; service logs only when asked for (LOG_LEVEL=debug), and
  // on stderr, since stdout may be parsed (--json).
  const level = ['debug', 'trace'].includes(config.logLevel) ? config.logLevel : 'silent';
  const logger = createLogger({ level, name: 'cache-cli', toStderr: true });
  code = await runCacheCli(process.argv.slice(2), {
    config,
    logger,
    io: {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
      async confirm(question) {
        if (!process.stdin.isTTY) return false;
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`${question} [y/N] `);
        rl.close();
        return /^y(es)?$/i.test(answer.trim());
      },
    },
  });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  code = CONFIG_EXIT_CODE;
}
process.exit(code);
