import { randomBytes } from 'node:crypto';
import { sleep } from '../../../src/lifecycle/wait.js';
import { LoadStats } from './load-stats.js';
import { sendOverRest } from './rest-sender.js';
import type { LoadUser, SendJob } from './send-job.js';
import { WsSender } from './ws-sender.js';

/** What a load run does; every loop in it is bounded by `maxMessagesPerSender` and time. */
export interface LoadOptions {
  /** `http://127.0.0.1:<port>` of the API. */
  baseUrl: string;
  /** `ws://127.0.0.1:<port>/ws`; undefined runs REST senders only. */
  wsUrl: string | undefined;
  /** One REST sender per user. */
  restUsers: LoadUser[];
  /** One ws sender per user (ignored without `wsUrl`). */
  wsUsers: LoadUser[];
  /** New messages are started for this long. */
  durationMs: number;
  /** Messages per sender at most. */
  maxMessagesPerSender: number;
  /** Pause between two messages of one sender. @defaultValue 10 */
  pauseMs?: number;
  /** Size of each message's content. @defaultValue 64 */
  contentBytes?: number;
  /** Per-attempt timeout. @defaultValue 3000 */
  timeoutMs?: number;
  /** How long after `durationMs` unacknowledged sends are still retried. @defaultValue 20000 */
  settleMs?: number;
}

/**
 * Concurrent REST and ws senders, each with its own user, each sending to the next user
 * in the list, one message at a time, every message with a fresh idempotency key that
 * all its retries reuse.
 */
export class LoadGenerator {
  readonly stats = new LoadStats();
  private stopRequested = false;
  /** Prefix of this run's idempotency keys (`<runId>-<sender>-<n>`). */
  readonly runId = randomBytes(3).toString('hex');
  private readonly done: Promise<void>;

  private constructor(private readonly opts: LoadOptions) {
    this.done = this.run();
  }

  /** Starts the senders at once. */
  static start(opts: LoadOptions): LoadGenerator {
    return new LoadGenerator(opts);
  }

  /** Stops starting new messages, waits for the ones in flight, and returns the figures. */
  async stop(): Promise<LoadStats> {
    this.stopRequested = true;
    await this.done;
    return this.stats;
  }

  private async run(): Promise<void> {
    const o = this.opts;
    const runId = this.runId;
    const all = [...o.restUsers, ...(o.wsUrl ? o.wsUsers : [])];
    const startedAt = Date.now();
    const deadline = startedAt + o.durationMs + (o.settleMs ?? 20000);
    const loops = all.map(async (user, index) => {
      const receiver = all[(index + 1) % all.length];
      if (!receiver || receiver.id === user.id)
        throw new Error('the load needs two users at least');
      const viaWs = index >= o.restUsers.length;
      const ws = viaWs && o.wsUrl ? new WsSender(o.wsUrl, user, this.stats) : undefined;
      for (let i = 0; i < o.maxMessagesPerSender; i++) {
        if (this.stopRequested || Date.now() >= startedAt + o.durationMs) break;
        const job: SendJob = {
          baseUrl: o.baseUrl,
          sender: user,
          receiverId: receiver.id,
          content: contentOf(`${runId} ${user.username} #${i} `, o.contentBytes ?? 64),
          clientMsgId: `${runId}-${index}-${i}`,
          keyIn: index % 2 === 0 ? 'header' : 'body',
          timeoutMs: o.timeoutMs ?? 3000,
          maxAttempts: 500,
          deadline,
          attempts: 0,
        };
        this.stats.sent++;
        if (ws) await ws.send(job);
        else await sendOverRest(job, this.stats);
        await sleep(o.pauseMs ?? 10);
      }
      ws?.close();
    });
    await Promise.all(loops);
  }
}

function contentOf(head: string, bytes: number): string {
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}
