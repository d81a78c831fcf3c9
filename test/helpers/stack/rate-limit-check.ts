import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import type { LoadUser } from '../load/send-job.js';
import type { ChaosContext } from './scenario-runner.js';
import { signUpUsers } from './scenario-runner.js';

/** One REST send on a new TCP connection, so that PM2's cluster master picks an instance. */
function sendOnNewConnection(
  baseUrl: string,
  user: LoadUser,
  body: object,
): Promise<{ status: number; retryAfter: string | undefined; text: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${baseUrl}/api/messages/send`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${user.token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            text,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends `n` frames on one new socket, one after the other; returns the answers' codes. */
async function sendOverWs(
  wsUrl: string,
  user: LoadUser,
  receiverId: string,
  n: number,
): Promise<Array<{ type: string; code?: string; retryAfterSeconds?: number }>> {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${user.token}` } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const answers: Array<{ type: string; code?: string; retryAfterSeconds?: number }> = [];
  try {
    for (let i = 0; i < n; i++) {
      const clientMsgId = `rl-ws-${Date.now()}-${i}`;
      const answer = new Promise<{ type: string; code?: string; retryAfterSeconds?: number }>(
        (resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no ws answer in 5 s')), 5000);
          const onMessage = (data: WebSocket.RawData) => {
            const frame = JSON.parse(data.toString()) as {
              type: string;
              clientMsgId?: string;
              code?: string;
              retryAfterSeconds?: number;
            };
            if (frame.clientMsgId !== clientMsgId) return;
            clearTimeout(timer);
            ws.off('message', onMessage);
            resolve(frame);
          };
          ws.on('message', onMessage);
        },
      );
      ws.send(JSON.stringify({ type: 'message:send', clientMsgId, receiverId, content: 'rl' }));
      answers.push(await answer);
    }
  } finally {
    ws.terminate();
  }
  return answers;
}

/**
 * The per-user send limit is one budget for REST and ws across both API instances: with
 * RATE_LIMIT_SENDS=6, twelve sends of one user — REST on new connections (spread over the
 * instances by PM2's cluster master) and ws — get exactly six acceptances, then 429 with
 * `Retry-After` (REST) or an `error` frame `RATE_LIMITED` with `retryAfterSeconds` (ws).
 * Restarts the API with the normal limit afterwards.
 */
export async function checkSharedRateLimit(ctx: ChaosContext): Promise<string> {
  const { stack } = ctx;
  await stack.restartApi({ RATE_LIMIT_SENDS: '6', RATE_LIMIT_WINDOW_SECONDS: '60' });
  try {
    const [sender, receiver] = await signUpUsers(stack.baseUrl, 2);
    assert.ok(sender && receiver);
    const outcomes: string[] = [];
    const restRetryAfter: string[] = [];
    const rest = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const res = await sendOnNewConnection(stack.baseUrl, sender, {
          receiverId: receiver.id,
          content: `rate ${i}`,
        });
        outcomes.push(String(res.status));
        if (res.status === 429) {
          restRetryAfter.push(res.retryAfter ?? '');
          assert.equal(JSON.parse(res.text).error.code, 'RATE_LIMITED');
        }
      }
    };
    await rest(4);
    if (ctx.ws) {
      for (const a of await sendOverWs(stack.wsUrl, sender, receiver.id, 4)) {
        outcomes.push(a.type === 'message:ack' ? 'ws:ack' : `ws:${a.code}`);
        if (a.code === 'RATE_LIMITED') assert.ok((a.retryAfterSeconds ?? 0) >= 1);
      }
    } else {
      await rest(4);
    }
    await rest(4);
    const accepted = outcomes.filter((o) => o === '201' || o === 'ws:ack').length;
    const line = `rate limit 6 across ${stack.options.apiInstances} api instances: ${outcomes.join(' ')}`;
    console.log(`  ${line}`);
    assert.equal(accepted, 6, `expected exactly 6 accepted sends: ${outcomes.join(' ')}`);
    assert.deepEqual(
      outcomes.slice(6).filter((o) => o !== '429' && o !== 'ws:RATE_LIMITED'),
      [],
      'every send over the limit is refused as RATE_LIMITED',
    );
    for (const r of restRetryAfter) assert.match(r, /^[1-9]\d*$/, 'Retry-After in seconds');
    return line;
  } finally {
    await stack.restartApi({});
  }
}
