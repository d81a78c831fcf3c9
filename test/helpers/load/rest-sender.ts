import type { LoadStats } from './load-stats.js';
import { backoffMs, sleepUntil, type SendJob } from './send-job.js';

/** Outcome of one attempt: done (acked or refused for good) or retry after `waitMs`. */
type Attempt = { done: true } | { done: false; waitMs: number };

/**
 * Sends one message over `POST /api/messages/send`, retrying with the same idempotency key
 * on a network error, a timeout, a 5xx, a 409 (the key is still being processed by an
 * earlier attempt) or a 429 (after `Retry-After`), until it is acknowledged or the job's
 * deadline passes. The key goes in the `Idempotency-Key` header or the `clientMsgId` body
 * field, as the job says.
 */
export async function sendOverRest(job: SendJob, stats: LoadStats): Promise<void> {
  for (let attempt = 0; attempt < job.maxAttempts && Date.now() < job.deadline; attempt++) {
    const result = await attemptOnce(job, stats);
    if (result.done) return;
    await sleepUntil(Math.min(Date.now() + result.waitMs, job.deadline));
  }
  stats.gaveUp++;
}

async function attemptOnce(job: SendJob, stats: LoadStats): Promise<Attempt> {
  const startedAt = Date.now();
  const headers: Record<string, string> = {
    authorization: `Bearer ${job.sender.token}`,
    'content-type': 'application/json',
  };
  const body: Record<string, string> = { receiverId: job.receiverId, content: job.content };
  if (job.keyIn === 'header') headers['idempotency-key'] = job.clientMsgId;
  else body.clientMsgId = job.clientMsgId;

  let res: Response;
  let text: string;
  try {
    res = await fetch(`${job.baseUrl}/api/messages/send`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(job.timeoutMs),
    });
    text = await res.text();
  } catch {
    stats.networkErrors++;
    stats.count('net');
    return { done: false, waitMs: backoffMs(job.attempts++) };
  }
  stats.count(String(res.status));

  if (res.status === 200 || res.status === 201 || res.status === 202) {
    const parsed = JSON.parse(text) as { message: { id: string }; persisted: boolean };
    stats.acks.push({
      id: parsed.message.id,
      senderId: job.sender.id,
      clientMsgId: job.clientMsgId,
      persisted: parsed.persisted,
      via: 'rest',
      attemptStartedAt: startedAt,
      ackedAt: Date.now(),
    });
    return { done: true };
  }
  if (res.status === 429) {
    stats.rateLimited++;
    const seconds = Number(res.headers.get('retry-after') ?? '1');
    return { done: false, waitMs: (Number.isFinite(seconds) ? seconds : 1) * 1000 };
  }
  if (res.status >= 500) {
    stats.serverErrors++;
    return { done: false, waitMs: backoffMs(job.attempts++) };
  }
  if (res.status === 409 && text.includes('IDEMPOTENCY_IN_PROGRESS')) {
    // An earlier attempt with this key is still in flight (or its process crashed and the
    // claim has not lapsed yet): retry. A real IDEMPOTENCY_CONFLICT is a bug of the load.
    return { done: false, waitMs: backoffMs(job.attempts++) };
  }
  stats.reject(`REST ${res.status} ${text.slice(0, 200)}`);
  return { done: true };
}
