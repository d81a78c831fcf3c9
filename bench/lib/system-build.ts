import { execFile } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './child.js';
import { onCleanup } from './cleanup.js';

const run = promisify(execFile);

/**
 * Where the bench compiles its own copy of src/: under node_modules/ (ignored by git, ESLint
 * and Prettier alike) and inside the project, so that the compiled code still finds the
 * project root (redis.conf) and the dependencies by walking up.
 */
export const SYSTEM_BUILDS_DIR = path.join(ROOT, 'node_modules', '.cache', 'chat-bench');
/** This run's own build: two runs at once must not delete each other's (removed at the end). */
export const SYSTEM_BUILD_DIR = path.join(SYSTEM_BUILDS_DIR, `build-${process.pid}`);

/**
 * Compiles src/ with the project's build config into {@link SYSTEM_BUILD_DIR} (plus the Lua
 * scripts and static pages, as `npm run build` copies them), so that the API and daemons run
 * as in production — plain `node` on JavaScript. Running them through tsx instead would add
 * tsx's loader thread (~5 ms CPU per second even when idle, measured), which is most of an
 * idle daemon's cost. A private directory, not dist/, so that the bench never races the
 * other engineers' builds. Type errors of work in progress do not stop it: tsc still emits.
 * @returns a warning when tsc reported errors, else undefined.
 */
export async function buildSystem(): Promise<string | undefined> {
  rmSync(SYSTEM_BUILD_DIR, { recursive: true, force: true });
  // Registered first, so run last: after every process started from the build has stopped.
  onCleanup('system build', async () => rmSync(SYSTEM_BUILD_DIR, { recursive: true, force: true }));
  let warning: string | undefined;
  try {
    await run(
      path.join(ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', SYSTEM_BUILD_DIR, '--sourceMap', 'false'],
      { cwd: ROOT, timeout: 180000, maxBuffer: 16 * 2 ** 20 },
    );
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? (err as Error).message;
    warning = `tsc reported errors (built anyway): ${out.split('\n').slice(0, 3).join(' | ')}`;
  }
  for (const dir of ['redis/scripts', 'http/public']) {
    const from = path.join(ROOT, 'src', dir);
    if (existsSync(from)) cpSync(from, path.join(SYSTEM_BUILD_DIR, dir), { recursive: true });
  }
  for (const entry of ['bin/api.js', 'bin/daemon.js']) {
    if (!existsSync(path.join(SYSTEM_BUILD_DIR, entry))) {
      throw new Error(`the build of src/ produced no ${entry}${warning ? `: ${warning}` : ''}`);
    }
  }
  return warning;
}
