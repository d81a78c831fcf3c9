import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCluster } from 'redis';
import {
  freeClusterPorts,
  startRedisCluster,
  type RunningCluster,
} from '../../src/local/redis-cluster.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { onCleanup } from './cleanup.js';

/**
 * Partitions of the system on the bench cluster (set explicitly, so that the bench's own
 * key space matches the processes' whatever the default becomes).
 */
export const CLUSTER_PARTITIONS = 16;

/** The cluster's `cluster-node-timeout` (src/local/redis-cluster.ts), for the failover goal. */
export const CLUSTER_NODE_TIMEOUT_MS = 1000;

/** A node-redis cluster client of the bench's own (seeding, polling sizes, FLUSHALL). */
export type BenchClusterClient = ReturnType<typeof createAdminClient>;

function createAdminClient(nodes: readonly { host: string; port: number }[]) {
  const client = createCluster({
    rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
    // Follow a failover about a second after it (node-redis waits 5 s by default).
    topologyRefreshOnReconnectionAttemptStrategy: 1000,
  });
  client.on('error', () => {});
  client.on('node-error', () => {});
  return client;
}

/** A local Redis Cluster for one scenario, with an admin client and the system's settings. */
export interface BenchCluster {
  running: RunningCluster;
  /** The key space the system's processes use on it. */
  space: KeySpace;
  admin: BenchClusterClient;
  /**
   * Environment that points the API and daemon (system-processes.ts) at the cluster:
   * REDIS_URL emptied, since the config refuses it beside REDIS_CLUSTER_NODES.
   */
  env: Record<string, string>;
  /** FLUSHALL on every master (replicas follow); only while no process of the system runs. */
  flush(): Promise<void>;
  /** Stops the nodes and removes their directory (also done at cleanup). */
  stop(): Promise<void>;
}

/**
 * Starts 3 masters + 3 replicas (src/local/redis-cluster.ts, the cluster of `npm run
 * cluster`: cluster-node-timeout 1000, full coverage not required, keyevents on) on free
 * ports, persistence off as for the bench's single node, in a temporary directory.
 */
export async function startBenchCluster(): Promise<BenchCluster> {
  const ports = await freeClusterPorts(6);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-'));
  let running: RunningCluster;
  try {
    running = await startRedisCluster({ ports, dir, replicas: 1, persistence: false });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stopNodes = onCleanup('redis cluster', async () => {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const admin = createAdminClient(running.nodes);
  const closeAdmin = onCleanup('cluster admin client', async () => {
    await admin.close().catch(() => {});
  });
  try {
    await admin.connect();
  } catch (err) {
    await closeAdmin();
    await stopNodes();
    throw err;
  }
  return {
    running,
    space: new KeySpace('', CLUSTER_PARTITIONS, true),
    admin,
    env: {
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: running.seeds,
      REDIS_PARTITIONS: String(CLUSTER_PARTITIONS),
    },
    async flush() {
      for (const master of admin.masters) await (await admin.nodeClient(master)).flushAll();
    },
    async stop() {
      await closeAdmin();
      await stopNodes();
    },
  };
}
