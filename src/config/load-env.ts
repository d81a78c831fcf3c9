import { existsSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';

/**
 * Fills `process.env` from `.env` (the operator's file, never committed) and then from
 * `config/<NODE_ENV>.env` (committed defaults, no secrets). Variables already set in the
 * environment win over both, and `.env` wins over `config/`.
 */
export function loadEnvFiles(root = process.cwd()): void {
  const load = (file: string) => {
    if (existsSync(file)) dotenv.config({ path: file, quiet: true });
  };
  load(path.join(root, '.env'));
  // After .env, so that a NODE_ENV set only there picks its defaults file.
  load(path.join(root, 'config', `${process.env.NODE_ENV ?? 'development'}.env`));
}
