import type { WorkerMessage } from '../lib/child.js';

/** Sends one message to the parent bench process (no-op when run by hand, without IPC). */
export function tell(message: WorkerMessage): void {
  process.send?.(message);
}

/** Resolves when the parent sends `{ type }` (e.g. 'stop'), or when it goes away. */
export function whenParentSays(type: string): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m: { type?: string }) => {
      if (m?.type === type) resolve();
    });
    process.once('disconnect', () => resolve());
  });
}

/** Runs `main`, reporting a failure to the parent before exiting non-zero. */
export function runWorker(main: () => Promise<void>): void {
  main().then(
    () => {
      // Let the last IPC message flush before the process ends.
      setTimeout(() => process.exit(0), 50);
    },
    (err: unknown) => {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      tell({ type: 'error', message });
      process.stderr.write(`${message}\n`);
      setTimeout(() => process.exit(1), 50);
    },
  );
}

/** A required environment variable (the parent always sets it). */
export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
}
