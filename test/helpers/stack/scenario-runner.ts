import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { ChatApiError, ChatClient } from '../../../client/index.js';
import { sleep } from '../../../src/lifecycle/wait.js';
import { LoadGenerator } from '../load/load-generator.js';
import type { LoadStats } from '../load/load-stats.js';
import type { LoadUser } from '../load/send-job.js';
import { checkAcked, type Verdict } from '../load/verify.js';
import { recordFigures, type ScenarioFigures } from './figures.js';
import { crashLines } from './pm2-logs.js';
import { ChaosStack, type StackOptions } from './stack.js';

/** Durations and sizes of a suite: `SHORT` inside `npm test`, `FULL` in `npm run test:chaos`. */
export interface ChaosTiming {
  suite: 'short' | 'full';
  restSenders: number;
  wsSenders: number;
  /** Load before the fault. */
  warmupMs: number;
  /** Load after the fault ended. */
  afterFaultMs: number;
  /** kill -9 of a daemon instance, this many times. */
  daemonKills: number;
  /** kill -9 of an API instance, this many times. */
  apiKills: number;
  /** Load between two kills. */
  killIntervalMs: number;
  /** How long Redis is down (crash to restart). */
  redisDownMs: number;
  /** How long the MongoDB-protocol server is stopped. */
  mongoOutageMs: number;
  /** Load under the maxmemory limit. */
  pressureMs: number;
  /** Longest wait for the daemons to drain. */
  drainTimeoutMs: number;
}

export const SHORT: ChaosTiming = {
  suite: 'short',
  restSenders: 3,
  wsSenders: 3,
  warmupMs: 1000,
  afterFaultMs: 1500,
  daemonKills: 2,
  apiKills: 1,
  killIntervalMs: 1000,
  redisDownMs: 1000,
  mongoOutageMs: 8000,
  pressureMs: 3000,
  drainTimeoutMs: 45000,
};

export const FULL: ChaosTiming = {
  suite: 'full',
  restSenders: 6,
  wsSenders: 6,
  warmupMs: 3000,
  afterFaultMs: 5000,
  daemonKills: 6,
  apiKills: 4,
  killIntervalMs: 3000,
  redisDownMs: 3000,
  mongoOutageMs: 30000,
  pressureMs: 10000,
  drainTimeoutMs: 120000,
};

/** A started stack with its load users. */
export interface ChaosContext {
  stack: ChaosStack;
  timing: ChaosTiming;
  restUsers: LoadUser[];
  wsUsers: LoadUser[];
  /** False when the API does not serve `/ws` (then the load is REST only, and says so). */
  ws: boolean;
}

/** Starts a stack and signs up the load's users. */
export async function prepareChaos(timing: ChaosTiming, opts: StackOptions): Promise<ChaosContext> {
  const stack = await ChaosStack.start(opts);
  try {
    const users = await signUpUsers(stack.baseUrl, timing.restSenders + timing.wsSenders);
    const ws = await servesWs(stack.wsUrl, users[0]);
    return {
      stack,
      timing,
      restUsers: users.slice(0, timing.restSenders),
      wsUsers: users.slice(timing.restSenders),
      ws,
    };
  } catch (err) {
    await stack.close();
    throw err;
  }
}

/** Signs up `n` users (retrying a few times while the stack settles). */
export async function signUpUsers(baseUrl: string, n: number): Promise<LoadUser[]> {
  const run = randomBytes(3).toString('hex');
  const users: LoadUser[] = [];
  for (let i = 0; i < n; i++) {
    const username = `c${run}_${i}`;
    let last = '';
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const { user, token } = await new ChatClient({ baseUrl }).signup({
          username,
          password: 'correct horse battery',
        });
        users.push({ id: user.id, username, token });
        break;
      } catch (err) {
        last =
          err instanceof ChatApiError
            ? `${err.status} ${err.code}: ${err.message}`
            : (err as Error).message;
        await sleep(250);
      }
    }
    if (users.length !== i + 1) throw new Error(`signup of ${username} failed: ${last}`);
  }
  return users;
}

/** Whether the API upgrades `/ws` for a valid token. */
async function servesWs(wsUrl: string, user: LoadUser | undefined): Promise<boolean> {
  if (!user) return false;
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${user.token}` },
      handshakeTimeout: 3000,
    });
    ws.once('open', () => {
      ws.terminate();
      resolve(true);
    });
    ws.once('error', () => resolve(false));
  });
}

/** What a fault reports back to {@link runScenario}. */
export interface FaultResult {
  /** When the fault ended (the server back, the cut over, the last kill). */
  faultEndedAt: number;
  notes?: string[];
  /** Figures only some faults have (a Redis Cluster failover). */
  figures?: Pick<ScenarioFigures, 'failoverMs' | 'shardResumedMs'>;
}

/** What a scenario produced, for scenario-specific checks. */
export interface ScenarioResult {
  figures: ScenarioFigures;
  stats: LoadStats;
  verdict: Verdict;
}

export interface ScenarioOptions {
  /** Bytes per message (memory pressure uses large ones). @defaultValue 64 */
  contentBytes?: number;
  /** Loss is measured and reported, not a failure (write-behind across a Redis crash). */
  lossIsMeasured?: boolean;
  /**
   * Duplicates are measured and reported, not a failure (write-behind through a cluster
   * failover: an idempotency record lost with its master lets a retry store again).
   */
  duplicatesAreMeasured?: boolean;
  /** More notes for the figures, computed once the load is over. */
  extraNotes?: (stats: LoadStats) => Promise<string[]> | string[];
}

/**
 * Runs the load, injects `fault` (given the load's figures so far) after the warm-up, keeps
 * the load on for `afterFaultMs`, waits for the daemons to drain, checks every acknowledged
 * message in MongoDB, scans the PM2 logs, records the figures, and asserts: lost 0 and
 * duplicated 0 (unless measured), no crash in any log, no unexpected 4xx, the stack serving
 * again within 10 s.
 */
export async function runScenario(
  ctx: ChaosContext,
  scenario: string,
  fault: (stats: LoadStats) => Promise<FaultResult>,
  opts: ScenarioOptions = {},
): Promise<ScenarioResult> {
  const { stack, timing } = ctx;
  const started = Date.now();
  const load = LoadGenerator.start({
    baseUrl: stack.baseUrl,
    wsUrl: ctx.ws ? stack.wsUrl : undefined,
    restUsers: ctx.restUsers,
    wsUsers: ctx.wsUsers,
    // The scenario stops the load; this is only the bound.
    durationMs: 10 * 60_000,
    maxMessagesPerSender: 5000,
    contentBytes: opts.contentBytes ?? 64,
    settleMs: 30_000,
  });
  let result: FaultResult;
  try {
    await sleep(timing.warmupMs);
    result = await fault(load.stats);
    await sleep(timing.afterFaultMs);
  } finally {
    await load.stop();
  }
  const loadEnded = Date.now();
  const stats = load.stats;
  const drainMs = await stack.waitForDrain(timing.drainTimeoutMs);
  const verifyStarted = Date.now();
  const verdict = await checkAcked(stack.db, stats.acks, `${load.runId}-`);
  const verifyMs = Date.now() - verifyStarted;
  const notes = [...(result.notes ?? [])];
  if (!ctx.ws) notes.push('ws NOT served: REST load only');
  notes.push(`${stats.networkErrors} failed connections`);
  notes.push(`load ${Math.round((loadEnded - started) / 100) / 10} s, verify ${verifyMs} ms`);
  if (stats.gaveUp) notes.push(`${stats.gaveUp} sends never acknowledged`);
  if (opts.extraNotes) notes.push(...(await opts.extraNotes(stats)));
  const figures: ScenarioFigures = {
    scenario,
    suite: timing.suite,
    sent: stats.sent,
    acknowledged: stats.acknowledged,
    persisted: verdict.persisted,
    lost: verdict.lost,
    duplicated: verdict.duplicated,
    http5xx: stats.serverErrors,
    recoverMs: stats.recoveryMs(result.faultEndedAt) ?? null,
    drainMs,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    notes: notes.join('; '),
    ...result.figures,
  };
  recordFigures(figures);

  const crashes = crashLines(stack.logDir);
  assert.deepEqual(crashes, [], 'crash lines in the PM2 logs');
  assert.deepEqual(stats.rejections, [], 'sends refused with an unexpected 4xx');
  assert.ok(stats.acknowledged > 0, 'no send was acknowledged');
  if (!opts.lossIsMeasured) {
    assert.equal(verdict.lost, 0, `acknowledged messages lost, e.g. ${verdict.lostIds.join(', ')}`);
  }
  if (!opts.duplicatesAreMeasured) assert.equal(verdict.duplicated, 0, 'messages stored twice');
  assert.notEqual(figures.recoverMs, null, 'no send succeeded after the fault');
  assert.ok((figures.recoverMs ?? 0) < 10_000, `recovery took ${figures.recoverMs} ms`);
  return { figures, stats, verdict };
}
