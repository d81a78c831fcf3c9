import { existsSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';

/**
 * Fills `process.env` from `.env` (the operator's file, never committed) and then from
 * `config/<NODE_ENV>.env` (committed defaults, no secrets). Variables already set in the
 * environment win over both, and `.env` wins over `config/`.
 */
export function loadEnvFiles(root = process.cwd()): void {
  const files = [
    path.join(root, '.env'),
    path.join(root, 'config', `${process.env.NODE_ENV ?? 'development'}.env`),
  ];
  for (const file of files) {
    if (existsSync(file)) dotenv.config({ path: file, quiet: true });
  }
}
