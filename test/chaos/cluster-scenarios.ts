import assert from 'node:assert/strict';
import type { Db } from 'mongodb';
import { waitUntil } from '../../src/lifecycle/wait.js';
import {
  conversationSlot,
  masterOf,
  messageSlot,
  onNode,
  shards,
  type Shard,
} from '../helpers/cluster-node.js';
import type { Ack, LoadStats } from '../helpers/load/load-stats.js';
import {
  runScenario,
  type ChaosContext,
  type ScenarioResult,
} from '../helpers/stack/scenario-runner.js';

/** Acknowledged sends the victim's shard must have before the kill. */
const STEADY_ACKS = 15;
/** Longest wait for the promotion, and for the dead shard to take the sends' writes again. */
const RECOVERY_TIMEOUT_MS = 30_000;

export interface MasterKillOptions {
  /**
   * Start the killed node again once its replica is promoted: it rejoins as the new
   * master's replica (REDIS_WAIT_REPLICAS=1 refuses the shard's sends until it has one).
   */
  restartVictim?: boolean;
  /** Loss measured and reported, not asserted (write-behind without a replica wait). */
  lossIsMeasured?: boolean;
  /** Duplicates measured and reported, not asserted. */
  duplicatesAreMeasured?: boolean;
}

/**
 * 7. `kill -9` of the Redis Cluster master that serves the most of the load's
 * conversations, once its shard has acknowledged sends; cluster-node-timeout 1000 lets
 * its replica take over. The fault lasts until a send to that shard, started after the
 * kill, is acknowledged with its message cached on the promoted master. Any loss must be
 * of the dead shard's messages.
 */
export async function masterKill(
  ctx: ChaosContext,
  label: string,
  opts: MasterKillOptions = {},
): Promise<ScenarioResult> {
  const { stack } = ctx;
  const cluster = stack.cluster;
  if (!cluster) throw new Error('masterKill needs a stack started with `cluster: true`');
  const map = await shards(cluster);
  const victimSlot = busiestSlot(ctx, map);
  const victim = masterOf(map, victimSlot);
  const onVictim = (slot: number) => masterOf(map, slot) === victim;
  const acksOnVictim = (stats: LoadStats, since: number) =>
    stats.acks.filter(
      (a) => a.attemptStartedAt >= since && onVictim(messageSlot(stack.space, a.id)),
    );
  let killedAt = 0;

  const result = await runScenario(
    ctx,
    `7 cluster master kill -9 (${label})`,
    async (stats) => {
      await waitUntil(
        `${STEADY_ACKS} acknowledged sends to the shard of :${victim}`,
        () => acksOnVictim(stats, 0).length >= STEADY_ACKS,
        RECOVERY_TIMEOUT_MS,
      );
      killedAt = Date.now();
      await cluster.killNode(victim);
      let promoted = victim;
      await waitUntil(
        `a replica of :${victim} promoted`,
        async () => {
          try {
            promoted = masterOf(await shards(cluster), victimSlot);
          } catch {
            // The node asked may not know the outcome yet: ask again.
          }
          return promoted !== victim;
        },
        RECOVERY_TIMEOUT_MS,
        20,
      );
      const failoverMs = Date.now() - killedAt;
      if (opts.restartVictim) await cluster.startNode(victim);
      const cachedAt = await firstCachedAck(
        promoted,
        () => acksOnVictim(stats, killedAt),
        (a) => stack.space.forMessage(a.id).message(a.id),
      );
      const shardResumedMs = cachedAt - killedAt;
      const ackedAgainMs =
        Math.min(...acksOnVictim(stats, killedAt).map((a) => a.ackedAt)) - killedAt;
      const notes = [
        `master :${victim} killed (${countOn(ctx, map, victim)} of the load's conversations)` +
          (opts.restartVictim ? ', restarted once its replica was promoted' : ''),
      ];
      notes.push(`first ack of a send to the dead shard after the kill: ${ackedAgainMs} ms`);
      return { faultEndedAt: killedAt, notes, figures: { failoverMs, shardResumedMs } };
    },
    {
      lossIsMeasured: opts.lossIsMeasured,
      duplicatesAreMeasured: opts.duplicatesAreMeasured,
      extraNotes: (stats) => [
        `${acksOnVictim(stats, killedAt).length} acks by the dead shard after the kill`,
        `failed attempts ${JSON.stringify(failedAttempts(stats))}`,
      ],
    },
  );
  if (result.verdict.lost > 0) {
    const lostElsewhere = (await missingIds(stack.db, result.stats.acks)).filter(
      (id) => !onVictim(messageSlot(stack.space, id)),
    );
    assert.deepEqual(lostElsewhere, [], 'only messages of the dead shard may be lost');
  }
  return result;
}

/** Every acknowledged message missing from MongoDB (`Verdict.lostIds` holds a few). */
async function missingIds(db: Db, acks: Ack[]): Promise<string[]> {
  const found = new Set<string>();
  for await (const d of db.collection('messages').find({}, { projection: { _id: 1 } })) {
    found.add(String(d._id));
  }
  return acks.map((a) => a.id).filter((id) => !found.has(id));
}

/** Attempts answered with anything but an acknowledgement, by status (`net`: no answer). */
function failedAttempts(stats: LoadStats): Record<string, number> {
  const acked = ['200', '201', '202', 'ws:ack'];
  return Object.fromEntries(Object.entries(stats.outcomes).filter(([k]) => !acked.includes(k)));
}

/** The slots of the load's conversations: each sender writes to the next user. */
function loadSlots(ctx: ChaosContext): number[] {
  const users = [...ctx.restUsers, ...(ctx.ws ? ctx.wsUsers : [])];
  return users.map((u, i) =>
    conversationSlot(ctx.stack.space, u.id, users[(i + 1) % users.length]!.id),
  );
}

function countOn(ctx: ChaosContext, map: Shard[], master: number): number {
  return loadSlots(ctx).filter((s) => masterOf(map, s) === master).length;
}

/** A slot of the load served by the master that serves the most of the load's conversations. */
function busiestSlot(ctx: ChaosContext, map: Shard[]): number {
  const slots = loadSlots(ctx);
  const load = (slot: number) => countOn(ctx, map, masterOf(map, slot));
  return slots.reduce((best, slot) => (load(slot) > load(best) ? slot : best));
}

/**
 * The acknowledgement time of the first send of `acks` (those of the dead shard, started
 * after the kill) whose message entry the promoted master `port` holds: from then on that
 * shard takes the sends' writes again. Write-through acknowledges a send once it is in
 * MongoDB, cached or not, so the acknowledgement alone does not say so. Each new ack is
 * looked up once, soon after it arrives (entries live CACHE_TTL_SECONDS).
 */
async function firstCachedAck(
  port: number,
  acks: () => Ack[],
  entryKey: (a: Ack) => string,
): Promise<number> {
  const seen = new Set<string>();
  let found: number | undefined;
  await waitUntil(
    `a send to the shard now on :${port} acknowledged and cached`,
    async () => {
      const fresh = acks().filter((a) => !seen.has(a.id));
      for (const a of fresh) seen.add(a.id);
      if (fresh.length === 0) return false;
      const cached = await onNode(port, (c) =>
        Promise.all(fresh.map(async (a) => ((await c.exists(entryKey(a))) ? a.ackedAt : Infinity))),
      ).catch(() => {
        // Not answering yet: these are looked up again on the next round.
        for (const a of fresh) seen.delete(a.id);
        return [Infinity];
      });
      found = Math.min(...cached);
      return found !== Infinity;
    },
    RECOVERY_TIMEOUT_MS,
    20,
  );
  return found!;
}
