#!/usr/bin/env node
// `npm run cluster -- start|stop|status`: a local Redis Cluster (3 masters + 3 replicas on
// 127.0.0.1, ports CLUSTER_PORT..+5, data under CLUSTER_DIR) to run the app on with
// REDIS_CLUSTER_NODES. The nodes are detached: they outlive this command until `stop`.
import path from 'node:path';
import {
  RedisClusterError,
  checkRedisCluster,
  startRedisCluster,
  stopRedisCluster,
  type ClusterNodeStatus,
} from '../local/redis-cluster.js';
import { projectRoot } from '../local/project-root.js';

const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;
const NODES = 6;
const USAGE = `usage: npm run cluster -- start|stop|status
  start   start 3 masters + 3 replicas on 127.0.0.1 and print REDIS_CLUSTER_NODES
  stop    stop them (their data stays for the next start)
  status  each node's role, slots and cluster_state; exit 0 when the cluster is healthy
environment:
  CLUSTER_PORT  the first of ${NODES} consecutive ports (default 7000; bus ports are +10000)
  CLUSTER_DIR   where the nodes keep their data (default ./data/cluster)`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function clusterPorts(env: NodeJS.ProcessEnv): number[] | undefined {
  const raw = env.CLUSTER_PORT ?? '7000';
  const base = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(base >= 1 && base + NODES - 1 <= 65535 - 10000)) return undefined;
  return Array.from({ length: NODES }, (_, i) => base + i);
}

function statusLine(n: ClusterNodeStatus): string {
  const cols = [
    `${n.host}:${n.port}`.padEnd(17),
    (n.up ? (n.role ?? '?') : '-').padEnd(8),
    String(n.up ? n.slots : '-').padEnd(6),
    (n.up ? 'up' : 'down').padEnd(5),
    (n.clusterState ?? '-').padEnd(6),
  ];
  const note = n.error ?? (n.masterPort === undefined ? '' : `replica of ${n.masterPort}`);
  return `${cols.join(' ')}${note}`.trimEnd();
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const command = argv[0];
  if (argv.length !== 1 || !['start', 'stop', 'status'].includes(command ?? '')) {
    err(USAGE);
    return EXIT.USAGE;
  }
  const ports = clusterPorts(env);
  if (!ports) {
    err(
      `CLUSTER_PORT must be a port from 1 to ${65535 - 10000 - NODES + 1}, got "${env.CLUSTER_PORT}"`,
    );
    return EXIT.USAGE;
  }
  const dir = path.resolve(env.CLUSTER_DIR ?? path.join(projectRoot(), 'data', 'cluster'));
  const range = `127.0.0.1:${ports[0]}-${ports[NODES - 1]}`;
  const seeds = ports.map((p) => `127.0.0.1:${p}`).join(',');
  const printSeeds = () => {
    out(`REDIS_CLUSTER_NODES=${seeds}`);
    err(`Run the app on it with:  REDIS_CLUSTER_NODES=${seeds} npm start`);
  };

  if (command === 'start') {
    if ((await checkRedisCluster(ports)).problem === undefined) {
      err(`The Redis Cluster is already running on ${range}.`);
      printSeeds();
      return EXIT.OK;
    }
    err(`Starting a Redis Cluster (3 masters + 3 replicas) on ${range}, data in ${dir} ...`);
    try {
      await startRedisCluster({ ports, dir, daemonize: true, persistence: true });
    } catch (e) {
      if (!(e instanceof RedisClusterError)) throw e;
      err(e.message);
      return EXIT.FAILURE;
    }
    err(`The Redis Cluster is up on ${range} (stop it with: npm run cluster -- stop).`);
    printSeeds();
    return EXIT.OK;
  }

  if (command === 'stop') {
    const { stopped, foreign } = await stopRedisCluster({ ports, dir });
    err(
      stopped.length > 0
        ? `Stopped ${stopped.length} Redis Cluster node(s) on ${range}; the data stays in ${dir}.`
        : `No Redis Cluster node of ${dir} was running on ${range}.`,
    );
    if (foreign.length > 0) {
      err(
        `Left running: port(s) ${foreign.join(', ')}, served by processes this tool did not start.`,
      );
    }
    return EXIT.OK;
  }

  const { nodes, problem } = await checkRedisCluster(ports);
  out('node              role     slots  state cluster_state');
  nodes.forEach((n) => out(statusLine(n)));
  if (nodes.every((n) => !n.up)) {
    err(`The Redis Cluster is not running on ${range}: start it with npm run cluster -- start`);
    return EXIT.FAILURE;
  }
  if (problem !== undefined) {
    err(`The Redis Cluster is degraded: ${problem}`);
    return EXIT.FAILURE;
  }
  err(`The Redis Cluster is healthy: REDIS_CLUSTER_NODES=${seeds}`);
  return EXIT.OK;
}

process.exit(await main(process.argv.slice(2), process.env));
