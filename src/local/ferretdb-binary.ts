import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './project-root.js';

/** Path of the embedded-FerretDB program built from tools/ferretdb. */
export function ferretdbBinaryPath(root = projectRoot()): string {
  return path.join(root, '.bin', 'ferretdb-local');
}

/**
 * Builds tools/ferretdb (a small Go program embedding github.com/FerretDB/FerretDB/ferretdb
 * v1.24) into .bin/ferretdb-local when it is missing or older than its sources.
 * @throws Error with a clear message when Go is not installed.
 */
export function ensureFerretdbBinary(root = projectRoot()): string {
  const bin = ferretdbBinaryPath(root);
  const src = path.join(root, 'tools', 'ferretdb');
  const newest = Math.max(
    ...['main.go', 'go.mod', 'go.sum'].map((f) => statSync(path.join(src, f)).mtimeMs),
  );
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      'No MongoDB server is configured (MONGODB_URI unset), no `mongod` is on PATH, and Go is ' +
        'not installed to build the local FerretDB server. Install Go (https://go.dev/dl), ' +
        'put mongod on PATH, or set MONGODB_URI.',
    );
  }
  process.stderr.write('Building the local MongoDB-protocol server (FerretDB, first run only)…\n');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: src, stdio: 'inherit' });
  return bin;
}

/** Full path of `mongod` when it is on PATH. */
export function findMongod(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mongod'], { encoding: 'utf8' });
  const p = r.stdout?.trim();
  return r.status === 0 && p ? p : undefined;
}
