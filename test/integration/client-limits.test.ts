import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import {
  call,
  inspectMongo,
  signupUser,
  startTestApi,
  wsUpgrade,
  type TestApi,
} from '../helpers/api-harness.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import { assertThrottled } from '../helpers/throttle-assert.js';

/**
 * The limits a hostile client meets: login and sign-up throttling (per username and per
 * client address, counted in Redis) and, on the ws endpoint, the connections per user and
 * the Origin allowlist, each as configured through the environment variables.
 */

const WINDOW_SECONDS = 600;

/** What a client sees of an answer; the seconds in a RATE_LIMITED message are masked. */
interface Seen {
  status: number;
  code?: string;
  message?: string;
  retryAfter: string | null;
}

async function attempt(
  url: string,
  route: 'login' | 'signup',
  username: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Seen> {
  const a = await call(url, 'POST', `/api/auth/${route}`, {
    body: { username, password },
    headers,
  });
  return {
    status: a.status,
    code: a.body?.error?.code,
    message: a.body?.error?.message?.replace(/\d+ s\b/, 'N s'),
    retryAfter: a.headers.get('retry-after'),
  };
}

/** A test API of its own (its own key prefix, so its own counters) with `env`. */
async function limitedApi(name: string, env: Record<string, string>) {
  const ctx = createTestContext(name, {
    AUTH_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    ...env,
  });
  const t = await startTestApi(ctx.config, ctx.logger);
  return { ctx, t };
}

describe('login and sign-up throttling', function () {
  const opened: Array<{ ctx: TestContext; t: TestApi }> = [];
  const open = async (name: string, env: Record<string, string>) => {
    const o = await limitedApi(name, env);
    opened.push(o);
    return o;
  };

  after(async function () {
    for (const { ctx, t } of opened) {
      await t.close();
      await ctx.cleanup();
    }
  });

  describe('per username (AUTH_RATE_LIMIT_ATTEMPTS=10)', function () {
    let t: TestApi;
    before(async function () {
      ({ t } = await open('throttle_user', {
        AUTH_RATE_LIMIT_ATTEMPTS: '10',
        AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '1000',
      }));
      await signupUser(t.url, 'victim');
    });

    it('answers the 11th wrong password with 429 and Retry-After, even for the right one then', async function () {
      const seen: Seen[] = [];
      for (let i = 0; i < 11; i++)
        seen.push(await attempt(t.url, 'login', 'victim', 'wrong guess'));
      for (const [i, s] of seen.slice(0, 10).entries()) {
        assert.equal(s.status, 401, `attempt ${i + 1}`);
        assert.equal(s.code, 'INVALID_CREDENTIALS');
      }
      assertThrottled(seen[10] as Seen, 'the 11th', WINDOW_SECONDS);
      // Refused before the password is looked at: the right one is no better now.
      assertThrottled(
        await attempt(t.url, 'login', 'victim', 'correct horse'),
        'right password',
        WINDOW_SECONDS,
      );
      // Other usernames are not affected.
      assert.equal((await attempt(t.url, 'login', 'bystander', 'wrong guess')).status, 401);
    });

    it('gives an unknown username the very same sequence of answers', async function () {
      await signupUser(t.url, 'known_twin');
      const run = async (username: string) => {
        const seen: Seen[] = [];
        for (let i = 0; i < 12; i++)
          seen.push(await attempt(t.url, 'login', username, 'wrong guess'));
        return seen;
      };
      const known = await run('known_twin');
      const unknown = await run('unknown_twin');
      // Retry-After counts down with the clock; its presence is what must match.
      const shape = (seen: Seen[]) =>
        seen.map((s) => ({ ...s, retryAfter: s.retryAfter !== null }));
      assert.deepEqual(shape(unknown), shape(known));
      assert.deepEqual(
        known.map((s) => s.status),
        [...Array<number>(10).fill(401), 429, 429],
      );
    });

    it('does not count successful logins against the username', async function () {
      await signupUser(t.url, 'regular');
      for (let i = 0; i < 15; i++) {
        assert.equal((await attempt(t.url, 'login', 'regular', 'correct horse')).status, 200);
      }
      for (let i = 0; i < 10; i++) {
        assert.equal((await attempt(t.url, 'login', 'regular', 'wrong guess')).status, 401);
      }
      assertThrottled(
        await attempt(t.url, 'login', 'regular', 'wrong guess'),
        'the 11th failure',
        WINDOW_SECONDS,
      );
    });
  });

  it('counts sign-ups naming a username with its failed logins', async function () {
    const { t } = await open('throttle_signup', {
      AUTH_RATE_LIMIT_ATTEMPTS: '3',
      AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '1000',
    });
    // The sign-up that creates the user is a success: it uses up nothing.
    assert.equal((await attempt(t.url, 'signup', 'popular', 'correct horse')).status, 201);
    const statuses = [];
    for (let i = 0; i < 2; i++) {
      statuses.push((await attempt(t.url, 'signup', 'popular', 'another pass')).status);
    }
    statuses.push((await attempt(t.url, 'login', 'popular', 'wrong guess')).status);
    assert.deepEqual(statuses, [409, 409, 401]);
    assertThrottled(
      await attempt(t.url, 'signup', 'popular', 'another pass'),
      'sign-up',
      WINDOW_SECONDS,
    );
    assertThrottled(
      await attempt(t.url, 'login', 'popular', 'correct horse'),
      'login',
      WINDOW_SECONDS,
    );
  });

  it('limits every attempt from one address, whatever the username, and stores nothing then', async function () {
    const { ctx, t } = await open('throttle_addr', {
      AUTH_RATE_LIMIT_ATTEMPTS: '10',
      AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '5',
    });
    // TRUST_PROXY is off: a made-up X-Forwarded-For does not make another client.
    const spoof = (i: number) => ({ 'x-forwarded-for': `198.51.100.${i}` });
    const statuses = [
      (await attempt(t.url, 'signup', 'addr_one', 'correct horse', spoof(1))).status,
      (await attempt(t.url, 'login', 'addr_one', 'correct horse', spoof(2))).status,
      (await attempt(t.url, 'login', 'addr_two', 'wrong guess', spoof(3))).status,
      (await attempt(t.url, 'signup', 'addr_three', 'correct horse', spoof(4))).status,
      (await attempt(t.url, 'login', 'addr_four', 'wrong guess', spoof(5))).status,
    ];
    assert.deepEqual(statuses, [201, 200, 401, 201, 401]);
    assertThrottled(
      await attempt(t.url, 'signup', 'addr_five', 'correct horse', spoof(6)),
      'the 6th attempt',
      WINDOW_SECONDS,
    );
    assertThrottled(
      await attempt(t.url, 'login', 'addr_one', 'correct horse'),
      'a good login',
      WINDOW_SECONDS,
    );
    const mongo = await inspectMongo(ctx.config);
    try {
      assert.equal(await mongo.db.collection('users').countDocuments({ username: 'addr_five' }), 0);
    } finally {
      await mongo.close();
    }
  });

  it('behind a trusted proxy, counts each client address of X-Forwarded-For apart', async function () {
    const { t } = await open('throttle_proxy', {
      TRUST_PROXY: 'true',
      AUTH_RATE_LIMIT_ATTEMPTS: '10',
      AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '2',
    });
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    for (const username of ['proxy_a', 'proxy_b']) {
      assert.equal(
        (await attempt(t.url, 'login', username, 'wrong guess', from('203.0.113.7'))).status,
        401,
      );
    }
    assertThrottled(
      await attempt(t.url, 'login', 'proxy_c', 'wrong guess', from('203.0.113.7')),
      'third from one client',
      WINDOW_SECONDS,
    );
    assert.equal(
      (await attempt(t.url, 'login', 'proxy_c', 'wrong guess', from('203.0.113.8'))).status,
      401,
    );
  });

  describe('while Redis cannot be reached', function () {
    let ctx: TestContext;
    let api: ApiServer;
    before(async function () {
      // Nobody listens on port 9; MongoDB is up.
      ctx = createTestContext('throttle_down', { REDIS_URL: 'redis://127.0.0.1:9' });
      api = await startApiServer(ctx.config, ctx.logger);
    });
    after(async function () {
      await api?.close();
      await ctx?.cleanup();
    });

    it('answers login and sign-up with 503 SERVICE_UNAVAILABLE and stores nothing', async function () {
      for (const route of ['signup', 'login'] as const) {
        const seen = await attempt(api.url, route, 'while_down', 'correct horse');
        assert.equal(seen.status, 503, `${route}: ${JSON.stringify(seen)}`);
        assert.equal(seen.code, 'SERVICE_UNAVAILABLE');
      }
      const mongo = await inspectMongo(ctx.config);
      try {
        assert.equal(await mongo.db.collection('users').countDocuments(), 0);
      } finally {
        await mongo.close();
      }
    });
  });
});

describe('ws limits from the configuration (WS_MAX_CONNECTIONS_PER_USER, ALLOWED_ORIGINS)', function () {
  let ctx: TestContext;
  let t: TestApi;
  let wsUrl: string;
  const sockets: Array<{ terminate(): void }> = [];

  before(async function () {
    ctx = createTestContext('wslimits', {
      WS_MAX_CONNECTIONS_PER_USER: '2',
      ALLOWED_ORIGINS: 'https://chat.example.com',
    });
    t = await startTestApi(ctx.config, ctx.logger);
    wsUrl = `${t.url.replace('http', 'ws')}/ws`;
  });

  after(async function () {
    for (const ws of sockets) ws.terminate();
    await t?.close();
    await ctx?.cleanup();
  });

  const upgrade = async (headers: Record<string, string>) => {
    const a = await wsUpgrade(wsUrl, headers);
    if (a.ws) sockets.push(a.ws);
    return a;
  };

  it('refuses the third socket of a user with 429 TOO_MANY_CONNECTIONS', async function () {
    const u = await signupUser(t.url, 'ws_many');
    const auth = { authorization: `Bearer ${u.token}` };
    assert.equal((await upgrade(auth)).status, 101);
    assert.equal((await upgrade(auth)).status, 101);
    const third = await upgrade(auth);
    assert.equal(third.status, 429);
    assert.deepEqual(third.body, {
      error: { code: 'TOO_MANY_CONNECTIONS', message: 'At most 2 open connections per user' },
    });
  });

  it('accepts the API’s own origin and the listed one, refuses another with 403', async function () {
    const u = await signupUser(t.url, 'ws_origin');
    const auth = { authorization: `Bearer ${u.token}` };
    // What a browser sends from the pages this API serves (http://<Host>).
    const own = new URL(t.url).origin;
    assert.equal((await upgrade({ ...auth, origin: own })).status, 101);
    assert.equal((await upgrade({ ...auth, origin: 'https://chat.example.com' })).status, 101);
    const foreign = await upgrade({ ...auth, origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, 'FORBIDDEN');
  });
});
