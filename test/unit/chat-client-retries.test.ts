import assert from 'node:assert/strict';
import {
  backoffDelay,
  ChatApiError,
  ChatClient,
  ChatNetworkError,
  retryAfterMs,
  type FetchLike,
} from '../../client/index.js';

// The typed client's retry rules with a scripted fetch (no server): what is retried, how
// often, and what is thrown. test/integration/chat-client.test.ts runs it against the API.

const BOB = '6b17795be1273f5759a86a02';
const MESSAGE = {
  id: '6b17795be1273f5759a86a04',
  senderId: '6b17795be1273f5759a86a01',
  receiverId: BOB,
  content: 'hello bob',
  imageUrl: null,
  publicId: null,
  createdAt: '2026-12-08T03:28:27.820Z',
};

type Step = Response | Error;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
const apiError = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { error: { code, message: code.toLowerCase() } }, headers);

/** A fetch answering `steps` in order, recording each request. */
function scripted(steps: Step[]) {
  const requests: Array<{ url: string; init: RequestInit }> = [];
  const fetch: FetchLike = async (url, init) => {
    requests.push({ url, init });
    const step = steps.shift();
    if (step === undefined) throw new Error('no more scripted answers');
    if (step instanceof Error) throw step;
    return step;
  };
  return { fetch, requests };
}

const fast = { retryBackoff: { initialMs: 1, maxMs: 2 } };

describe('the typed client’s retries (client/chat-client.ts)', function () {
  it('repeats a send with the same Idempotency-Key after no answer and a 503', async function () {
    const { fetch, requests } = scripted([
      new TypeError('fetch failed'),
      apiError(503, 'SERVICE_UNAVAILABLE'),
      json(200, { message: MESSAGE, persisted: true }),
    ]);
    const client = new ChatClient({ baseUrl: 'http://api.test', token: 't', fetch, ...fast });
    const sent = await client.send({ receiverId: BOB, content: 'hello bob' });
    assert.equal(sent.status, 200);
    assert.deepEqual(sent.message, MESSAGE);
    const keys = requests.map((r) => (r.init.headers as Record<string, string>)['Idempotency-Key']);
    assert.equal(keys.length, 3);
    assert.ok(keys.every((k) => k === sent.idempotencyKey));
    assert.equal((requests[0]!.init.headers as Record<string, string>).Authorization, 'Bearer t');
  });

  it('uses the input’s clientMsgId as the key when none is given', async function () {
    const { fetch, requests } = scripted([json(201, { message: MESSAGE, persisted: true })]);
    const client = new ChatClient({ baseUrl: 'http://api.test', token: 't', fetch });
    const sent = await client.send({ receiverId: BOB, content: 'x', clientMsgId: 'c-1' });
    assert.equal(sent.idempotencyKey, 'c-1');
    assert.equal((requests[0]!.init.headers as Record<string, string>)['Idempotency-Key'], 'c-1');
  });

  it('gives up after maxRetries, with the last error', async function () {
    const { fetch, requests } = scripted(
      Array.from({ length: 5 }, () => apiError(503, 'SERVICE_UNAVAILABLE')),
    );
    const client = new ChatClient({ baseUrl: 'http://api.test', fetch, maxRetries: 2, ...fast });
    const err = await client.users().catch((e: unknown) => e);
    assert.ok(err instanceof ChatApiError);
    assert.equal(err.code, 'SERVICE_UNAVAILABLE');
    assert.equal(requests.length, 3);
  });

  it('does not repeat a login, a delete or a probe', async function () {
    for (const call of [
      (c: ChatClient) => c.login({ username: 'alice', password: 'correct horse' }),
      (c: ChatClient) => c.delete(MESSAGE.id),
      (c: ChatClient) => c.live(),
    ]) {
      const { fetch, requests } = scripted([apiError(503, 'SERVICE_UNAVAILABLE')]);
      const err = await call(new ChatClient({ baseUrl: 'http://api.test', fetch, ...fast })).catch(
        (e: unknown) => e,
      );
      assert.ok(err instanceof ChatApiError);
      assert.equal(requests.length, 1);
    }
  });

  it('throws a Retry-After longer than maxRetryAfterMs at once, carrying it', async function () {
    const { fetch, requests } = scripted([apiError(429, 'RATE_LIMITED', { 'Retry-After': '120' })]);
    const client = new ChatClient({ baseUrl: 'http://api.test', token: 't', fetch });
    const err = await client.send({ receiverId: BOB, content: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof ChatApiError);
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 120_000);
    assert.equal(requests.length, 1);
  });

  it('reads the health reports of a 503 as answers, and a proxy’s page as a ChatNetworkError', async function () {
    const report = {
      status: 'degraded',
      redis: { status: 'ok', latencyMs: 1 },
      mongo: { status: 'down', error: 'refused' },
    };
    let { fetch } = scripted([json(503, report)]);
    assert.deepEqual(await new ChatClient({ baseUrl: 'http://api.test', fetch }).health(), report);

    ({ fetch } = scripted([
      new Response('<html>bad gateway</html>', { status: 502 }),
      json(200, { users: [] }),
    ]));
    const client = new ChatClient({ baseUrl: 'http://api.test', fetch, ...fast });
    assert.deepEqual(await client.users(), [], 'a 502 is retried');
    ({ fetch } = scripted([new Response('<html>nope</html>', { status: 404 })]));
    const err = await new ChatClient({ baseUrl: 'http://api.test', fetch })
      .users()
      .catch((e: unknown) => e);
    assert.ok(err instanceof ChatNetworkError);
    assert.equal(err.status, 404);
  });

  it('stops at once when the caller aborts, with the signal’s reason', async function () {
    const { fetch, requests } = scripted([
      apiError(503, 'SERVICE_UNAVAILABLE', { 'Retry-After': '5' }),
      json(200, { users: [] }),
    ]);
    const client = new ChatClient({ baseUrl: 'http://api.test', fetch });
    const abort = new AbortController();
    const pending = client.users({ signal: abort.signal });
    setTimeout(() => abort.abort(new Error('enough')), 20);
    await assert.rejects(pending, /enough/);
    assert.equal(requests.length, 1);
  });

  it('builds URLs from the contract’s paths, encoded', async function () {
    const { fetch, requests } = scripted([json(200, { messages: [] }, { 'X-Cache': 'HIT' })]);
    const client = new ChatClient({ baseUrl: 'http://api.test/prefix/', token: 't', fetch });
    const page = await client.conversation('a/b', { before: MESSAGE.id, limit: 10 });
    assert.equal(page.cache, 'HIT');
    assert.equal(
      requests[0]!.url,
      `http://api.test/prefix/api/messages/a%2Fb?before=${MESSAGE.id}&limit=10`,
    );
    assert.throws(() => new ChatClient({ baseUrl: 'localhost:3000' }), TypeError);
  });

  it('reads Retry-After in seconds or as a date, and backs off within its bounds', function () {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
    const now = Date.parse('2026-12-08T00:00:00Z');
    assert.equal(retryAfterMs('Tue, 08 Dec 2026 00:00:02 GMT', now), 2000);
    for (let attempt = 0; attempt < 40; attempt++) {
      const d = backoffDelay(attempt, { initialMs: 100, maxMs: 1000 });
      const base = Math.min(1000, 100 * 2 ** attempt);
      assert.ok(d >= base / 2 && d <= base, `attempt ${attempt}: ${d}`);
    }
  });
});
