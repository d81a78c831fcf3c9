import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A server process started by this project (local default or throwaway test server):
 * keeps the tail of its output for error messages and stops it cleanly.
 */
export class ManagedProcess {
  private readonly child: ChildProcess;
  private output = '';
  private exitInfo: string | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    this.child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-4000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = `${this.name} exited (code ${code}, signal ${signal}); output:\n${this.output}`;
        resolve();
      });
      this.child.once('error', (err) => {
        this.exitInfo = `${this.name} could not start: ${err.message}`;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why it is no longer running, or undefined while it runs. */
  get deadReason(): string | undefined {
    return this.exitInfo;
  }

  get recentOutput(): string {
    return this.output;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exitInfo) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once (fault tests). */
  async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
