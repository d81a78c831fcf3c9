import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';

/**
 * The variables of `.env` (the operator's file, never committed) and `config/<NODE_ENV>.env`
 * (committed defaults, no secrets), `.env` winning; NODE_ENV is taken from `env`, else from
 * `.env`, so that a NODE_ENV set only there picks its defaults file. Nothing is changed:
 * callers put `env` on top (ecosystem.config.js does, to decide as the processes will).
 */
export function readEnvFiles(
  root = process.cwd(),
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const read = (file: string) =>
    existsSync(file) ? dotenv.parse(readFileSync(file, 'utf8')) : ({} as Record<string, string>);
  const dotEnv = read(path.join(root, '.env'));
  const nodeEnv = env.NODE_ENV ?? dotEnv.NODE_ENV ?? 'development';
  return { ...read(path.join(root, 'config', `${nodeEnv}.env`)), ...dotEnv };
}

/**
 * Fills `process.env` from {@link readEnvFiles}: variables already set in the environment
 * win over both files, and `.env` wins over `config/`.
 */
export function loadEnvFiles(root = process.cwd()): void {
  for (const [name, value] of Object.entries(readEnvFiles(root))) {
    if (process.env[name] === undefined) process.env[name] = value;
  }
}
