import { sleep } from '../../src/lifecycle/wait.js';
import { freePort } from '../../src/local/port-probe.js';
import type { ApiUser } from '../lib/api-users.js';
import type { BenchResult } from '../lib/bench-result.js';
import { insertUsers } from '../lib/bulk-users.js';
import { NodeChild } from '../lib/child.js';
import { hostBusyBetween, hostCpu } from '../lib/host-cpu.js';
import { cpuSecondsBetween, processCpu, type ProcessCpu } from '../lib/process-cpu.js';
import {
  GC_ON_REQUEST_ARGS,
  openFileLimit,
  settledMemory,
  type SettledMemory,
} from '../lib/process-memory.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median, percentile, round } from '../lib/stats.js';
import { startApi } from '../lib/system-processes.js';
import type {
  Command as PoolCommand,
  PhaseResult,
  PoolSender,
} from '../workers/ws-latency-pool.js';

/** Sockets per user (tabs, devices): a message reaches 2 × this many sockets. */
const SOCKETS_PER_USER = 4;
/** Client pool processes sharing the sockets, so that one event loop does not limit the figures. */
const POOLS = 2;
/** Sends per second of the latency phase (the issue's load). */
const SEND_RATE = 2000;
/** Sends awaiting their ack per pool in the throughput phase. */
const IN_FLIGHT = 100;
/** Users whose sockets warm the server up (code paths compiled) before its baseline is read. */
const WARM_USERS = 50;
/** The API's heartbeat interval (REALTIME_DEFAULTS.heartbeatMs): the idle window is one of them. */
const HEARTBEAT_MS = 30_000;
/** Open files a process needs besides its sockets (Redis, MongoDB, listeners, libraries). */
const FD_MARGIN = 500;

/** How long a paced phase waits for its last frames; a frame not delivered by then counts as slower than any. */
const DRAIN_MS = 3000;

const KIB = 1024;

/** Counts and durations of a run. */
interface Sizes {
  sockets: number;
  pacedSeconds: number;
  saturateSeconds: number;
  idleSeconds: number;
  rounds: number;
}

function sizesOf(ctx: ScenarioContext): Sizes {
  return ctx.options.quick
    ? { sockets: 2000, pacedSeconds: 5, saturateSeconds: 4, idleSeconds: 30, rounds: 1 }
    : { sockets: 10000, pacedSeconds: 10, saturateSeconds: 8, idleSeconds: 30, rounds: 2 };
}

/** What one server (the API or the bare ws server) did with the sockets, in one round. */
interface SessionResult {
  connectSeconds: number;
  base: SettledMemory;
  loaded: SettledMemory;
  /** Idle CPU, % of one core, over `idleSeconds` (undefined when not measured). */
  idleCpuPercent?: number;
  idlePings?: number;
  latencies: number[];
  pacedSent: number;
  pacedReceived: number;
  pacedErrors: Record<string, number>;
  maxSendLagMs: number;
  pacedCpu: PhaseCpu;
  saturatedPerSecond: number;
  saturatedCpu: PhaseCpu;
  idleMachineCpu?: number;
  /** Sockets closed by the server during the session (missed pings, too slow). */
  closed: number;
}

/** The server side of a session. */
interface Target {
  name: string;
  child: NodeChild;
  socketUrl(user: ApiUser): string;
}

class Pool {
  readonly child: NodeChild;
  constructor(name: string) {
    this.child = new NodeChild(name, 'bench/workers/ws-latency-pool.ts');
  }
  async ask<T>(command: object, timeoutMs: number): Promise<T> {
    this.child.send(command);
    return this.child.next<T>('result', timeoutMs);
  }
}

function cpuOf(child: NodeChild): ProcessCpu {
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${child.name} has no pid`);
  return processCpu(pid);
}

/** CPU use during a phase, % of one core: the server, Redis, each pool, and the whole machine. */
interface PhaseCpu {
  server: number;
  redis: number;
  pools: number[];
  /** Busy share of all the machine's cores (other people's work included), %. */
  machine: number;
}

/** Runs `phase` while reading the CPU that the server, Redis and the pools used meanwhile. */
async function withCpu<T>(
  ctx: ScenarioContext,
  target: Target,
  pools: Pool[],
  phase: () => Promise<T>,
): Promise<{ result: T; cpu: PhaseCpu }> {
  const redisPid = ctx.servers.redisPid;
  const started = Date.now();
  const m0 = hostCpu();
  const s0 = cpuOf(target.child);
  const r0 = redisPid === undefined ? undefined : processCpu(redisPid);
  const p0 = pools.map((p) => cpuOf(p.child));
  const result = await phase();
  const seconds = (Date.now() - started) / 1000;
  const pct = (a: ProcessCpu, b: ProcessCpu) => round((cpuSecondsBetween(a, b) / seconds) * 100);
  const m1 = hostCpu();
  return {
    result,
    cpu: {
      server: pct(s0, cpuOf(target.child)),
      redis: r0 && redisPid !== undefined ? pct(r0, processCpu(redisPid)) : Number.NaN,
      pools: pools.map((p, i) => pct(p0[i] as ProcessCpu, cpuOf(p.child))),
      machine: round(hostBusyBetween(m0, m1) * 100),
    },
  };
}

/** Each pool's share: a user's sockets all in one pool, user i sending to user i + 1. */
function shares(target: Target, users: readonly ApiUser[], nPools: number) {
  return Array.from({ length: nPools }, (_, p) => {
    const urls: string[] = [];
    const senders: PoolSender[] = [];
    for (let i = p; i < users.length; i += nPools) {
      const user = users[i] as ApiUser;
      senders.push({
        socket: urls.length,
        receiverId: (users[(i + 1) % users.length] as ApiUser).id,
      });
      for (let k = 0; k < SOCKETS_PER_USER; k++) urls.push(target.socketUrl(user));
    }
    return { urls, senders };
  });
}

async function stopPools(pools: Pool[]): Promise<void> {
  for (const p of pools) p.child.send({ type: 'stop' });
  await Promise.all(pools.map((p) => p.child.waitExit(15000)));
}

/** A few sockets and sends, so that the server's code is compiled before its baseline is read. */
async function warmUp(target: Target, users: readonly ApiUser[]): Promise<void> {
  const pool = new Pool('ws-pool-warmup');
  try {
    await pool.child.next('ready', 30000);
    const [share] = shares(target, users.slice(0, WARM_USERS), 1);
    await pool.ask({ type: 'open', ...share }, 60000);
    await pool.ask({ type: 'paced', phase: 'warm', rate: 200, seconds: 1, drainMs: 500 }, 30000);
  } finally {
    await stopPools([pool]);
  }
}

/**
 * One server with all the sockets: its memory before and with them (after a full GC), its
 * idle CPU over one heartbeat interval, delivery latency at {@link SEND_RATE} sends/s (open
 * loop), and deliveries/s with {@link IN_FLIGHT} sends in flight per pool (closed loop).
 */
async function session(
  ctx: ScenarioContext,
  target: Target,
  users: readonly ApiUser[],
  sizes: Sizes,
  roundNo: number,
  measureIdle: boolean,
): Promise<SessionResult> {
  const { log } = ctx;
  await warmUp(target, users);
  await sleep(1000);
  const base = await settledMemory(target.child);
  const pools = Array.from({ length: POOLS }, (_, i) => new Pool(`ws-pool-${i}`));
  try {
    await Promise.all(pools.map((p) => p.child.next('ready', 30000)));
    const parts = shares(target, users, POOLS);
    const t0 = Date.now();
    await Promise.all(pools.map((p, i) => p.ask({ type: 'open', ...parts[i] }, 600000)));
    const connectSeconds = (Date.now() - t0) / 1000;
    await sleep(2000);
    const loaded = await settledMemory(target.child);
    log(
      `ws-10k ${target.name} round ${roundNo}: ${sizes.sockets} sockets open in ${round2(connectSeconds)} s; RSS ${mib(base.rss)} → ${mib(loaded.rss)} MiB`,
    );

    let idleCpuPercent: number | undefined;
    let idlePings: number | undefined;
    let idleMachineCpu: number | undefined;
    if (measureIdle) {
      const stats = () =>
        Promise.all(pools.map((p) => p.ask<{ pings: number }>({ type: 'stats' }, 10000)));
      const pingsBefore = await stats();
      const idle = await withCpu(ctx, target, [], () => sleep(sizes.idleSeconds * 1000));
      const pingsAfter = await stats();
      idleCpuPercent = idle.cpu.server;
      idleMachineCpu = idle.cpu.machine;
      idlePings = pingsAfter.reduce((s, x, i) => s + x.pings - (pingsBefore[i]?.pings ?? 0), 0);
    }

    // One phase on every pool at once, its CPU measured; a minute of slack past its length.
    const phase = (command: Extract<PoolCommand, { type: 'paced' | 'saturate' }>) =>
      withCpu(ctx, target, pools, () =>
        Promise.all(pools.map((p) => p.ask<PhaseResult>(command, (command.seconds + 60) * 1000))),
      );
    const paced = await phase({
      type: 'paced',
      phase: `p${roundNo}`,
      rate: SEND_RATE / POOLS,
      seconds: sizes.pacedSeconds,
      drainMs: DRAIN_MS,
    });
    const saturated = await phase({
      type: 'saturate',
      phase: `s${roundNo}`,
      seconds: sizes.saturateSeconds,
      inFlight: IN_FLIGHT,
    });
    const end = await Promise.all(
      pools.map((p) => p.ask<{ closed: number }>({ type: 'stats' }, 10000)),
    );

    const latencies = paced.result.flatMap((r) => Array.from(r.latencies));
    const expected = paced.result.reduce((n, r) => n + r.sent, 0) * 2 * SOCKETS_PER_USER;
    // Frames never delivered (or after the drain) are the slowest, not absent from the percentiles.
    for (let k = latencies.length; k < expected; k++) latencies.push(Infinity);
    const errors: Record<string, number> = {};
    for (const r of [...paced.result, ...saturated.result]) {
      for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
    }
    const sum = (rs: PhaseResult[], f: (r: PhaseResult) => number) =>
      rs.reduce((s, r) => s + f(r), 0);
    return {
      connectSeconds,
      base,
      loaded,
      idleCpuPercent,
      idlePings,
      idleMachineCpu,
      latencies,
      pacedSent: sum(paced.result, (r) => r.sent),
      pacedReceived: sum(paced.result, (r) => r.received),
      pacedErrors: errors,
      maxSendLagMs: Math.max(...paced.result.map((r) => r.maxSendLagMs)),
      pacedCpu: paced.cpu,
      saturatedPerSecond: sum(saturated.result, (r) => r.received) / sizes.saturateSeconds,
      saturatedCpu: saturated.cpu,
      closed: end.reduce((s, x) => s + x.closed, 0),
    };
  } finally {
    await stopPools(pools);
  }
}

/** `CPU API 31% / Redis 12% / pools 10 + 9% (machine 97% busy)`. */
const cpuText = (server: string, c: PhaseCpu) =>
  `CPU ${server} ${c.server}% / Redis ${c.redis}% / pools ${c.pools.join(' + ')}% of a core (machine ${c.machine}% busy)`;
const mib = (bytes: number) => round(bytes / KIB / KIB);
const round2 = (v: number) => round(v, 2);
const perConnection = (s: SessionResult, n: number, f: (m: SettledMemory) => number) =>
  (f(s.loaded) - f(s.base)) / n;

/**
 * Throws one clear line when the open-file limit cannot hold the sockets: the API and the bare
 * server each hold all of them, each client pool its share, and all inherit this limit.
 */
function checkOpenFiles(sockets: number, quick: boolean): void {
  const need = sockets + FD_MARGIN;
  const { soft, hard } = openFileLimit();
  if (soft >= need) return;
  const raise =
    hard >= need
      ? `run \`ulimit -n ${need}\` (or more, up to the hard limit ${hard}) in this shell first`
      : `the hard limit (${hard}) is too low too: raise nofile in /etc/security/limits.conf or the unit's LimitNOFILE, then \`ulimit -n ${need}\``;
  throw new Error(
    `ws-10k needs an open-file limit of ${need} (${sockets} sockets in one process); this shell's \`ulimit -n\` is ${soft}: ${raise} (README, "Open files")${quick ? '' : '; --quick needs less'}`,
  );
}

/**
 * `ws-10k`: 10,000 ws connections (2,500 users × 4) to one API process (write-behind, so that
 * MongoDB is not what is measured), heartbeats on as by default (a ping every 30 s). Measures
 * the API's memory per connection above its baseline (VmRSS and V8 heap after a full GC,
 * before and with the sockets), its CPU while idle with them over one heartbeat interval,
 * the delivery latency of messages to their 8 sockets at 2,000 sends/s (each `message:send`
 * frame carries its send time; the pools subtract it on receipt), and deliveries/s with
 * sends kept in flight, against a bare `ws` server holding the same sockets. Goals:
 * ≤ 8 KiB/connection, p99 ≤ 50 ms, idle CPU ≤ 3% of a core, ≥ 0.8× the bare server's rate.
 */
export const ws10k: Scenario = {
  ids: ['ws-10k'],
  async run(ctx) {
    const { log } = ctx;
    const sizes = sizesOf(ctx);
    checkOpenFiles(sizes.sockets, ctx.options.quick);
    await resetStores(ctx);
    const nUsers = Math.ceil(sizes.sockets / SOCKETS_PER_USER);
    const users = await insertUsers(ctx, nUsers);
    const system: SessionResult[] = [];
    const bare: SessionResult[] = [];
    for (let r = 1; r <= sizes.rounds; r++) {
      const api = await startApi(
        ctx.servers,
        { PERSISTENCE_MODE: 'write-behind' },
        { extraExecArgv: [...GC_ON_REQUEST_ARGS] },
      );
      try {
        const wsBase = api.url.replace('http', 'ws');
        system.push(
          await session(
            ctx,
            { name: 'API', child: api.child, socketUrl: (u) => `${wsBase}/ws?token=${u.token}` },
            users,
            sizes,
            r,
            true,
          ),
        );
      } finally {
        await api.stop();
      }
      const port = await freePort();
      const bareChild = new NodeChild('bare-ws', 'bench/workers/bare-ws-server.ts', {
        env: { PORT: String(port), HEARTBEAT_MS: String(HEARTBEAT_MS) },
        extraExecArgv: [...GC_ON_REQUEST_ARGS],
      });
      try {
        await bareChild.next('ready', 30000);
        bare.push(
          await session(
            ctx,
            {
              name: 'bare ws',
              child: bareChild,
              socketUrl: (u) => `ws://127.0.0.1:${port}/ws?user=${u.id}`,
            },
            users,
            sizes,
            r,
            false,
          ),
        );
      } finally {
        bareChild.send({ type: 'stop' });
        await bareChild.waitExit(15000);
      }
      const s = system[system.length - 1] as SessionResult;
      const b = bare[bare.length - 1] as SessionResult;
      log(
        `ws-10k round ${r}: API ${round(s.saturatedPerSecond)} deliveries/s, p99 ${round(percentile(s.latencies, 99))} ms, ` +
          `${round(perConnection(s, sizes.sockets, (m) => m.rss) / KIB)} KiB/conn, idle ${s.idleCpuPercent}% CPU; ` +
          `bare ws ${round(b.saturatedPerSecond)}/s, p99 ${round(percentile(b.latencies, 99))} ms`,
      );
    }
    return [result(system, bare, sizes)];
  },
};

function result(system: SessionResult[], bare: SessionResult[], sizes: Sizes): BenchResult {
  const n = sizes.sockets;
  const m = (rs: SessionResult[], f: (s: SessionResult) => number) => median(rs.map(f));
  const rate = m(system, (s) => s.saturatedPerSecond);
  const bareRate = m(bare, (s) => s.saturatedPerSecond);
  const rssKib = m(system, (s) => perConnection(s, n, (x) => x.rss)) / KIB;
  const heapKib = m(system, (s) => perConnection(s, n, (x) => x.heapUsed)) / KIB;
  const externalKib = m(system, (s) => perConnection(s, n, (x) => x.external)) / KIB;
  const bareRssKib = m(bare, (s) => perConnection(s, n, (x) => x.rss)) / KIB;
  const bareHeapKib = m(bare, (s) => perConnection(s, n, (x) => x.heapUsed)) / KIB;
  const idle = m(system, (s) => s.idleCpuPercent ?? Number.NaN);
  const p50 = m(system, (s) => percentile(s.latencies, 50));
  const p99 = m(system, (s) => percentile(s.latencies, 99));
  const ratio = rate / bareRate;
  const goals = {
    memory: rssKib <= 8,
    latency: p99 <= 50,
    idle: idle <= 3,
    rate: ratio >= 0.8,
  };
  const missed = Object.entries(goals)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  const perRound = system.map((s, i) => {
    const b = bare[i] as SessionResult;
    const expected = s.pacedSent * 2 * SOCKETS_PER_USER;
    const errs = Object.entries(s.pacedErrors)
      .map(([code, k]) => `${k} ${code}`)
      .join(', ');
    return (
      `round ${i + 1}: API — connect ${round2(s.connectSeconds)} s; RSS ${mib(s.base.rss)} → ${mib(s.loaded.rss)} MiB, heap ${mib(s.base.heapUsed)} → ${mib(s.loaded.heapUsed)} MiB; ` +
      `idle ${s.idleCpuPercent}% of a core over ${sizes.idleSeconds} s (${s.idlePings} heartbeat pings in the window; machine ${s.idleMachineCpu}% busy); ` +
      `paced: ${s.pacedReceived}/${expected} frames delivered${errs ? ` (errors: ${errs})` : ''}, pool send lag ≤ ${round(s.maxSendLagMs)} ms, ${cpuText('API', s.pacedCpu)}; ` +
      `saturated: ${cpuText('API', s.saturatedCpu)}; sockets closed by the server ${s.closed}. ` +
      `Bare ws — RSS ${mib(b.base.rss)} → ${mib(b.loaded.rss)} MiB; paced ${b.pacedReceived}/${b.pacedSent * 2 * SOCKETS_PER_USER}; saturated: ${cpuText('bare', b.saturatedCpu)}`
    );
  });
  return {
    id: 'ws-10k',
    unit: `deliveries/s; ${round(rssKib)} KiB/conn RSS, idle CPU ${round(idle)} %`,
    value: round(rate),
    baseline: { name: 'bare ws server, same sockets (deliveries/s)', value: round(bareRate) },
    ratio: round(ratio),
    goal: '≤ 8 KiB/conn; p99 ≤ 50 ms at 2,000 sends/s; idle CPU ≤ 3 %; ≥ 0.8× bare ws',
    met: missed.length === 0,
    p50: round(p50),
    p99: round(p99),
    baselineP50: round(m(bare, (s) => percentile(s.latencies, 50))),
    baselineP99: round(m(bare, (s) => percentile(s.latencies, 99))),
    rounds: system.map((s, i) => ({
      value: round(s.saturatedPerSecond),
      baseline: round((bare[i] as SessionResult).saturatedPerSecond),
    })),
    notes: [
      `${n} sockets (${SOCKETS_PER_USER} per user, ${n / SOCKETS_PER_USER} users) on one API process in write-behind mode, heartbeat every ${HEARTBEAT_MS / 1000} s (the default); ${sizes.rounds} round(s)${sizes.sockets < 10000 ? "; QUICK: fewer sockets than the issue's 10,000" : ''}`,
      `memory per connection above the baseline (after a full GC, --expose-gc): RSS ${round(rssKib)} KiB, V8 heap ${round(heapKib)} KiB, external ${round(externalKib)} KiB (bare ws server: RSS ${round(bareRssKib)} KiB, heap ${round(bareHeapKib)} KiB); kernel socket buffers are not in RSS`,
      `delivery latency: ${SEND_RATE} sends/s (open loop) from ${POOLS} client pool processes for ${sizes.pacedSeconds} s, message:send frames carrying their send time, each message to 8 sockets; the rate: sends kept in flight (${IN_FLIGHT} per pool) for ${sizes.saturateSeconds} s, message:new frames received per second; both servers get the same frames from the same pools`,
      ...(missed.length > 0 ? [`goals missed: ${missed.join(', ')}`] : []),
      ...perRound,
    ],
  };
}
