import WebSocket from 'ws';
import { ERROR_CODES, type ErrorCode } from '../../../src/errors/error-codes.js';
import type { LoadStats } from './load-stats.js';
import { backoffMs, sleepUntil, type LoadUser, type SendJob } from './send-job.js';

/** The server frames a sender waits for (see src/realtime/ws-server.ts). */
type AnswerFrame =
  | { type: 'message:ack'; clientMsgId?: string; message: { id: string }; persisted: boolean }
  | {
      type: 'error';
      code: string;
      message: string;
      clientMsgId?: string;
      retryAfterSeconds?: number;
    };

/**
 * One user's WebSocket connection to `/ws`, reconnected on demand. Sends one message at a
 * time as `{ type: 'message:send', clientMsgId, ... }` and resends it with the same
 * `clientMsgId` after a reconnect, a timeout or a retryable error, so a message is stored
 * once however often it is sent.
 */
export class WsSender {
  private ws: WebSocket | undefined;
  private readonly waiters = new Map<string, (frame: AnswerFrame | Error) => void>();

  constructor(
    private readonly wsUrl: string,
    private readonly user: LoadUser,
    private readonly stats: LoadStats,
  ) {}

  /** Delivers `job` (acknowledged, refused for good, or given up at its deadline). */
  async send(job: SendJob): Promise<void> {
    for (let attempt = 0; attempt < job.maxAttempts && Date.now() < job.deadline; attempt++) {
      const waitMs = await this.attemptOnce(job);
      if (waitMs === undefined) return;
      await sleepUntil(Math.min(Date.now() + waitMs, job.deadline));
    }
    this.stats.gaveUp++;
  }

  /** Closes the connection (end of the load). */
  close(): void {
    this.ws?.terminate();
    this.ws = undefined;
  }

  /** One attempt; undefined = done, else how long to wait before the next. */
  private async attemptOnce(job: SendJob): Promise<number | undefined> {
    const startedAt = Date.now();
    let answer: AnswerFrame;
    try {
      const ws = await this.open(job.timeoutMs);
      const answered = this.answerTo(job.clientMsgId, job.timeoutMs);
      ws.send(
        JSON.stringify({
          type: 'message:send',
          clientMsgId: job.clientMsgId,
          receiverId: job.receiverId,
          content: job.content,
        }),
      );
      answer = await answered;
    } catch {
      // Refused upgrade, closed socket, or no answer in time: start over on a new socket.
      this.stats.networkErrors++;
      this.stats.count('ws:net');
      this.close();
      return backoffMs(job.attempts++);
    }
    if (answer.type === 'message:ack') {
      this.stats.count('ws:ack');
      this.stats.acks.push({
        id: answer.message.id,
        senderId: this.user.id,
        clientMsgId: job.clientMsgId,
        persisted: answer.persisted,
        via: 'ws',
        attemptStartedAt: startedAt,
        ackedAt: Date.now(),
      });
      return undefined;
    }
    this.stats.count(`ws:${answer.code}`);
    if (answer.code === 'RATE_LIMITED') {
      this.stats.rateLimited++;
      return (answer.retryAfterSeconds ?? 1) * 1000;
    }
    const status = ERROR_CODES[answer.code as ErrorCode]?.status ?? 0;
    if (status >= 500) {
      this.stats.serverErrors++;
      return backoffMs(job.attempts++);
    }
    if (answer.code === 'IDEMPOTENCY_IN_PROGRESS') return backoffMs(job.attempts++);
    this.stats.reject(`ws ${answer.code} ${answer.message}`);
    return undefined;
  }

  private open(timeoutMs: number): Promise<WebSocket> {
    const current = this.ws;
    if (current && current.readyState === WebSocket.OPEN) return Promise.resolve(current);
    current?.terminate();
    const ws = new WebSocket(this.wsUrl, {
      headers: { authorization: `Bearer ${this.user.token}` },
      handshakeTimeout: timeoutMs,
    });
    this.ws = ws;
    ws.on('message', (data) => this.onFrame(data.toString()));
    ws.on('close', () => {
      // A late close of a socket already replaced must not fail the new one's sends.
      if (this.ws === ws) this.failWaiters(new Error('ws closed'));
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      // Without a listener, a later error (e.g. a reset) would be thrown.
      ws.on('error', () => {});
    });
  }

  private answerTo(clientMsgId: string, timeoutMs: number): Promise<AnswerFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(clientMsgId);
        reject(new Error('no answer in time'));
      }, timeoutMs);
      this.waiters.set(clientMsgId, (frame) => {
        clearTimeout(timer);
        this.waiters.delete(clientMsgId);
        if (frame instanceof Error) reject(frame);
        else resolve(frame);
      });
    });
  }

  private onFrame(text: string): void {
    let frame: { type?: unknown; clientMsgId?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    // `message:new` events (this user's own sends and received messages) are not answers.
    if (frame.type !== 'message:ack' && frame.type !== 'error') return;
    if (typeof frame.clientMsgId !== 'string') return;
    this.waiters.get(frame.clientMsgId)?.(frame as AnswerFrame);
  }

  private failWaiters(err: Error): void {
    for (const waiter of [...this.waiters.values()]) waiter(err);
  }
}
