/** One acknowledged send: the server answered with the stored message's id. */
export interface Ack {
  /** The message id the server acknowledged. */
  id: string;
  senderId: string;
  /** The client's idempotency key of this send. */
  clientMsgId: string;
  /** `persisted` of the answer: false = only Redis holds it yet (202, or write-behind). */
  persisted: boolean;
  via: 'rest' | 'ws';
  /** When the successful attempt was started and answered (epoch ms). */
  attemptStartedAt: number;
  ackedAt: number;
}

/**
 * What a load run saw, shared by every sender of it. Only acknowledged sends are checked
 * against MongoDB; a send that was never acknowledged may or may not be stored.
 */
export class LoadStats {
  /** Distinct messages started (each with its own idempotency key). */
  sent = 0;
  readonly acks: Ack[] = [];
  /** Attempts answered 5xx (REST), or a ws `error` of a 5xx code. */
  serverErrors = 0;
  /** Attempts that failed without an answer (connection refused or reset, timeout). */
  networkErrors = 0;
  /** Attempts answered 429 / `RATE_LIMITED`. */
  rateLimited = 0;
  /** Sends given up without an acknowledgement (retry budget or time spent). */
  gaveUp = 0;
  /** Answers by status or code, e.g. `201`, `503`, `ws:RATE_LIMITED`, `net`. */
  readonly outcomes: Record<string, number> = {};
  /** Unexpected 4xx answers (a bug in the server or in the load): never retried. */
  readonly rejections: string[] = [];

  count(outcome: string): void {
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }

  reject(what: string): void {
    // A few examples are enough to diagnose; the count is in `outcomes`.
    if (this.rejections.length < 20) this.rejections.push(what);
  }

  get acknowledged(): number {
    return this.acks.length;
  }

  /**
   * Time from `faultEndedAt` to the first acknowledgement of an attempt started at or
   * after it, or undefined when none was.
   */
  recoveryMs(faultEndedAt: number): number | undefined {
    let first: number | undefined;
    for (const a of this.acks) {
      if (a.attemptStartedAt >= faultEndedAt && (first === undefined || a.ackedAt < first)) {
        first = a.ackedAt;
      }
    }
    return first === undefined ? undefined : first - faultEndedAt;
  }
}
