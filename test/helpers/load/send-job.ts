import { sleep } from '../../../src/lifecycle/wait.js';

/** A user of the load, signed up on the stack. */
export interface LoadUser {
  id: string;
  username: string;
  token: string;
}

/** One message to deliver, with everything a retry needs to be the same request. */
export interface SendJob {
  /** `http://127.0.0.1:<port>` of the API. */
  baseUrl: string;
  sender: LoadUser;
  receiverId: string;
  content: string;
  /** The idempotency key: the same for every attempt of this message. */
  clientMsgId: string;
  /** REST only: send the key as the `Idempotency-Key` header or the `clientMsgId` field. */
  keyIn: 'header' | 'body';
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Attempts at most (every loop is bounded in count as well as time). */
  maxAttempts: number;
  /** No attempt starts after this (epoch ms). */
  deadline: number;
  /** Failed attempts so far (drives the backoff). */
  attempts: number;
}

/**
 * Delay before the next attempt: 50 ms doubling to 500 ms, with jitter. Short, so that the
 * measured time to recover is not mostly the client's own backoff.
 */
export function backoffMs(failures: number): number {
  const base = Math.min(50 * 2 ** Math.min(failures, 4), 500);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** Sleeps until the epoch time `at` (at once when it has passed). */
export function sleepUntil(at: number): Promise<void> {
  return sleep(at - Date.now());
}
