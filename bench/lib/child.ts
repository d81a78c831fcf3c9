import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';

/** Root of the project (bench/lib/ is two levels down). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A message a bench worker sends its parent over the IPC channel. */
export type WorkerMessage =
  | { type: 'ready'; data?: unknown }
  /** The load generator's measured run starts now (its warm-up is over). */
  | { type: 'measuring' }
  | { type: 'result'; data: unknown }
  /** Progress (e.g. a count so far): only the latest is kept, in {@link NodeChild.progress}. */
  | { type: 'progress'; data: unknown }
  | { type: 'error'; message: string };

/**
 * A Node child process running a TypeScript file through tsx (bench workers), or a compiled
 * JavaScript file (the system under test, see system-build.ts), with an IPC channel.
 * Stopped by SIGTERM then SIGKILL; registered for cleanup so that it never outlives the run.
 */
export class NodeChild {
  readonly process: ChildProcess;
  private output = '';
  private readonly messages: WorkerMessage[] = [];
  private waiters: Array<() => void> = [];
  private readonly exited: Promise<void>;
  private exitInfo: string | undefined;
  private readonly unregister: () => Promise<void>;
  /** The data of the latest 'progress' message. */
  progress: unknown;

  /**
   * @param file path relative to the project root (or absolute), e.g. `bench/workers/bullmq-worker.ts`
   * @param opts.extraExecArgv e.g. `['--cpu-prof', '--cpu-prof-dir=…']` when profiling
   * @param opts.typescript run through tsx (default); false for compiled JavaScript
   */
  constructor(
    readonly name: string,
    file: string,
    opts: {
      args?: string[];
      env?: Record<string, string>;
      extraExecArgv?: string[];
      typescript?: boolean;
    } = {},
  ) {
    const loader = opts.typescript === false ? [] : ['--import', 'tsx'];
    this.process = fork(path.resolve(ROOT, file), opts.args ?? [], {
      cwd: ROOT,
      execArgv: [...loader, ...(opts.extraExecArgv ?? [])],
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-6000);
    };
    this.process.stdout?.on('data', keep);
    this.process.stderr?.on('data', keep);
    this.process.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') {
        this.progress = m.data;
        return;
      }
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exitInfo = `${name} exited (code ${code}, signal ${signal}); output:\n${this.output}`;
        for (const w of this.waiters.splice(0)) w();
        resolve();
      });
    });
    this.unregister = onCleanup(name, () => this.kill());
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get recentOutput(): string {
    return this.output;
  }

  send(message: unknown): void {
    if (this.process.connected) this.process.send(message as object);
  }

  /** Waits for the next message of `type` (skipping others); throws on exit or timeout. */
  async next<T = unknown>(type: WorkerMessage['type'], timeoutMs: number): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const [m] = this.messages.splice(i, 1);
        if (m?.type === 'error') throw new Error(`${this.name}: ${m.message}\n${this.output}`);
        return (m as { data?: unknown }).data as T;
      }
      if (this.exitInfo) throw new Error(this.exitInfo);
      const left = end - Date.now();
      if (left <= 0)
        throw new Error(`${this.name}: no "${type}" within ${timeoutMs} ms\n${this.output}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves when the process has exited (bounded by `timeoutMs`, then SIGKILL). */
  async waitExit(timeoutMs: number): Promise<void> {
    const t = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
    await this.unregister();
  }

  /** SIGTERM (a graceful stop), SIGKILL after `graceMs`. */
  async stop(graceMs = 10000): Promise<void> {
    if (!this.exitInfo) this.process.kill('SIGTERM');
    await this.waitExit(graceMs);
  }

  private async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.process.kill('SIGTERM');
    const t = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
