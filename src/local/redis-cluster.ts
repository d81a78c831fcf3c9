import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient, ErrorReply } from 'redis';
import { sleep, waitUntil } from '../lifecycle/wait.js';
import { ManagedProcess } from './managed-process.js';
import { isPortOpen, isRedisAnswering } from './port-probe.js';
import { projectRoot } from './project-root.js';
import { redisServerArgs } from './redis-server.js';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
/** Redis Cluster's node-to-node bus listens on the client port + 10000. */
const BUS_PORT_OFFSET = 10000;
const MAX_PORT = 65535 - BUS_PORT_OFFSET;
const TOTAL_SLOTS = 16384;
const PID_FILE = 'redis.pid';
const LOG_FILE = 'redis.log';

/** 3 masters + 3 replicas on the ports redis-cli and most guides use. */
export const DEFAULT_CLUSTER_PORTS: readonly number[] = [7000, 7001, 7002, 7003, 7004, 7005];

// A failover within ~2 s; healthy shards keep answering while one fails over; keyevents
// are a per-node setting, so every node gets them whatever redis.conf says; a master sends
// its data to a (re)attaching replica at once instead of waiting 5 s for more replicas.
const CLUSTER_ARGS = [
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  'nodes.conf',
  '--cluster-node-timeout',
  '1000',
  '--cluster-require-full-coverage',
  'no',
  '--notify-keyspace-events',
  'Ex',
  '--repl-diskless-sync-delay',
  '0',
];

export interface RedisClusterOptions {
  /** One port per node (the bus port is port + 10000). @defaultValue 7000..7005 */
  ports?: readonly number[];
  /** Each node keeps its data and nodes.conf (and, daemonized, redis.pid and redis.log) in `<dir>/<port>/`. */
  dir: string;
  /** Replicas per master; masters = ports / (replicas + 1), at least 3. @defaultValue 1 */
  replicas?: number;
  /** Detach the nodes so that they outlive this process; a later call adopts them. @defaultValue false */
  daemonize?: boolean;
  /** Keep the AOF/RDB persistence of redis.conf. @defaultValue true */
  persistence?: boolean;
  /** Extra `--name value` pairs for every node (nodes must not require a password). */
  extraArgs?: string[];
  /** How long to wait for the cluster to be healthy. @defaultValue 30000 */
  timeoutMs?: number;
}

export interface ClusterNode {
  host: string;
  port: number;
}

export interface RunningCluster {
  nodes: ClusterNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,…`: the value of REDIS_CLUSTER_NODES. */
  seeds: string;
  /** Stops every node (SIGTERM, SIGKILL after a grace period); resolves when all are gone. */
  stop(): Promise<void>;
  /** SIGKILL of one node (fault tests); resolves when it is gone. */
  killNode(port: number): Promise<void>;
  /** Starts a stopped or killed node again on its own directory: it rejoins from its nodes.conf. */
  startNode(port: number): Promise<void>;
  /** The masters serving slots now, as CLUSTER NODES of the first node that answers says. */
  masters(): Promise<ClusterNode[]>;
  /** Resolves once every node is up and agrees, all slots are served and every master has its replicas attached. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** The process id of the node on `port`, undefined once it is gone. */
  pid(port: number): number | undefined;
}

export type RedisClusterErrorCode =
  'NOT_INSTALLED' | 'PORT_IN_USE' | 'NODE_FAILED' | 'CREATE_FAILED' | 'MIXED_STATE' | 'NOT_HEALTHY';

/** Why a cluster could not be started; `port` names the node at fault when there is one. */
export class RedisClusterError extends Error {
  constructor(
    readonly code: RedisClusterErrorCode,
    message: string,
    readonly port?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RedisClusterError';
  }
}

/** What one node says about itself, for `npm run cluster -- status`. */
export interface ClusterNodeStatus extends ClusterNode {
  up: boolean;
  role: 'master' | 'replica' | undefined;
  slots: number;
  /** The port of its master, for a replica. */
  masterPort: number | undefined;
  clusterState: string | undefined;
  /** Set when something answers that is not a cluster node. */
  error: string | undefined;
}

/**
 * Starts a Redis Cluster of `redis-server` processes with the project's redis.conf on
 * 127.0.0.1, forms it with `redis-cli --cluster create` unless the nodes already belong to
 * one (a restart from their nodes.conf), and waits until it is healthy. A failed start stops
 * every process it started and names the node at fault.
 */
export async function startRedisCluster(opts: RedisClusterOptions): Promise<RunningCluster> {
  const ports = [...(opts.ports ?? DEFAULT_CLUSTER_PORTS)];
  const replicas = opts.replicas ?? 1;
  validateLayout(ports, replicas);
  await requireProgram('redis-server');
  await requireProgram('redis-cli');
  // redis.conf says `dir ./data/redis`, checked while the file is read, before --dir applies.
  const root = projectRoot();
  mkdirSync(path.join(root, 'data', 'redis'), { recursive: true });

  const nodeDir = (port: number) => path.join(opts.dir, String(port));
  const args = (port: number) => {
    const extra = [...CLUSTER_ARGS];
    if (opts.daemonize) {
      extra.push('--pidfile', path.join(nodeDir(port), PID_FILE));
      extra.push('--logfile', path.join(nodeDir(port), LOG_FILE));
    }
    extra.push(...(opts.extraArgs ?? []));
    return redisServerArgs({
      port,
      dir: nodeDir(port),
      persistence: opts.persistence,
      extraArgs: extra,
    });
  };
  const procs = new Map<number, NodeProcess>();
  const launch = async (port: number) => {
    mkdirSync(nodeDir(port), { recursive: true });
    const proc = opts.daemonize
      ? DetachedNode.spawn(args(port), path.join(nodeDir(port), LOG_FILE), root)
      : new ManagedProcess(`redis-server :${port}`, 'redis-server', args(port), { cwd: root });
    procs.set(port, proc);
    await waitNodeReady(port, proc);
  };

  const adopted = new Set<number>();
  try {
    const running = await Promise.all(
      ports.map((port) => claimPorts(port, opts.daemonize ? nodeDir(port) : undefined)),
    );
    ports.forEach((port, i) => {
      const pid = running[i];
      if (pid === undefined) return;
      adopted.add(port);
      procs.set(port, DetachedNode.adopt(pid, path.join(nodeDir(port), LOG_FILE)));
    });
    await Promise.all(ports.filter((p) => !adopted.has(p)).map(launch));
    await formCluster(ports, replicas, opts.dir);
    await waitClusterHealthy(ports, replicas, opts.timeoutMs ?? 30000);
  } catch (err) {
    await Promise.all(
      [...procs].filter(([port]) => !adopted.has(port)).map(([, proc]) => proc.stop()),
    );
    throw err;
  }

  const nodeProc = (port: number) => {
    const proc = procs.get(port);
    if (!proc) throw new TypeError(`${port} is not a port of this cluster`);
    return proc;
  };
  return {
    nodes: ports.map((port) => ({ host: HOST, port })),
    seeds: ports.map((port) => `${HOST}:${port}`).join(','),
    stop: async () => {
      await Promise.all([...procs.values()].map((proc) => proc.stop()));
    },
    killNode: (port) => nodeProc(port).kill(),
    async startNode(port) {
      if (nodeProc(port).deadReason === undefined) throw new Error(`node ${port} is running`);
      await launch(port);
    },
    masters: () => currentMasters(ports),
    waitHealthy: (timeoutMs = 30000) => waitClusterHealthy(ports, replicas, timeoutMs),
    pid(port) {
      const proc = nodeProc(port);
      return proc.deadReason === undefined ? proc.pid : undefined;
    },
  };
}

/**
 * Stops the daemonized nodes of a cluster started from `dir` (SIGTERM by their pid files;
 * each answers on its port with that pid) and resolves when they are gone. Ports served by
 * anything else are left alone and listed as `foreign`.
 */
export async function stopRedisCluster(opts: {
  ports?: readonly number[];
  dir: string;
}): Promise<{ stopped: number[]; foreign: number[] }> {
  const ports = [...(opts.ports ?? DEFAULT_CLUSTER_PORTS)];
  const stopped: number[] = [];
  const foreign: number[] = [];
  await Promise.all(
    ports.map(async (port) => {
      const nodeDir = path.join(opts.dir, String(port));
      const pid = await daemonPid(port, nodeDir);
      if (pid !== undefined) {
        await DetachedNode.adopt(pid, path.join(nodeDir, LOG_FILE)).stop();
        stopped.push(port);
      } else if (await isPortOpen(HOST, port)) {
        foreign.push(port);
      }
    }),
  );
  const byPort = (a: number, b: number) => a - b;
  return { stopped: stopped.sort(byPort), foreign: foreign.sort(byPort) };
}

/** Each node's own view (role, slots, cluster_state), and what keeps the cluster from being healthy, if anything. */
export async function checkRedisCluster(
  ports: readonly number[] = DEFAULT_CLUSTER_PORTS,
  replicas = 1,
): Promise<{ nodes: ClusterNodeStatus[]; problem: string | undefined }> {
  const nodes = await Promise.all(ports.map(nodeStatus));
  return { nodes, problem: await healthProblem([...ports], replicas) };
}

/**
 * `count` free ports, each with a free bus port (port + 10000), all outside the kernel's
 * ephemeral range: the source port of any outgoing connection (the nodes' own bus links
 * among them) comes from there and can take a port a node is about to listen on.
 * `consecutive` asks for one run of ports (a base port for CLUSTER_PORT).
 */
export async function freeClusterPorts(count: number, consecutive = false): Promise<number[]> {
  const [low, high] = ephemeralPortRange();
  const outside = (p: number) => p < low || p > high;
  const usable = async (p: number) =>
    p >= 1024 &&
    p <= MAX_PORT &&
    outside(p) &&
    outside(p + BUS_PORT_OFFSET) &&
    !(await isPortOpen(HOST, p)) &&
    !(await isPortOpen(HOST, p + BUS_PORT_OFFSET));
  const chosen: number[] = [];
  for (let tries = 0; tries < 1000 && chosen.length < count; tries++) {
    const base = 1024 + Math.floor(Math.random() * (MAX_PORT - 1024));
    const run = consecutive ? Array.from({ length: count }, (_, i) => base + i) : [base];
    if (run.some((p) => chosen.includes(p))) continue;
    let free = true;
    for (const p of run) if (!(await usable(p))) free = false;
    if (free) chosen.push(...run);
  }
  if (chosen.length < count) throw new Error(`found no ${count} free cluster ports`);
  return chosen;
}

function ephemeralPortRange(): [number, number] {
  try {
    const [low = NaN, high = NaN] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux: the widest of the usual defaults
  }
  return [32768, 65535];
}

function validateLayout(ports: number[], replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new TypeError(`replicas must be an integer ≥ 0, got ${replicas}`);
  }
  if (ports.length % (replicas + 1) !== 0 || ports.length / (replicas + 1) < 3) {
    throw new TypeError(
      `${ports.length} ports do not make at least 3 masters with ${replicas} replica(s) each`,
    );
  }
  if (new Set(ports).size !== ports.length) throw new TypeError('ports must be distinct');
  const bad = ports.find((p) => !Number.isInteger(p) || p < 1 || p > MAX_PORT);
  if (bad !== undefined) {
    throw new TypeError(`port ${bad} is not in 1..${MAX_PORT} (its bus port is port + 10000)`);
  }
}

async function requireProgram(program: 'redis-server' | 'redis-cli'): Promise<void> {
  try {
    await execFileAsync(program, ['--version']);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new RedisClusterError(
      'NOT_INSTALLED',
      `${program} is not installed: on Debian/Ubuntu run \`apt-get install redis-server\` (Redis 7+).`,
      undefined,
      { cause: err },
    );
  }
}

/**
 * Checks that `port` and its bus port are free; resolves with the pid of a node of this
 * cluster that already runs there (daemonized from `nodeDir`), which is adopted.
 */
async function claimPorts(port: number, nodeDir: string | undefined): Promise<number | undefined> {
  if (await isPortOpen(HOST, port)) {
    const pid = nodeDir === undefined ? undefined : await daemonPid(port, nodeDir);
    if (pid !== undefined) return pid;
    throw new RedisClusterError(
      'PORT_IN_USE',
      `port ${port} on ${HOST} is in use by another process: choose other ports (CLUSTER_PORT).`,
      port,
    );
  }
  const bus = port + BUS_PORT_OFFSET;
  if (await isPortOpen(HOST, bus)) {
    throw new RedisClusterError(
      'PORT_IN_USE',
      `port ${bus} on ${HOST} (the cluster bus of node ${port}) is in use by another process: choose other ports (CLUSTER_PORT).`,
      port,
    );
  }
  return undefined;
}

async function waitNodeReady(port: number, proc: NodeProcess): Promise<void> {
  try {
    await waitUntil(`redis-server on port ${port}`, () => isRedisAnswering(HOST, port), 15000, {
      giveUpIf: () => proc.deadReason,
    });
  } catch (err) {
    await proc.stop();
    throw new RedisClusterError(
      'NODE_FAILED',
      `cluster node ${HOST}:${port} did not start: ${(err as Error).message}`,
      port,
      { cause: err },
    );
  }
}

/** `redis-cli --cluster create` when every node is new; nothing when all belong to a cluster already. */
async function formCluster(ports: number[], replicas: number, dir: string): Promise<void> {
  const infos = await Promise.all(
    ports.map(async (p) => parseInfo(await askNode(p, ['CLUSTER', 'INFO']))),
  );
  const isNew = infos.map((i) => i.cluster_known_nodes === '1' && i.cluster_slots_assigned === '0');
  if (isNew.every(Boolean)) {
    const addrs = ports.map((p) => `${HOST}:${p}`);
    const args = ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas)];
    try {
      await execFileAsync('redis-cli', [...args, '--cluster-yes'], { timeout: 60000 });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().slice(-2000);
      throw new RedisClusterError(
        'CREATE_FAILED',
        `redis-cli --cluster create failed: ${e.message}\n${output}`,
        undefined,
        { cause: err },
      );
    }
  } else if (isNew.some(Boolean)) {
    const fresh = ports.filter((_, i) => isNew[i]);
    throw new RedisClusterError(
      'MIXED_STATE',
      `nodes ${fresh.join(', ')} are new while the others already belong to a cluster: ` +
        `stop the cluster and remove ${dir} to start afresh.`,
      fresh[0],
    );
  }
}

async function waitClusterHealthy(
  ports: number[],
  replicas: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem = await healthProblem(ports, replicas);
  while (problem !== undefined) {
    if (Date.now() > deadline) {
      throw new RedisClusterError(
        'NOT_HEALTHY',
        `the cluster on ${ports.join(',')} was not healthy within ${timeoutMs} ms: ${problem}`,
      );
    }
    await sleep(100);
    problem = await healthProblem(ports, replicas);
  }
}

/** Undefined when the cluster is healthy, else the first thing wrong with it. */
async function healthProblem(ports: number[], replicas: number): Promise<string | undefined> {
  try {
    for (const port of ports) {
      const info = parseInfo(await askNode(port, ['CLUSTER', 'INFO']));
      if (info.cluster_state !== 'ok') return `node ${port}: cluster_state ${info.cluster_state}`;
      if (info.cluster_slots_ok !== String(TOTAL_SLOTS)) {
        return `node ${port}: ${info.cluster_slots_ok} of ${TOTAL_SLOTS} slots served`;
      }
      if (info.cluster_known_nodes !== String(ports.length)) {
        return `node ${port} knows ${info.cluster_known_nodes} of ${ports.length} nodes`;
      }
    }
    const view = parseClusterNodes(await askNode(ports[0]!, ['CLUSTER', 'NODES']));
    const serving = view.filter(isServingMaster);
    const masters = ports.length / (replicas + 1);
    if (serving.length !== masters) return `${serving.length} masters serve slots, not ${masters}`;
    for (const m of serving) {
      const own = view.filter((n) => n.masterId === m.id && !n.failing);
      if (own.length < replicas) return `master ${m.port} has ${own.length} replica(s)`;
      for (const r of own) {
        const link = parseInfo(await askNode(r.port, ['INFO', 'replication'])).master_link_status;
        if (link !== 'up') return `replica ${r.port} of ${m.port}: master link ${link}`;
      }
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function currentMasters(ports: number[]): Promise<ClusterNode[]> {
  let lastError: unknown;
  for (const port of ports) {
    try {
      const view = parseClusterNodes(await askNode(port, ['CLUSTER', 'NODES']));
      return view.filter(isServingMaster).map((n) => ({ host: n.host, port: n.port }));
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error('no node of the cluster answers', { cause: lastError });
}

async function nodeStatus(port: number): Promise<ClusterNodeStatus> {
  const status: ClusterNodeStatus = {
    host: HOST,
    port,
    up: false,
    role: undefined,
    slots: 0,
    masterPort: undefined,
    clusterState: undefined,
    error: undefined,
  };
  try {
    const info = parseInfo(await askNode(port, ['CLUSTER', 'INFO']));
    const view = parseClusterNodes(await askNode(port, ['CLUSTER', 'NODES']));
    const me = view.find((n) => n.myself);
    status.up = true;
    status.clusterState = info.cluster_state;
    status.role = me?.role;
    status.slots = me?.slots ?? 0;
    status.masterPort = view.find((n) => n.id === me?.masterId)?.port;
  } catch (err) {
    if (err instanceof ErrorReply) {
      status.up = true;
      status.error = err.message;
    }
  }
  return status;
}

/** The pid in `<nodeDir>/redis.pid` when the node answering on `port` is that process. */
async function daemonPid(port: number, nodeDir: string): Promise<number | undefined> {
  const pidFile = path.join(nodeDir, PID_FILE);
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    const info = parseInfo(await askNode(port, ['INFO', 'server']));
    return Number(info.process_id) === pid ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface NodeLine {
  id: string;
  host: string;
  port: number;
  myself: boolean;
  role: 'master' | 'replica';
  masterId: string | undefined;
  failing: boolean;
  slots: number;
}

/** Lines of CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>…`. */
function parseClusterNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', addr = '', flagList = '', master = '-', , , , , ...slots] = line.split(' ');
      const hostPort = addr.split('@')[0] ?? '';
      const colon = hostPort.lastIndexOf(':');
      const flags = flagList.split(',');
      return {
        id,
        host: hostPort.slice(0, colon) || HOST,
        port: Number(hostPort.slice(colon + 1)),
        myself: flags.includes('myself'),
        role: flags.includes('slave') ? 'replica' : 'master',
        masterId: master === '-' ? undefined : master,
        failing: flags.includes('fail') || flags.includes('fail?') || flags.includes('noaddr'),
        slots: slots.reduce((sum, s) => sum + slotCount(s), 0),
      };
    });
}

/** `0-5460` → 5461, `7` → 1; migrating/importing entries (`[…]`) count for nothing. */
function slotCount(range: string): number {
  if (range.startsWith('[')) return 0;
  const [from, to = from] = range.split('-').map(Number);
  return from === undefined || to === undefined ? 0 : to - from + 1;
}

function isServingMaster(n: NodeLine): boolean {
  return n.role === 'master' && !n.failing && n.slots > 0;
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

/**
 * Sends one command to the node on 127.0.0.1:`port` on a connection of its own that never
 * reconnects (a node that is down is what is being asked about), and resolves with its
 * reply as text.
 * @throws ErrorReply when the node runs but refused the command; Error when it cannot be reached.
 */
async function askNode(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  const client = createClient({
    url: `redis://${HOST}:${port}`,
    socket: { reconnectStrategy: false, connectTimeout: timeoutMs },
  });
  client.on('error', () => {});
  // The whole exchange is bounded: something else on the port may accept and never answer.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    client.destroy();
  }, timeoutMs);
  try {
    await client.connect();
    return String(await client.sendCommand(args));
  } catch (err) {
    if (err instanceof ErrorReply) throw err;
    const why = timedOut ? `no answer in ${timeoutMs} ms` : (err as Error).message;
    throw new Error(`node ${port}: ${why}`, { cause: err });
  } finally {
    clearTimeout(timer);
    if (client.isOpen) client.destroy();
  }
}

/** A slot range, its master and its replicas (ports), as CLUSTER SLOTS says. */
export interface ClusterShard {
  from: number;
  to: number;
  master: number;
  replicas: number[];
}

/**
 * The shards as CLUSTER SLOTS of the first of `ports` that answers says, sorted by their
 * first slot (a shard keeps its slots through a failover: only its master changes).
 */
export async function clusterShards(ports: readonly number[]): Promise<ClusterShard[]> {
  let lastError: unknown;
  for (const port of ports) {
    const client = createClient({
      url: `redis://${HOST}:${port}`,
      socket: { reconnectStrategy: false, connectTimeout: 500 },
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const slots = await client.clusterSlots();
      return slots
        .map((s) => ({
          from: s.from,
          to: s.to,
          master: s.master.port,
          replicas: s.replicas.map((r) => r.port),
        }))
        .sort((a, b) => a.from - b.from);
    } catch (err) {
      lastError = err;
    } finally {
      client.destroy();
    }
  }
  throw new Error('no node of the cluster answers', { cause: lastError });
}

/** The port of the master serving `slot` in `shards`; undefined when no shard has it. */
export function masterOfSlot(shards: readonly ClusterShard[], slot: number): number | undefined {
  return shards.find((s) => slot >= s.from && slot <= s.to)?.master;
}

/** What the cluster needs of a node's process, whether a child of ours or detached. */
interface NodeProcess {
  readonly pid: number | undefined;
  /** Why it is no longer running, or undefined while it runs. */
  readonly deadReason: string | undefined;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * A node in its own session (it outlives this process), known by its pid: spawned here,
 * or adopted from its pid file by a later command.
 */
class DetachedNode implements NodeProcess {
  private exitInfo: string | undefined;

  private constructor(
    readonly pid: number | undefined,
    private readonly logFile: string,
  ) {}

  static spawn(args: string[], logFile: string, cwd: string): DetachedNode {
    const child: ChildProcess = spawn('redis-server', args, {
      cwd,
      detached: true,
      stdio: 'ignore',
    });
    const node = new DetachedNode(child.pid, logFile);
    child.once('exit', (code, signal) => {
      node.exitInfo = `redis-server exited (code ${code}, signal ${signal}); ${logFile} ends:\n${node.logTail()}`;
    });
    child.once('error', (err) => {
      node.exitInfo = `redis-server could not start: ${err.message}`;
    });
    child.unref();
    return node;
  }

  static adopt(pid: number, logFile: string): DetachedNode {
    return new DetachedNode(pid, logFile);
  }

  get deadReason(): string | undefined {
    if (this.exitInfo === undefined && (this.pid === undefined || !isAlive(this.pid))) {
      this.exitInfo = `redis-server ${this.pid} is gone`;
    }
    return this.exitInfo;
  }

  /** SIGTERM (Redis saves and exits), SIGKILL after `graceMs`; resolves when it is gone. */
  async stop(graceMs = 15000): Promise<void> {
    if (!this.signal('SIGTERM')) return;
    const deadline = Date.now() + graceMs;
    while (this.deadReason === undefined) {
      if (Date.now() > deadline) return this.kill();
      await sleep(50);
    }
  }

  async kill(): Promise<void> {
    if (!this.signal('SIGKILL')) return;
    while (this.deadReason === undefined) await sleep(20);
  }

  private signal(sig: NodeJS.Signals): boolean {
    if (this.deadReason !== undefined || this.pid === undefined) return false;
    try {
      process.kill(this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-2000);
    } catch {
      return '(no log)';
    }
  }
}

/** A zombie counts as gone: a detached node's parent may be long dead, and not every PID 1 reaps. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
