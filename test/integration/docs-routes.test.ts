import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHttpApp } from '../../src/http/app.js';
import { DOCS_ASSETS, docsRoutes, swaggerUiDir } from '../../src/http/routes/docs-routes.js';
import { PAGE_CSP, staticRoutes } from '../../src/http/routes/static-routes.js';
import { createLogger } from '../../src/logging/logger.js';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET with the path sent exactly as given (fetch would normalise `..` away). */
function get(port: number, urlPath: string, headers: Record<string, string> = {}) {
  return new Promise<RawAnswer>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
  });
}

describe('docs routes: the /docs page and its Swagger UI files', () => {
  let server: http.Server;
  let port: number;

  before(async () => {
    const app = createHttpApp({
      logger: createLogger({ level: 'silent', name: 'test:docs' }),
      routers: [staticRoutes(), docsRoutes()],
    });
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves /docs as a page with the pages’ CSP, loading only files of this origin', async () => {
    const res = await get(port, '/docs');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['content-security-policy'], PAGE_CSP);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['cache-control'], 'no-cache');
    const html = res.body.toString();
    assert.match(html, /<script defer src="\/docs\/assets\/swagger-ui-bundle\.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="\/docs\/assets\/swagger-ui\.css" \/>/);
    assert.match(html, /<script type="module" src="\/static\/js\/web\/docs\.js"><\/script>/);
    // No inline script or style, nothing from another host.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(html, /<style|\sstyle=/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  });

  it('serves the allowed files of the installed swagger-ui-dist, with an ETag', async () => {
    const types = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
    for (const file of DOCS_ASSETS) {
      const res = await get(port, `/docs/assets/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers['content-type'], types[path.extname(file) as '.js' | '.css']);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.equal(res.headers['content-security-policy'], undefined);
      assert.ok(res.body.equals(readFileSync(path.join(swaggerUiDir(), file))), file);

      const again = await get(port, `/docs/assets/${file}`, {
        'If-None-Match': String(res.headers.etag),
      });
      assert.equal(again.status, 304, file);
      assert.equal(again.body.length, 0);
    }
  });

  it('refuses every other file of the package, and any path out of it, with a JSON 404', async () => {
    for (const url of [
      '/docs/assets/swagger-ui-bundle.js.map',
      '/docs/assets/swagger-ui.js',
      '/docs/assets/index.html',
      '/docs/assets/swagger-initializer.js',
      '/docs/assets/package.json',
      '/docs/assets/..%2Fpackage.json',
      '/docs/assets/%2e%2e',
      '/docs/assets/../../package.json',
      '/docs/assets/x/swagger-ui.css',
      '/docs/assets/',
    ]) {
      const res = await get(port, url);
      assert.equal(res.status, 404, url);
      assert.equal(JSON.parse(res.body.toString()).error.code, 'NOT_FOUND', url);
    }
  });
});
