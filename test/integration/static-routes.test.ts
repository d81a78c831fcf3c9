import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHttpApp } from '../../src/http/app.js';
import { PAGE_CSP, staticRoutes } from '../../src/http/routes/static-routes.js';
import { createLogger } from '../../src/logging/logger.js';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with the path sent exactly as given (fetch would normalise `..` away). */
function raw(
  port: number,
  urlPath: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: opts.method ?? 'GET',
        headers: opts.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('static routes: the pages and their files', () => {
  let dir: string;
  let server: http.Server;
  let port: number;

  before(async () => {
    // A root of our own, next to a file that must stay out of reach.
    const base = mkdtempSync(path.join(os.tmpdir(), 'chat-static-'));
    dir = path.join(base, 'public');
    mkdirSync(path.join(dir, 'js'), { recursive: true });
    writeFileSync(path.join(base, 'secret.txt'), 'top secret');
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>chat</title>');
    writeFileSync(path.join(dir, 'dashboard.html'), '<!doctype html><title>dashboard</title>');
    writeFileSync(path.join(dir, 'style.css'), 'body{}');
    writeFileSync(path.join(dir, 'js', 'chat.js'), 'export {};');
    writeFileSync(path.join(dir, 'notes.ts'), 'const x = 1;');
    writeFileSync(path.join(dir, '.env'), 'JWT_SECRET=nope');
    const app = createHttpApp({
      logger: createLogger({ level: 'silent', name: 'test:static' }),
      routers: [staticRoutes({ roots: [dir] })],
    });
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('serves / and /dashboard as HTML with the security headers', async () => {
    for (const [url, title] of [
      ['/', 'chat'],
      ['/dashboard', 'dashboard'],
    ] as const) {
      const res = await raw(port, url);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(res.body, new RegExp(`<title>${title}</title>`));
      assert.equal(res.headers['content-security-policy'], PAGE_CSP);
      assert.match(PAGE_CSP, /default-src 'self'/);
      assert.match(PAGE_CSP, /connect-src 'self' ws: wss:/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['cache-control'], 'no-cache');
    }
  });

  it('serves /static files with their content types, and 304 when unchanged', async () => {
    const css = await raw(port, '/static/style.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.body, 'body{}');
    const js = await raw(port, '/static/js/chat.js');
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['content-security-policy'], undefined);

    const etag = js.headers.etag;
    assert.ok(etag);
    const again = await raw(port, '/static/js/chat.js', { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');

    const head = await raw(port, '/static/style.css', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('refuses traversal, dotfiles, unknown types and missing files with a JSON 404', async () => {
    for (const url of [
      '/static/../secret.txt',
      '/static/js/../../secret.txt',
      '/static/%2e%2e/secret.txt',
      '/static/%2E%2E%2Fsecret.txt',
      '/static/..%5csecret.txt',
      '/static/.env',
      '/static/js//chat.js',
      '/static/%00.css',
      '/static/%E0%A4%A.css',
      '/static/notes.ts',
      '/static/missing.css',
      '/static/js',
    ]) {
      const res = await raw(port, url);
      assert.equal(res.status, 404, url);
      assert.equal(JSON.parse(res.body).error.code, 'NOT_FOUND', url);
      assert.doesNotMatch(res.body, /top secret|JWT_SECRET/, url);
    }
  });

  it('finds the real pages from the module’s own directory by default', async () => {
    const app = createHttpApp({
      logger: createLogger({ level: 'silent', name: 'test:static' }),
      routers: [staticRoutes()],
    });
    const own = http.createServer(app.callback());
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    try {
      const ownPort = (own.address() as AddressInfo).port;
      const chat = await raw(ownPort, '/');
      assert.equal(chat.status, 200);
      assert.match(chat.body, /<script type="module" src="\/static\/js\/web\/chat\.js"><\/script>/);
      const dash = await raw(ownPort, '/dashboard');
      assert.match(dash.body, /data-testid="expirations-total"/);
      assert.equal((await raw(ownPort, '/static/style.css')).status, 200);
    } finally {
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  });
});
