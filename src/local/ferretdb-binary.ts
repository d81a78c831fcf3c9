import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './project-root.js';

/** Where the official Go tarball installs itself; used when `go` is not on PATH. */
const GO_FALLBACK = '/usr/local/go/bin/go';
/** How often a running build reports that it is still going. */
const PROGRESS_EVERY_MS = 10_000;

/** Path of the embedded-FerretDB program built from tools/ferretdb. */
export function ferretdbBinaryPath(root = projectRoot()): string {
  return path.join(root, '.bin', 'ferretdb-local');
}

/** True when .bin/ferretdb-local exists and is not older than its sources. */
export function ferretdbBinaryIsCurrent(root = projectRoot()): boolean {
  const bin = ferretdbBinaryPath(root);
  const src = path.join(root, 'tools', 'ferretdb');
  const newest = Math.max(
    ...['main.go', 'go.mod', 'go.sum'].map((f) => statSync(path.join(src, f)).mtimeMs),
  );
  return existsSync(bin) && statSync(bin).mtimeMs >= newest;
}

/** The `go` command to use: `go` on PATH, else the official tarball's location. */
async function findGo(): Promise<string | undefined> {
  for (const candidate of ['go', GO_FALLBACK]) {
    try {
      await promisify(execFile)(candidate, ['version']);
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Where build progress goes: stderr, line by line. */
export type ProgressLog = (line: string) => void;
const toStderr: ProgressLog = (line) => process.stderr.write(`${line}\n`);

/** One build per project root and process: parallel callers share it. */
const builds = new Map<string, Promise<string>>();

/**
 * Builds tools/ferretdb (a small Go program embedding github.com/FerretDB/FerretDB/ferretdb
 * v1.24) into .bin/ferretdb-local when it is missing or older than its sources, without
 * blocking the event loop, reporting progress (`log`, stderr by default) while it builds.
 *
 * The build writes a temporary file in .bin and renames it into place, so another process
 * building at the same time never runs a half-written program.
 * @returns the program's path.
 * @throws Error with a clear message when Go is not installed or the build fails.
 */
export function ensureFerretdbBinary(
  root = projectRoot(),
  log: ProgressLog = toStderr,
): Promise<string> {
  if (ferretdbBinaryIsCurrent(root)) return Promise.resolve(ferretdbBinaryPath(root));
  let build = builds.get(root);
  if (!build) {
    build = buildFerretdb(root, log).finally(() => builds.delete(root));
    builds.set(root, build);
  }
  return build;
}

async function buildFerretdb(root: string, say: ProgressLog): Promise<string> {
  const go = await findGo();
  if (!go) {
    throw new Error(
      'No MongoDB server is configured (MONGODB_URI unset), no `mongod` is on PATH, and Go is ' +
        'not installed to build the local FerretDB server. Install Go ≥ 1.24 ' +
        '(https://go.dev/dl), put mongod on PATH, or set MONGODB_URI (TEST_MONGODB_URI for ' +
        'the tests).',
    );
  }
  const bin = ferretdbBinaryPath(root);
  mkdirSync(path.dirname(bin), { recursive: true });
  const tmp = `${bin}.${process.pid}.${Date.now()}.tmp`;
  say(
    'Building the local MongoDB-protocol server (FerretDB) into .bin/ferretdb-local — first ' +
      'run only; with empty Go caches it downloads about 60 Go modules and compiles them, ' +
      'which takes a few minutes…',
  );

  const started = Date.now();
  let downloaded = 0;
  let compiled = 0;
  const tail: string[] = [];
  const child = spawn(go, ['build', '-v', '-buildvcs=false', '-o', tmp, '.'], {
    cwd: path.join(root, 'tools', 'ferretdb'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let partial = '';
  const onOutput = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // `go: downloading <module> <version>` per module fetched; `-v` names each package compiled.
      if (line.startsWith('go: downloading ')) downloaded += 1;
      else if (/^[\w.-]+(\/[\w.~+-]+)*$/.test(line)) compiled += 1;
      tail.push(line);
      if (tail.length > 30) tail.shift();
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const progress = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    say(
      `  still building FerretDB… ${seconds} s (${downloaded} modules downloaded, ` +
        `${compiled} packages compiled)`,
    );
  }, PROGRESS_EVERY_MS);

  try {
    const exit = await new Promise<{ code: number | null; signal: string | null }>(
      (resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    if (partial) tail.push(partial);
    if (exit.code !== 0) {
      throw new Error(
        `Building the local FerretDB server failed (go build exited with ` +
          `${exit.code ?? exit.signal}) in tools/ferretdb; its last output:\n${tail.join('\n')}`,
      );
    }
    renameSync(tmp, bin);
  } finally {
    clearInterval(progress);
    rmSync(tmp, { force: true });
  }
  say(`Built .bin/ferretdb-local in ${Math.round((Date.now() - started) / 1000)} s.`);
  return bin;
}

/** Full path of `mongod` when it is on PATH. */
export function findMongod(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mongod'], { encoding: 'utf8' });
  const p = r.stdout?.trim();
  return r.status === 0 && p ? p : undefined;
}
