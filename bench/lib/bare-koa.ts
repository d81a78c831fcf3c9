import { freePort } from '../../src/local/port-probe.js';
import { NodeChild } from './child.js';
import type { BenchServers } from './bench-servers.js';
import { BENCH_JWT_SECRET, profileArgs } from './system-processes.js';

/** The bare Koa baseline server (bench/workers/bare-koa-server.ts), started and ready. */
export async function startBareKoa(
  servers: BenchServers,
): Promise<{ url: string; pid?: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = new NodeChild('bare-koa', 'bench/workers/bare-koa-server.ts', {
    env: {
      REDIS_URL: servers.redisUrl,
      MONGODB_URI: servers.mongoUri,
      MONGODB_DB: 'bench',
      PORT: String(port),
      // The API's secret, so that the tokens it issued verify on the write-behind route.
      JWT_SECRET: BENCH_JWT_SECRET,
    },
    // Profiled with the system's processes (--profile): what the system does beyond it.
    extraExecArgv: profileArgs('bare-koa', undefined, { typescript: true }),
  });
  await child.next('ready', 30000);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    // Asked first, so that it exits by itself (a profile is written only then).
    stop: async () => {
      child.send({ type: 'stop' });
      await child.waitExit(10000);
    },
  };
}
