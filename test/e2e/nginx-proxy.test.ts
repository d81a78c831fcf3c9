import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { readBody, type HttpAnswer, type TestUser } from '../helpers/api-harness.js';
import { ignoreOrigin } from '../helpers/contract-hook.js';
import { createTestDaemon, type TestDaemon } from '../helpers/expiry-fixtures.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import { connectWs } from '../helpers/ws-client.js';

// The deployment recipe deploy/nginx/chat-cache.conf, run by Debian's nginx in front of a
// real API process and expiry daemon: clients speak only HTTPS and wss to nginx, from
// several loopback addresses, as clients on other machines would.

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.resolve(here, '../../deploy/nginx/chat-cache.conf');
const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const PASSWORD = 'correct horse';
/** Logins and sign-ups one client address may make per window (AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS). */
const ADDRESS_ATTEMPTS = 3;

/** nginx listening on loopback ports, with the example rendered for them. */
interface Proxy {
  child: ChildProcess;
  httpsPort: number;
  httpPort: number;
  stderr: () => string;
}

/** A port free right now (nginx takes it a moment later; a lost race is retried). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The example with only its addresses and paths changed; each pattern must match exactly
 * once, so that a change of the example that the test would silently miss fails here.
 */
function renderExample(
  source: string,
  at: { apiPort: number; httpsPort: number; httpPort: number; dir: string },
): string {
  const edits: Array<[RegExp, string]> = [
    [/^(\s*server )127\.0\.0\.1:3000( )/gm, `$1127.0.0.1:${at.apiPort}$2`],
    [/^(\s*listen )443( ssl)/gm, `$1127.0.0.1:${at.httpsPort}$2`],
    [/^(\s*listen )80;/gm, `$1127.0.0.1:${at.httpPort};`],
    [/^(\s*ssl_certificate ).*;$/gm, `$1${at.dir}/cert.pem;`],
    [/^(\s*ssl_certificate_key ).*;$/gm, `$1${at.dir}/key.pem;`],
    [/^(\s*access_log )\S+( chat_no_query;)$/gm, `$1${at.dir}/access.log$2`],
  ];
  let out = source;
  for (const [pattern, replacement] of edits) {
    const count = source.match(pattern)?.length ?? 0;
    assert.equal(count, 1, `${EXAMPLE}: ${pattern} must match exactly one line, matched ${count}`);
    out = out.replace(pattern, replacement);
  }
  return out;
}

/** Starts nginx on the rendered example; resolves once it accepts TLS connections. */
async function startNginx(dir: string, apiPort: number): Promise<Proxy> {
  const httpsPort = await freePort();
  const httpPort = await freePort();
  const site = renderExample(readFileSync(EXAMPLE, 'utf8'), { apiPort, httpsPort, httpPort, dir });
  writeFileSync(path.join(dir, 'chat-cache.conf'), site);
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      'worker_processes 1;',
      'pid nginx.pid;',
      'error_log error.log notice;',
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      '  client_body_temp_path temp/body;',
      '  proxy_temp_path temp/proxy;',
      '  fastcgi_temp_path temp/fastcgi;',
      '  uwsgi_temp_path temp/uwsgi;',
      '  scgi_temp_path temp/scgi;',
      `  include ${dir}/chat-cache.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  mkdirSync(path.join(dir, 'temp'), { recursive: true });
  let stderr = '';
  const child = spawn(
    NGINX,
    ['-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitUntil(
    'nginx to accept connections',
    async () => {
      if (gone) return true;
      return new Promise<boolean>((resolve) => {
        const c = net.connect({ host: '127.0.0.1', port: httpsPort });
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      });
    },
    10_000,
  ).catch((err: unknown) => {
    // Running but not listening: stop it, or it would outlive the test.
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}: ${stderr}`);
  });
  if (gone) {
    const log = existsSync(path.join(dir, 'error.log'))
      ? readFileSync(path.join(dir, 'error.log'), 'utf8')
      : '';
    throw new Error(`nginx exited at start: ${stderr}${log}`);
  }
  return { child, httpsPort, httpPort, stderr: () => stderr };
}

describe('e2e: behind nginx (deploy/nginx/chat-cache.conf)', function () {
  this.timeout(60_000);

  let dir: string;
  let ca: Buffer;
  let ctx: TestContext;
  let api: ApiServer;
  let apiClosed = false;
  let daemon: TestDaemon | undefined;
  let proxy: Proxy | undefined;
  /** The public origin, as a browser on the proxy sees it. */
  let origin: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  let alice: TestUser;
  let bob: TestUser;

  /** One request to nginx over HTTPS, verified against the test's own CA, from `localAddress`. */
  function viaNginx(
    method: string,
    urlPath: string,
    opts: {
      token?: string;
      body?: unknown;
      raw?: string;
      headers?: Record<string, string>;
      localAddress?: string;
    } = {},
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    return request(https, `${origin}${urlPath}`, method, headers, payload, {
      ca,
      localAddress: opts.localAddress,
    });
  }

  before(async function () {
    assert.ok(
      existsSync(NGINX),
      `no nginx at ${NGINX}: apt-get install nginx (Debian's; .ci/run installs it), or set NGINX_PATH`,
    );
    dir = mkdtempSync(path.join(os.tmpdir(), 'chat-nginx-'));
    // nginx's workers (nobody when the test runs as root) write request bodies under temp/.
    chmodSync(dir, 0o755);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-days',
        '1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    ca = readFileSync(path.join(dir, 'cert.pem'));

    ctx = createTestContext('nginx', {
      TRUST_PROXY_HOPS: '1',
      AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: String(ADDRESS_ATTEMPTS),
    });
    api = await startApiServer(ctx.config, ctx.logger);
    await api.ready;
    daemon = await createTestDaemon(ctx.config, ctx.logger, { defaultMetrics: false });
    await daemon.daemon.start();

    const apiPort = Number(new URL(api.url).port);
    for (let attempt = 1; ; attempt++) {
      try {
        proxy = await startNginx(dir, apiPort);
        break;
      } catch (err) {
        // Another process took a port between freePort() and nginx's bind.
        if (attempt === 3 || !/Address already in use/.test(String(err))) throw err;
      }
    }
    origin = `https://localhost:${proxy.httpsPort}`;
  });

  after(async () => {
    if (proxy && proxy.child.exitCode === null) {
      const exited = new Promise((resolve) => proxy!.child.once('exit', resolve));
      proxy.child.kill('SIGTERM');
      await exited;
    }
    await daemon?.close();
    if (!apiClosed) await api?.close();
    await ctx?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('redirects plain HTTP to HTTPS', async () => {
    // nginx's plain-HTTP listener only redirects: its 301 is nginx's answer, not the API's.
    const origin = `http://127.0.0.1:${proxy!.httpPort}`;
    const unignore = ignoreOrigin(origin);
    const res = await request(
      http,
      `${origin}/api/users?x=1`,
      'GET',
      { host: 'localhost' },
      undefined,
      {},
    ).finally(unignore);
    assert.equal(res.status, 301);
    assert.equal(res.headers.get('location'), 'https://localhost/api/users?x=1');
  });

  it('signs up, sends over REST and delivers the message over wss', async () => {
    const signup = async (username: string): Promise<TestUser> => {
      const res = await viaNginx('POST', '/api/auth/signup', {
        body: { username, password: PASSWORD },
        localAddress: '127.0.0.1',
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { id: res.body.user.id, username, token: res.body.token };
    };
    alice = await signup(`alice_${suffix}`);
    bob = await signup(`bob_${suffix}`);

    // As a page of the site would: its Origin is the public origin, port included.
    const bobWs = await connectWs({ url: origin }, bob, { ca, family: 4, origin });
    try {
      const sent = await viaNginx('POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: bob.id, content: 'through nginx' },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const frame = await bobWs.next(
        (f) => f.type === 'message:new' && f.message.id === sent.body.message.id,
        5000,
      );
      assert.equal(frame.message.content, 'through nginx');
      assert.equal(frame.message.senderId, alice.id);
    } finally {
      bobWs.ws.close();
    }
  });

  it('reads the conversation: X-Cache MISS, then HIT', async () => {
    const first = await viaNginx('GET', `/api/messages/${bob.id}`, { token: alice.token });
    const second = await viaNginx('GET', `/api/messages/${bob.id}`, { token: alice.token });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-cache'), 'MISS');
    assert.equal(second.headers.get('x-cache'), 'HIT');
    assert.deepEqual(
      second.body.messages.map((m: { content: string }) => m.content),
      ['through nginx'],
    );
    assert.deepEqual(second.body.messages, first.body.messages);
  });

  it('refuses a ws upgrade from a page of another origin, and keeps ?token= out of the access log', async () => {
    const foreign = await upgradeStatus(`wss://localhost:${proxy!.httpsPort}/ws`, {
      ca,
      family: 4,
      origin: 'https://evil.example',
      headers: { authorization: `Bearer ${bob.token}` },
    });
    assert.equal(foreign, 403);
    // Browsers cannot set headers on a WebSocket: their token is in the query string.
    const byQuery = await upgradeStatus(
      `wss://localhost:${proxy!.httpsPort}/ws?token=${bob.token}`,
      {
        ca,
        family: 4,
        origin,
      },
    );
    assert.equal(byQuery, 101);
    await waitUntil(
      'the access log to list the upgrade',
      () => readFileSync(path.join(dir, 'access.log'), 'utf8').includes('"GET /ws HTTP/1.1" 101'),
      5000,
    );
    const log = readFileSync(path.join(dir, 'access.log'), 'utf8');
    assert.ok(!log.includes(bob.token), 'the access log must not hold tokens');
  });

  it('answers nginx’s own errors in the API’s format, and does not serve /metrics', async () => {
    const big = await viaNginx('POST', '/api/messages/send', {
      token: alice.token,
      raw: JSON.stringify({ receiverId: bob.id, content: 'x', pad: 'y'.repeat(100 * 1024) }),
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
    // Just under the limit: nginx passes it on, and the API names the unknown field.
    const under = await viaNginx('POST', '/api/messages/send', {
      token: alice.token,
      raw: JSON.stringify({ receiverId: bob.id, content: 'x', pad: 'y'.repeat(99 * 1024) }),
    });
    assert.equal(under.status, 400);
    assert.equal(under.body.error.code, 'VALIDATION_FAILED');

    for (const p of ['/metrics', '/metrics?format=prometheus']) {
      const metrics = await viaNginx('GET', p);
      assert.equal(metrics.status, 404, p);
      assert.equal(metrics.body.error.code, 'NOT_FOUND', p);
      assert.doesNotMatch(JSON.stringify(metrics.body), /# (HELP|TYPE)/);
    }
  });

  it('throttles logins by the address that connected to nginx, whatever X-Forwarded-For says', async () => {
    const login = (
      localAddress: string,
      forwardedFor: string | undefined,
      username: string,
      password: string,
    ) =>
      viaNginx('POST', '/api/auth/login', {
        body: { username, password },
        localAddress,
        headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
      });

    // 127.0.0.2 claims another address each time: the claims are not what counts.
    for (let i = 1; i <= ADDRESS_ATTEMPTS; i++) {
      const res = await login(
        '127.0.0.2',
        `203.0.113.${i}`,
        `nobody_${suffix}_${i}`,
        'wrong password',
      );
      assert.equal(
        res.status,
        401,
        `attempt ${i} from 127.0.0.2 (of ${ADDRESS_ATTEMPTS} allowed): ${JSON.stringify(res.body)}`,
      );
    }
    const over = await login('127.0.0.2', '203.0.113.99', `nobody_${suffix}_x`, 'wrong password');
    assert.equal(over.status, 429, JSON.stringify(over.body));
    assert.equal(over.body.error.code, 'RATE_LIMITED');
    assert.ok(Number(over.headers.get('retry-after')) > 0);

    // Another client is not throttled, not even when it claims to be the throttled one.
    const other = await login('127.0.0.3', '127.0.0.2', alice.username, PASSWORD);
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal(other.body.user.id, alice.id);
    const plain = await login('127.0.0.3', undefined, alice.username, 'wrong password');
    assert.equal(plain.status, 401, JSON.stringify(plain.body));
  });

  it('keeps nginx running, with no errors at start', () => {
    assert.equal(proxy!.child.exitCode, null, `nginx exited: ${proxy!.stderr()}`);
    const log = readFileSync(path.join(dir, 'error.log'), 'utf8');
    assert.doesNotMatch(log, /\[(emerg|alert|crit)\]/, log);
  });

  it('speaks HTTP/2 over TLS', async () => {
    // By address: http2.connect has no `family`, and localhost may resolve to ::1 first.
    const session = http2.connect(`https://127.0.0.1:${proxy!.httpsPort}`, {
      ca,
      servername: 'localhost',
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        session.once('error', reject);
        const req = session.request({ ':path': '/health', ':authority': new URL(origin).host });
        req.once('response', (headers) => resolve(Number(headers[':status'])));
        req.once('error', reject);
        req.resume();
      });
      assert.equal(status, 200);
      assert.equal(session.alpnProtocol, 'h2');
    } finally {
      session.close();
    }
  });

  // Last: it stops the API.
  it('answers 503 SERVICE_UNAVAILABLE in the API’s format while no API instance answers', async () => {
    await api.close();
    apiClosed = true;
    const res = await viaNginx('GET', '/api/users', { token: alice.token });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'SERVICE_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
  });
});

/** One request with node's own client (fetch takes neither a CA nor a local address). */
function request(
  client: typeof http | typeof https,
  url: string,
  method: string,
  headers: Record<string, string>,
  payload: string | undefined,
  tls: { ca?: Buffer; localAddress?: string },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method,
        headers:
          payload === undefined
            ? headers
            : { ...headers, 'content-length': String(Buffer.byteLength(payload)) },
        // localhost may resolve to ::1 first; nginx listens on 127.0.0.1 only.
        family: 4,
        agent: false,
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.localAddress ? { localAddress: tls.localAddress } : {}),
      },
      (res) => {
        const h = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        readBody(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, headers: h, body }),
          reject,
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The status of a ws upgrade: 101 when it opened (then closed at once), else the refusal's. */
function upgradeStatus(url: string, options: WebSocket.ClientOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}
