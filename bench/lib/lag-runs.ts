import { sleep } from '../../src/lifecycle/wait.js';
import { NodeChild } from './child.js';
import { startBullmqWorkers } from './bullmq-workers.js';
import { waitBullmqDrained, waitExpiryDrained } from './expiry-progress.js';
import {
  fractionWithin,
  histogramDelta,
  histogramQuantile,
  readHistogram,
  sumSamples,
} from './prom-text.js';
import type { ScenarioContext } from './scenario.js';
import { percentile } from './stats.js';
import { scrape, type DaemonProcess } from './system-processes.js';

/** Each expiration falls due this long after it is created (the send script's TTL: 1 s). */
export const LEAD_MS = 1000;

/** The lag figures of one run, in ms. */
export interface LagRun {
  created: number;
  /** Processed (system) or delivered (baselines) at all. */
  processed: number;
  p50: number;
  p99: number;
  /** Fraction processed within 100 ms of the deadline. */
  within100: number;
  /** Fraction processed within the delivery window (60 s in a full run). */
  withinWindow: number;
}

interface GeneratorResult {
  created: number;
  elapsed: number;
  rate: number;
}

/** Starts the generator child, says 'go', and returns its result when it is done. */
async function generate(
  ctx: ScenarioContext,
  mode: 'system' | 'bullmq' | 'keyevent',
  queue = '',
): Promise<GeneratorResult> {
  const { lagRate, lagSeconds } = ctx.options;
  const gen = new NodeChild(`generator:${mode}`, 'bench/workers/expiry-generator.ts', {
    env: {
      REDIS_URL: ctx.servers.redisUrl,
      MODE: mode,
      RATE: String(lagRate),
      SECONDS: String(lagSeconds),
      LEAD_MS: String(LEAD_MS),
      QUEUE: queue,
    },
  });
  await gen.next('ready', 30000);
  gen.send({ type: 'go' });
  const result = await gen.next<GeneratorResult>('result', (lagSeconds + 30) * 1000);
  await gen.waitExit(10000);
  if (result.rate < lagRate * 0.95) {
    ctx.log(`generator (${mode}) reached only ${Math.round(result.rate)}/s of ${lagRate}/s`);
  }
  return result;
}

/**
 * The system: expirations created by the API's own send script at the scenario's rate,
 * processed by the running `daemons`; lag from the daemons' `expiration_lag_seconds`
 * histograms (the difference of two scrapes).
 */
export function systemLagRun(ctx: ScenarioContext, daemons: DaemonProcess[]): Promise<LagRun> {
  return daemonLagRun(
    ctx,
    daemons,
    () => generate(ctx, 'system'),
    () => waitExpiryDrained(ctx.redis, ctx.options.deliveryWindowSeconds * 1000),
  );
}

/**
 * The lag of `daemons` over what `create` makes (expirations due LEAD_MS after their
 * creation), once `drained` says they are all processed: from the daemons'
 * `expiration_lag_seconds` histograms, the difference of a scrape before and one after.
 */
export async function daemonLagRun(
  ctx: ScenarioContext,
  daemons: DaemonProcess[],
  create: () => Promise<{ created: number }>,
  drained: () => Promise<unknown>,
): Promise<LagRun> {
  const before = await Promise.all(daemons.map((d) => scrape(d.metricsUrl)));
  const gen = await create();
  await sleep(LEAD_MS);
  await drained();
  const after = await Promise.all(daemons.map((d) => scrape(d.metricsUrl)));
  const name = 'expiration_lag_seconds';
  const h = histogramDelta(
    after.map((t) => readHistogram(t, name)),
    before.map((t) => readHistogram(t, name)),
  );
  const processed =
    after.reduce((s, t) => s + sumSamples(t, 'expirations_processed_total'), 0) -
    before.reduce((s, t) => s + sumSamples(t, 'expirations_processed_total'), 0);
  const window = ctx.options.deliveryWindowSeconds;
  const bound = h.bounds.filter((b) => b <= window).pop() ?? window;
  return {
    created: gen.created,
    processed,
    p50: histogramQuantile(h, 0.5) * 1000,
    p99: histogramQuantile(h, 0.99) * 1000,
    within100: fractionWithin(h, 0.1),
    withinWindow: (fractionWithin(h, bound) * processed) / gen.created,
  };
}

function fromLags(created: number, lags: number[], windowMs: number): LagRun {
  return {
    created,
    processed: lags.length,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    within100: lags.filter((l) => l <= 100).length / Math.max(1, lags.length),
    withinWindow: lags.filter((l) => l <= windowMs).length / Math.max(1, created),
  };
}

/** Baseline: BullMQ delayed jobs at the same rate, `workers` no-op worker processes. */
export async function bullmqLagRun(
  ctx: ScenarioContext,
  queue: string,
  workers: number,
  concurrency: number,
): Promise<LagRun> {
  const pool = await startBullmqWorkers(ctx.servers.redisUrl, queue, workers, concurrency);
  let created: number;
  try {
    created = (await generate(ctx, 'bullmq', queue)).created;
    await sleep(LEAD_MS);
    await waitBullmqDrained(ctx.redis, queue, ctx.options.deliveryWindowSeconds * 1000);
  } catch (err) {
    await pool.stop();
    throw err;
  }
  const { lags } = await pool.stop();
  return fromLags(created, lags, ctx.options.deliveryWindowSeconds * 1000);
}

/**
 * Baseline: the guide's design, a plain `__keyevent@0__:expired` subscriber, for keys
 * created at the same rate; waits for every event, at most the delivery window past the
 * last deadline.
 */
export async function keyeventLagRun(ctx: ScenarioContext): Promise<LagRun> {
  const sub = new NodeChild('keyevent-subscriber', 'bench/workers/keyevent-subscriber.ts', {
    env: { REDIS_URL: ctx.servers.redisUrl },
  });
  await sub.next('ready', 30000);
  try {
    const gen = await generate(ctx, 'keyevent');
    const windowMs = ctx.options.deliveryWindowSeconds * 1000;
    const end = Date.now() + LEAD_MS + windowMs;
    // Bounded by the window: events that have not come by then count as not delivered.
    while (Date.now() < end && Number(sub.progress ?? 0) < gen.created) await sleep(200);
    sub.send({ type: 'stop' });
    const { lags } = await sub.next<{ lags: number[] }>('result', 30000);
    return fromLags(gen.created, lags, windowMs);
  } finally {
    await sub.stop();
  }
}
