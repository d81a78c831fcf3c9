import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where the official Go tarball installs itself; used when `go` is not on PATH. */
const GO_FALLBACK = '/usr/local/go/bin/go';

/** The oldest Go that builds tools/ferretdb (its go.mod says `go 1.24`). */
const MINIMUM: readonly [number, number] = [1, 24];

/**
 * The toolchain fetched when only an older Go is installed (Debian 12's `golang-go` is
 * 1.19): the Go proxy serves every Go release as the module `golang.org/toolchain`.
 */
export const FETCHED_GO_VERSION = '1.24.13';

/** `go1.24.13` → [1, 24]; undefined for a version it cannot read (a devel build counts as new). */
function majorMinor(goVersion: string): [number, number] | undefined {
  if (goVersion.startsWith('devel')) return [Infinity, 0];
  const m = /^go(\d+)\.(\d+)/.exec(goVersion);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function isRecentEnough(goVersion: string): boolean {
  const v = majorMinor(goVersion);
  return v !== undefined && (v[0] > MINIMUM[0] || (v[0] === MINIMUM[0] && v[1] >= MINIMUM[1]));
}

/** The version a `go` command reports (`go1.19.8`), or undefined when it does not run. */
async function versionOf(go: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(go, ['version']);
    return /\bgo version (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** The module version of Go `goVersion` for this machine, e.g. `v0.0.1-go1.24.13.linux-amd64`. */
function toolchainModuleVersion(goVersion: string): string {
  const arch = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'armv6l' }[process.arch as string];
  const platform = { linux: 'linux', darwin: 'darwin', freebsd: 'freebsd' }[
    process.platform as string
  ];
  if (!arch || !platform) {
    throw new Error(`No Go toolchain module for ${process.platform}/${process.arch}`);
  }
  return `v0.0.1-go${goVersion}.${platform}-${arch}`;
}

/** Module zips keep no file modes: the toolchain's programs must be made executable again. */
function restoreExecutables(goroot: string): void {
  const dirs = [path.join(goroot, 'bin')];
  const tools = path.join(goroot, 'pkg', 'tool');
  if (existsSync(tools)) {
    for (const d of readdirSync(tools)) dirs.push(path.join(tools, d));
  }
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) chmodSync(path.join(dir, f), 0o555);
  }
}

/**
 * Fetches Go `goVersion` as the module `golang.org/toolchain` with another `go` (module
 * downloads work in every Go with modules; Go ≥ 1.21 would also switch toolchains by itself,
 * Debian 12's 1.19 does not) and returns its `go` command. The module cache keeps it, so
 * later builds find it without a download.
 */
export async function fetchGoToolchain(
  withGo: string,
  goVersion = FETCHED_GO_VERSION,
): Promise<string> {
  const mod = `golang.org/toolchain@${toolchainModuleVersion(goVersion)}`;
  let dir: string;
  try {
    // Outside any module (tools/ferretdb's go.mod asks for a newer Go than olderGo).
    const { stdout } = await run(withGo, ['mod', 'download', '-json', mod], {
      cwd: os.tmpdir(),
      env: { ...process.env, GO111MODULE: 'on', GOFLAGS: '' },
      maxBuffer: 1 << 20,
    });
    dir = (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (err) {
    throw new Error(`Fetching ${mod} with ${withGo} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  restoreExecutables(dir);
  return path.join(dir, 'bin', 'go');
}

/** Where progress goes, one line at a time. */
export type ToolchainLog = (line: string) => void;

/**
 * A `go` command that can build tools/ferretdb: the first of `candidates` (`go` on PATH,
 * then the official tarball's place) that is Go ≥ 1.24; failing that, Go
 * {@link FETCHED_GO_VERSION} fetched through the Go proxy by an older one found there.
 * @returns undefined when no Go is installed at all.
 * @throws Error when only an older Go is installed and the fetch fails.
 */
export async function findGoToolchain(
  say: ToolchainLog,
  candidates: readonly string[] = ['go', GO_FALLBACK],
): Promise<string | undefined> {
  let older: { go: string; version: string } | undefined;
  for (const go of candidates) {
    const version = await versionOf(go);
    if (version === undefined) continue;
    if (isRecentEnough(version)) return go;
    older ??= { go, version };
  }
  if (!older) return undefined;
  say(
    `Go ${older.version.replace(/^go/, '')} (${older.go}) is older than ${MINIMUM.join('.')}: ` +
      `fetching Go ${FETCHED_GO_VERSION} as the module golang.org/toolchain with it…`,
  );
  return fetchGoToolchain(older.go);
}
