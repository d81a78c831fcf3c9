import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findGoToolchain } from './go-toolchain.js';
import { projectRoot } from './project-root.js';

/** How often a running build reports that it is still going. */
const PROGRESS_EVERY_MS = 10_000;

/** Path of the embedded-FerretDB program built from tools/ferretdb. */
export function ferretdbBinaryPath(root = projectRoot()): string {
  return path.join(root, '.bin', 'ferretdb-local');
}

/** The Go module whose source tools/ferretdb/patches change before the build. */
const PATCHED_MODULE = 'github.com/FerretDB/FerretDB';
/** Bumped when the way the program is built changes, so that older builds are redone. */
const BUILD_RECIPE = 'patched-replace-1';

/** The patches of tools/ferretdb/patches, applied in name order. */
function patchFiles(src: string): string[] {
  const dir = path.join(src, 'patches');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.patch'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** What the program is built from: a hash of the recipe, the sources and the patches. */
function buildKey(root: string): string {
  const src = path.join(root, 'tools', 'ferretdb');
  const hash = createHash('sha256').update(BUILD_RECIPE);
  for (const file of [
    ...['main.go', 'go.mod', 'go.sum'].map((f) => path.join(src, f)),
    ...patchFiles(src),
  ]) {
    hash.update(`\0${path.relative(src, file)}\0`).update(readFileSync(file));
  }
  return hash.digest('hex');
}

/** Where the key of the sources .bin/ferretdb-local was built from is kept. */
function keyPath(root: string): string {
  return `${ferretdbBinaryPath(root)}.key`;
}

/** True when .bin/ferretdb-local exists and was built from the current sources and patches. */
export function ferretdbBinaryIsCurrent(root = projectRoot()): boolean {
  const bin = ferretdbBinaryPath(root);
  if (!existsSync(bin) || !existsSync(keyPath(root))) return false;
  return readFileSync(keyPath(root), 'utf8').trim() === buildKey(root);
}

/** Where build progress goes: stderr, line by line. */
export type ProgressLog = (line: string) => void;
const toStderr: ProgressLog = (line) => process.stderr.write(`${line}\n`);

/** One build per project root and process: parallel callers share it. */
const builds = new Map<string, Promise<string>>();

/**
 * Builds tools/ferretdb (a small Go program embedding github.com/FerretDB/FerretDB/ferretdb
 * v1.24) into .bin/ferretdb-local when it is missing or was built from other sources or
 * patches, without blocking the event loop, reporting progress (`log`, stderr by default)
 * while it builds.
 *
 * With patches in tools/ferretdb/patches, the build copies FerretDB's module source (the
 * version go.mod pins, from the Go module cache or proxy) and tools/ferretdb into a temporary
 * directory, applies the patches there and builds with a `replace` of the module by the
 * patched copy; tools/ferretdb itself is left as it is.
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
  const go = await findGoToolchain(say);
  if (!go) {
    throw new Error(
      'No MongoDB server is configured (MONGODB_URI unset), no `mongod` is on PATH, and Go is ' +
        'not installed to build the local FerretDB server. Install Go (on Debian/Ubuntu: ' +
        'apt-get install golang-go; a Go older than 1.24 fetches Go 1.24 as a module by ' +
        'itself), put mongod on PATH, or set MONGODB_URI (TEST_MONGODB_URI for the tests).',
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
  const key = buildKey(root);
  const src = path.join(root, 'tools', 'ferretdb');
  const patches = patchFiles(src);
  let workDir: string | undefined;
  let buildDir = src;
  if (patches.length > 0) {
    try {
      workDir = mkdtempSync(path.join(os.tmpdir(), 'ferretdb-build-'));
      buildDir = await preparePatchedSource(go, src, patches, workDir);
    } catch (err) {
      if (workDir) rmSync(workDir, { recursive: true, force: true });
      throw err;
    }
  }

  let downloaded = 0;
  let compiled = 0;
  const tail: string[] = [];
  const child = spawn(go, ['build', '-v', '-buildvcs=false', '-o', tmp, '.'], {
    cwd: buildDir,
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
    writeFileSync(`${tmp}.key`, `${key}\n`);
    renameSync(`${tmp}.key`, keyPath(root));
  } finally {
    clearInterval(progress);
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.key`, { force: true });
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }
  say(`Built .bin/ferretdb-local in ${Math.round((Date.now() - started) / 1000)} s.`);
  return bin;
}

/**
 * Lays out in `workDir` a copy of tools/ferretdb whose go.mod replaces the pinned FerretDB
 * module by a patched copy of its source.
 * @returns the directory to build in.
 * @throws Error naming the patch that does not apply, or the failing go command.
 */
async function preparePatchedSource(
  go: string,
  src: string,
  patches: string[],
  workDir: string,
): Promise<string> {
  const run = promisify(execFile);
  const version = /^require\s+github\.com\/FerretDB\/FerretDB\s+(\S+)/m.exec(
    readFileSync(path.join(src, 'go.mod'), 'utf8'),
  )?.[1];
  if (!version) throw new Error(`tools/ferretdb/go.mod does not require ${PATCHED_MODULE}`);

  let moduleDir: string;
  try {
    const { stdout } = await run(go, ['mod', 'download', '-json', `${PATCHED_MODULE}@${version}`], {
      cwd: src,
    });
    moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (err) {
    throw new Error(`Downloading ${PATCHED_MODULE}@${version} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }

  const patched = path.join(workDir, 'ferretdb');
  cpSync(moduleDir, patched, { recursive: true });
  // The module cache is read-only; the copy must be writable to patch it and to delete it.
  makeWritable(patched);
  for (const patch of patches) {
    try {
      // Outside any git repository `git apply` works as `patch -p1`, and fails on a mismatch;
      // the ceiling keeps a repository above the temporary directory from being used.
      await run('git', ['apply', '--whitespace=nowarn', patch], {
        cwd: patched,
        env: { ...process.env, GIT_CEILING_DIRECTORIES: workDir },
      });
    } catch (err) {
      throw new Error(
        `Applying ${path.basename(patch)} to ${PATCHED_MODULE}@${version} failed: ` +
          `${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  const build = path.join(workDir, 'build');
  mkdirSync(build);
  for (const f of ['main.go', 'go.mod', 'go.sum']) {
    copyFileSync(path.join(src, f), path.join(build, f));
  }
  appendFileSync(path.join(build, 'go.mod'), `\nreplace ${PATCHED_MODULE} => ../ferretdb\n`);
  return build;
}

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

/** Full path of `mongod` when it is on PATH. */
export function findMongod(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mongod'], { encoding: 'utf8' });
  const p = r.stdout?.trim();
  return r.status === 0 && p ? p : undefined;
}
