import assert from 'node:assert/strict';
import http from 'node:http';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { startAppendingProxy, type AppendingProxy } from '../helpers/appending-proxy.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import { assertThrottled } from '../helpers/throttle-assert.js';

/**
 * The per-address login limit behind appending reverse proxies (TRUST_PROXY_HOPS): whatever
 * a client writes into X-Forwarded-For, it is counted under the address it connects from.
 * Clients connect from loopback addresses of their own (Linux routes all of 127.0.0.0/8
 * locally), so the API and the proxies see them apart.
 */

const ADDRESS_ATTEMPTS = 3;
const WINDOW_SECONDS = 600;
const CLIENT = '127.0.0.2';
const OTHER_CLIENT = '127.0.0.3';
/** The outer proxy's address towards the inner one, when two are chained. */
const OUTER_PROXY = '127.0.0.11';

/** Forged X-Forwarded-For values a client may send; none of them may become its address. */
const FORGED = ['1.2.3.4', '1.2.3.4, 5.6.7.8', '203.0.113.9, 198.51.100.1, 127.0.0.9'];

interface Seen {
  status: number;
  code?: string;
  retryAfter?: string;
}

/** A failed login (unknown user) sent from `localAddress`, with `X-Forwarded-For` if given. */
function login(
  url: string,
  localAddress: string,
  username: string,
  forwardedFor?: string,
): Promise<Seen> {
  const body = JSON.stringify({ username, password: 'wrong guess' });
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: '/api/auth/login',
        localAddress,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const parsed = text ? (JSON.parse(text) as { error?: { code?: string } }) : {};
          resolve({
            status: res.statusCode ?? 0,
            code: parsed.error?.code,
            retryAfter: res.headers['retry-after'],
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One client uses up its address's attempts, each time with another forged X-Forwarded-For,
 * and is throttled; another client, from another address, is not.
 */
async function assertCountedByRealAddress(url: string): Promise<void> {
  for (let i = 0; i < ADDRESS_ATTEMPTS; i++) {
    const seen = await login(url, CLIENT, `forger_${i}`, FORGED[i % FORGED.length]);
    assert.equal(seen.status, 401, `attempt ${i + 1}: ${JSON.stringify(seen)}`);
  }
  for (const forged of [...FORGED, undefined]) {
    assertThrottled(
      await login(url, CLIENT, 'forger_next', forged),
      `beyond the limit, X-Forwarded-For ${forged}`,
      WINDOW_SECONDS,
    );
  }
  const other = await login(url, OTHER_CLIENT, 'honest_user');
  assert.equal(other.status, 401, `another client: ${JSON.stringify(other)}`);
  assert.equal(other.code, 'INVALID_CREDENTIALS');
}

describe('client address behind trusted proxies (TRUST_PROXY_HOPS)', function () {
  let ctx: TestContext | undefined;
  let api: ApiServer | undefined;
  let proxies: AppendingProxy[] = [];

  /** An API of its own (its own counters) trusting the proxies `trust` says. */
  async function startApi(name: string, trust: Record<string, string>): Promise<ApiServer> {
    ctx = createTestContext(name, {
      ...trust,
      AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: String(ADDRESS_ATTEMPTS),
      AUTH_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    });
    api = await startApiServer(ctx.config, ctx.logger);
    await api.ready;
    return api;
  }

  afterEach(async function () {
    for (const proxy of proxies) await proxy.close();
    proxies = [];
    await api?.close();
    await ctx?.cleanup();
    api = undefined;
    ctx = undefined;
  });

  it('with 0 hops, ignores the X-Forwarded-For of clients connecting directly', async function () {
    const a = await startApi('proxy_zero', { TRUST_PROXY_HOPS: '0' });
    await assertCountedByRealAddress(a.url);
  });

  it('with 1 hop behind one appending proxy, counts each client by its own address', async function () {
    const a = await startApi('proxy_one', { TRUST_PROXY_HOPS: '1' });
    const proxy = await startAppendingProxy({ target: a.url });
    proxies.push(proxy);
    await assertCountedByRealAddress(proxy.url);
  });

  it('with 2 hops behind two chained appending proxies, counts each client by its own address', async function () {
    const a = await startApi('proxy_two', { TRUST_PROXY_HOPS: '2' });
    const inner = await startAppendingProxy({ target: a.url });
    proxies.push(inner);
    const outer = await startAppendingProxy({ target: inner.url, localAddress: OUTER_PROXY });
    proxies.push(outer);
    await assertCountedByRealAddress(outer.url);
  });

  it('with TRUST_PROXY=true (the older switch), trusts one proxy the same way', async function () {
    const a = await startApi('proxy_alias', { TRUST_PROXY: 'true' });
    const proxy = await startAppendingProxy({ target: a.url });
    proxies.push(proxy);
    await assertCountedByRealAddress(proxy.url);
  });
});
