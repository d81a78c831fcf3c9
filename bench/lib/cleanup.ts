/**
 * Everything a benchmark run started (servers, child processes, clients) registers its
 * disposer here, so that one call stops it all — on success, on a failure, and on Ctrl-C —
 * and no redis-server, FerretDB or load generator outlives the run.
 */
type Disposer = () => Promise<void>;

const disposers: Array<{ name: string; run: Disposer }> = [];

/** Registers `run`; returns a function that runs it now and unregisters it. */
export function onCleanup(name: string, run: Disposer): () => Promise<void> {
  const entry = { name, run };
  disposers.push(entry);
  return async () => {
    const i = disposers.indexOf(entry);
    if (i < 0) return;
    disposers.splice(i, 1);
    await run();
  };
}

let running: Promise<void> | undefined;

/**
 * Runs every disposer, newest first; each failure is reported and the rest still run. A
 * second call (Ctrl-C during the runner's own cleanup) waits for the one under way.
 */
export function cleanupAll(): Promise<void> {
  running ??= runDisposers().finally(() => {
    running = undefined;
  });
  return running;
}

async function runDisposers(): Promise<void> {
  while (disposers.length > 0) {
    const d = disposers.pop();
    if (!d) break;
    try {
      await d.run();
    } catch (err) {
      process.stderr.write(`cleanup of ${d.name} failed: ${(err as Error).message}\n`);
    }
  }
}

/** On SIGINT/SIGTERM: clean up, then exit 130. Installed once by the runner. */
export function cleanupOnSignals(): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping every server and child process…\n`);
    void cleanupAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
