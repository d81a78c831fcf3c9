import path from 'node:path';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { freePort } from '../../src/local/port-probe.js';
import { NodeChild } from './child.js';
import type { BenchServers } from './bench-servers.js';
import { SYSTEM_BUILD_DIR } from './system-build.js';

let profileDir: string | undefined;

/**
 * With a directory, every API, daemon and bare Koa baseline process started afterwards
 * writes a V8 CPU profile there when it exits (`--cpu-prof`): `npm run bench -- --profile`.
 * Off by default (the profiler costs a few percent).
 */
export function profileSystemProcesses(dir: string | undefined): void {
  profileDir = dir;
}

let profiled = 0;

/**
 * `--cpu-prof` arguments naming the file after the process kind and its start order. A
 * process run through tsx (`typescript`) has a second thread, tsx's loader, which would
 * write its own profile under the same name: such a process gets a directory of that name,
 * where Node names each thread's file.
 */
export function profileArgs(
  kind: string,
  extra: string[] | undefined,
  opts: { typescript?: boolean } = {},
): string[] {
  const name = `${String(++profiled).padStart(2, '0')}-${kind}`;
  const prof = !profileDir
    ? []
    : opts.typescript
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`]
      : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`];
  return [...prof, ...(extra ?? [])];
}

/** A JWT secret for the benchmark's API processes (≥ 32 characters; never a real one). */
export const BENCH_JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

/** Environment shared by the system's processes in a benchmark. */
export function systemEnv(
  servers: BenchServers,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    REDIS_URL: servers.redisUrl,
    MONGODB_URI: servers.mongoUri,
    MONGODB_DB: 'bench',
    JWT_SECRET: BENCH_JWT_SECRET,
    // The benchmark is the only user: a limit would measure 429s, not the system.
    RATE_LIMIT_SENDS: '100000',
    RATE_LIMIT_WINDOW_SECONDS: '1',
    // Thousands of users sign up from 127.0.0.1.
    AUTH_RATE_LIMIT_ATTEMPTS: '100000',
    AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '1000000',
    LOG_LEVEL: 'warn',
    // The API's metrics listener: any free port, so that several API processes can run.
    METRICS_PORT: '0',
    ...extra,
  };
}

/** A running API process (src/bin/api.ts). */
export interface ApiProcess {
  url: string;
  child: NodeChild;
  stop(): Promise<void>;
}

/** Starts the API (src/bin/api.ts, compiled by `buildSystem`) on a free port and waits until `/health` answers 200. */
export async function startApi(
  servers: BenchServers,
  env: Record<string, string>,
  opts: { extraExecArgv?: string[] } = {},
): Promise<ApiProcess> {
  const port = await freePort();
  const child = new NodeChild(`api:${port}`, path.join(SYSTEM_BUILD_DIR, 'bin', 'api.js'), {
    typescript: false,
    env: systemEnv(servers, { ...env, PORT: String(port) }),
    extraExecArgv: profileArgs(
      `api-${env.PERSISTENCE_MODE ?? 'write-through'}`,
      opts.extraExecArgv,
    ),
  });
  const url = `http://127.0.0.1:${port}`;
  await untilAnswering(child, 'the API to answer /health', `${url}/health`);
  return { url, child, stop: () => child.stop() };
}

/** A running expiry daemon (src/bin/daemon.ts) with its metrics endpoint. */
export interface DaemonProcess {
  metricsUrl: string;
  child: NodeChild;
  stop(): Promise<void>;
}

/**
 * Starts the expiry daemon (src/bin/daemon.ts, compiled) with its own metrics port and waits until `/metrics` answers
 * (the daemon serves it once connected and subscribed).
 */
export async function startDaemon(
  servers: BenchServers,
  env: Record<string, string>,
  opts: { extraExecArgv?: string[]; name?: string } = {},
): Promise<DaemonProcess> {
  const port = await freePort();
  const child = new NodeChild(
    opts.name ?? `daemon:${port}`,
    path.join(SYSTEM_BUILD_DIR, 'bin', 'daemon.js'),
    {
      typescript: false,
      env: systemEnv(servers, {
        ...env,
        DAEMON_METRICS_PORT: String(port),
        NODE_APP_INSTANCE: '0',
      }),
      extraExecArgv: profileArgs('daemon', opts.extraExecArgv),
    },
  );
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await untilAnswering(child, 'the daemon to serve /metrics', metricsUrl);
  return { metricsUrl, child, stop: () => child.stop() };
}

/** Fetches a daemon's Prometheus text. */
export async function scrape(metricsUrl: string): Promise<string> {
  const res = await fetch(metricsUrl);
  if (res.status !== 200) throw new Error(`${metricsUrl}: HTTP ${res.status}`);
  return res.text();
}

/** Waits until `url` answers 200; stops `child` and throws if it exits or takes over 60 s. */
async function untilAnswering(child: NodeChild, what: string, url: string): Promise<void> {
  try {
    await waitUntil(
      what,
      async () => {
        if (child.process.exitCode !== null) throw new Error(child.recentOutput);
        const res = await fetch(url).catch(() => undefined);
        return res?.status === 200;
      },
      60000,
      100,
    );
  } catch (err) {
    await child.stop();
    throw err;
  }
}
