import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { freePort } from '../../src/local/port-probe.js';
import { projectRoot } from '../../src/local/project-root.js';
import { sharedServers } from './servers.js';
import { TEST_JWT_SECRET, type TestContext } from './test-context.js';

/** The whole system as an operator starts it: an npm script of package.json, in its own process group. */
export interface StartedSystem {
  /** `http://127.0.0.1:<PORT>`. */
  url: string;
  /** Everything the script printed so far (stdout and stderr). */
  output(): string;
  /** Pids still in the script's process group (empty once everything it started is gone). */
  processes(): number[];
  /** SIGINT to the script (Ctrl-C); SIGKILL to the group if it is not gone within `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** How a script ended when it exits by itself (a refused start). */
export interface ScriptExit {
  code: number | null;
  output: string;
  /** Pids left in its process group after it exited. */
  leftBehind: number[];
}

/** Pids of the processes whose group is `pgid` (`ps -e -o pid=,pgid=`: every process, no header). */
function groupPids(pgid: number): number[] {
  const { stdout } = spawnSync('ps', ['-e', '-o', 'pid=,pgid='], { encoding: 'utf8' });
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid, group]) => group === pgid && pid !== undefined && pid > 0)
    .map(([pid]) => pid!);
}

function launch(script: string, env: Record<string, string>) {
  const pm2Home = mkdtempSync(path.join(os.tmpdir(), 'chat-pm2-home-'));
  let output = '';
  // detached: a process group of its own, so that what it starts can be found and stopped.
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: projectRoot(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PM2_HOME: pm2Home, ...env },
  });
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-200_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, pm2Home, exited, output: () => output };
}

/**
 * Runs `npm run <script>` with `env` on top of this process's environment and a private
 * PM2_HOME, expecting it to refuse to start: resolves when it exits by itself.
 */
export async function runRefusedStart(
  script: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ScriptExit> {
  const run = launch(script, env);
  const timer = setTimeout(() => process.kill(-run.child.pid!, 'SIGKILL'), timeoutMs);
  const { code } = await run.exited;
  clearTimeout(timer);
  // Whatever it left behind is reported, then stopped.
  const leftBehind = groupPids(run.child.pid!);
  if (leftBehind.length > 0) process.kill(-run.child.pid!, 'SIGKILL');
  rmSync(run.pm2Home, { recursive: true, force: true });
  return { code, output: run.output(), leftBehind };
}

/**
 * Runs `npm run <script>` (e.g. `start:prod`) with `env` (PORT is chosen here) and waits
 * until `GET /health/ready` answers 200; rejects with the script's output if it exits or
 * does not get there within `timeoutMs`.
 */
export async function startSystem(
  script: string,
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<StartedSystem> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const run = launch(script, { HOST: '127.0.0.1', ...env, PORT: String(port) });
  const pgid = run.child.pid!;
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void run.exited.then((e) => (ended = e));

  const system: StartedSystem = {
    url,
    output: run.output,
    processes: () => groupPids(pgid),
    async stop(graceMs = 30_000) {
      if (!ended) {
        try {
          process.kill(-pgid, 'SIGINT');
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      const e = await run.exited;
      // pm2-runtime exits after its apps; give stragglers the rest of the grace time.
      await waitUntil(
        'the process group to be empty',
        () => groupPids(pgid).length === 0,
        graceMs,
        100,
      ).catch(() => undefined);
      clearTimeout(timer);
      rmSync(run.pm2Home, { recursive: true, force: true });
      return e;
    },
  };
  try {
    await waitUntil(
      `${url}/health/ready to answer 200`,
      async () => {
        if (ended) throw new Error(`npm run ${script} exited (${JSON.stringify(ended)})`);
        const res = await fetch(`${url}/health/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    const out = run.output();
    await system.stop(10_000);
    throw new Error(`${(err as Error).message}; its output:\n${out.slice(-6000)}`, { cause: err });
  }
  return system;
}

/**
 * `npm run start:prod` on the shared test servers, in `ctx`'s key prefix and database (so
 * that `ctx.cleanup()` removes what it wrote), with `extra` variables on top.
 */
export function startProductionSystem(
  ctx: TestContext,
  extra: Record<string, string> = {},
): Promise<StartedSystem> {
  const { redisUrl, mongoUri } = sharedServers();
  return startSystem('start:prod', {
    NODE_ENV: 'production',
    JWT_SECRET: TEST_JWT_SECRET,
    REDIS_URL: redisUrl,
    MONGODB_URI: mongoUri,
    MONGODB_DB: ctx.config.mongo.db,
    REDIS_KEY_PREFIX: ctx.config.redis.keyPrefix,
    // Metrics listeners on any free port; no drain delay (production's is 5 s) in a test.
    METRICS_PORT: '0',
    DAEMON_METRICS_PORT: '0',
    SHUTDOWN_DELAY_MS: '0',
    LOG_LEVEL: 'warn',
    ...extra,
  });
}
