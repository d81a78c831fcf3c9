import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProcessDescription, StartOptions } from 'pm2';

type Pm2Api = typeof import('pm2');

/** One PM2-managed process, as {@link Pm2Control.list} reports it. */
export interface Pm2Process {
  name: string;
  pmId: number;
  pid: number;
  status: string;
  restarts: number;
}

let loaded: { pm2: Pm2Api; home: string } | undefined;

/**
 * Imports `pm2` with `PM2_HOME` pointing at a temporary directory of this test process.
 *
 * PM2 reads `PM2_HOME` once, when the module is loaded (it creates its socket and log
 * folders there), so the variable is set before the first import and the same home serves
 * every stack of the run; it is removed when the process exits.
 */
async function loadPm2(): Promise<{ pm2: Pm2Api; home: string }> {
  if (loaded) return loaded;
  const home = mkdtempSync(path.join(os.tmpdir(), 'chat-pm2-'));
  process.env.PM2_HOME = home;
  // Never start PM2's remote-monitoring agent (it would talk to the internet) and keep its
  // banner out of the test output.
  process.env.PM2_NO_INTERACTION = 'true';
  process.env.PM2_DISCRETE_MODE = 'true';
  const mod = (await import('pm2')) as unknown as { default: Pm2Api };
  loaded = { pm2: mod.default, home };
  process.once('exit', () => rmSync(home, { recursive: true, force: true }));
  return loaded;
}

function callback<T>(run: (cb: (err: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((err, value) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(value),
    );
  });
}

/**
 * PM2's programmatic API, promisified, on a private PM2 daemon (its own `PM2_HOME`).
 * {@link close} deletes the apps and kills that daemon, so nothing outlives the test.
 */
export class Pm2Control {
  private constructor(
    private readonly pm2: Pm2Api,
    readonly home: string,
  ) {}

  /** Connects to (spawning) the private PM2 daemon. */
  static async connect(): Promise<Pm2Control> {
    const { pm2, home } = await loadPm2();
    await callback<unknown>((cb) => pm2.connect((err) => cb(err, undefined)));
    return new Pm2Control(pm2, home);
  }

  /** Starts one app definition (as in ecosystem.config.js). */
  async start(app: StartOptions): Promise<void> {
    await callback<unknown>((cb) => this.pm2.start(app, cb));
  }

  /** Stops and forgets an app (every instance). */
  async delete(name: string): Promise<void> {
    await callback<unknown>((cb) => this.pm2.delete(name, cb));
  }

  /** Every process PM2 manages now. */
  async list(): Promise<Pm2Process[]> {
    const procs = await callback<ProcessDescription[]>((cb) => this.pm2.list(cb));
    return procs.map((p) => ({
      name: p.name ?? '',
      pmId: p.pm_id ?? -1,
      pid: p.pid ?? 0,
      status: p.pm2_env?.status ?? 'unknown',
      restarts: p.pm2_env?.restart_time ?? 0,
    }));
  }

  /** Deletes every app, kills the daemon and disconnects; errors are ignored (cleanup). */
  async close(): Promise<void> {
    await callback<unknown>((cb) => this.pm2.delete('all', cb)).catch(() => undefined);
    await callback<unknown>((cb) => this.pm2.killDaemon(cb)).catch(() => undefined);
    this.pm2.disconnect();
  }
}
