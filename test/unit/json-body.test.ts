import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import Router, { type RouterContext } from '@koa/router';
import { pino } from 'pino';
import { createHttpApp } from '../../src/http/app.js';
import {
  decodeUtf8,
  isJsonContentType,
  parseStrictJson,
} from '../../src/http/middleware/json-body.js';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';

interface Answer {
  status: number;
  body: { body?: unknown; rawBody?: unknown; error?: { code: string; message: string } };
}

/** The body limit of the app under test: small, so that the edges are cheap to reach. */
const LIMIT = 64;

/**
 * A request written by hand: `chunks` are written one by one (a pause between them), with
 * a Content-Length unless `chunked`; `abortAfter` destroys the request after that many chunks.
 * The Content-Type is `application/json` unless `type` names another (null: none).
 */
function send(
  port: number,
  opts: {
    method?: string;
    path?: string;
    chunks?: Array<string | Buffer>;
    headers?: Record<string, string>;
    chunked?: boolean;
    abortAfter?: number;
    type?: string | null;
  },
): Promise<Answer> {
  const chunks = (opts.chunks ?? []).map((c) => (typeof c === 'string' ? Buffer.from(c) : c));
  const length = chunks.reduce((n, c) => n + c.length, 0);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/echo',
        method: opts.method ?? 'POST',
        headers: {
          ...(opts.chunked ? {} : { 'content-length': String(length) }),
          ...(opts.type === null ? {} : { 'content-type': opts.type ?? 'application/json' }),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as never) : {} }),
        );
      },
    );
    req.on('error', reject);
    void (async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (opts.abortAfter === i) {
          req.destroy();
          resolve({ status: 0, body: {} });
          return;
        }
        req.write(chunk);
        // Real delay: the chunks reach the server apart, as a slow client's would.
        if (chunks.length > 1) await sleep(20);
      }
      req.end();
    })();
  });
}

describe('JSON body reader', function () {
  let server: http.Server;
  let port: number;
  let handled = 0;
  /** Requests the server got, and the last one's middleware chain (settles once it has run). */
  let requests = 0;
  let lastHandled: Promise<void> = Promise.resolve();

  before(async function () {
    const router = new Router();
    const echo = (ctx: RouterContext) => {
      handled++;
      ctx.body = { body: ctx.request.body ?? null, rawBody: ctx.request.rawBody ?? null };
    };
    router.post('/echo', echo).put('/echo', echo).patch('/echo', echo).get('/echo', echo);
    const app = createHttpApp({
      logger: pino({ level: 'silent' }),
      routers: [router],
      bodyLimit: LIMIT,
    });
    const handle = app.callback();
    server = http.createServer((req, res) => {
      requests++;
      lastHandled = handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('parses an object or an array for POST, PUT and PATCH', async function () {
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const res = await send(port, { method, chunks: ['{"a":1,"b":["x"]}'] });
      assert.equal(res.status, 200, method);
      assert.deepEqual(res.body.body, { a: 1, b: ['x'] });
      assert.equal(res.body.rawBody, '{"a":1,"b":["x"]}');
    }
    const list = await send(port, { chunks: [' \n[1,2]'] });
    assert.deepEqual(list.body.body, [1, 2]);
  });

  it('accepts application/json in any case, with charset=utf-8 or other parameters', async function () {
    for (const type of [
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
      'Application/JSON; Charset="utf-8"',
      'application/json; profile=x',
    ]) {
      const res = await send(port, { chunks: ['{"a":1}'], type });
      assert.equal(res.status, 200, type);
      assert.deepEqual(res.body.body, { a: 1 }, type);
      // The other path (chunked, through @koa/bodyparser) takes the same types.
      const chunked = await send(port, { chunks: ['{"a":', '2}'], chunked: true, type });
      assert.equal(chunked.status, 200, `${type} chunked`);
      assert.deepEqual(chunked.body.body, { a: 2 }, `${type} chunked`);
    }
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE to any other Content-Type, or none, before the route runs', async function () {
    const types = [
      null,
      'text/plain',
      'text/plain; charset=utf-8',
      'text/html',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/jsonp',
      'application/merge-patch+json',
      '',
    ];
    for (const type of types) {
      const before = handled;
      for (const method of ['POST', 'PUT', 'PATCH']) {
        const res = await send(port, { method, chunks: ['{"a":1}'], type });
        assert.equal(res.status, 415, `${method} ${type}`);
        assert.equal(res.body.error?.code, 'UNSUPPORTED_MEDIA_TYPE', `${method} ${type}`);
        assert.match(res.body.error?.message ?? '', /application\/json/);
      }
      const chunked = await send(port, { chunks: ['{"a":', '1}'], chunked: true, type });
      assert.equal(chunked.status, 415, `chunked ${type}`);
      const gz = await send(port, {
        chunks: [gzipSync('{"a":1}')],
        headers: { 'content-encoding': 'gzip' },
        type,
      });
      assert.equal(gz.status, 415, `gzip ${type}`);
      assert.equal(handled, before, `the route ran for ${type}`);
    }
  });

  it('gives {} for an empty body, whatever its Content-Type, and leaves GET bodies unread', async function () {
    for (const type of [null, 'application/json', 'text/plain']) {
      const empty = await send(port, { chunks: [], type });
      assert.equal(empty.status, 200, String(type));
      assert.deepEqual(empty.body.body, {});
    }
    const get = await send(port, { method: 'GET', chunks: [], type: 'text/plain' });
    assert.equal(get.body.body, null);
  });

  it('answers 400 BAD_JSON to bytes that are not valid UTF-8, on every path', async function () {
    const bodies = {
      'a lone 0xff 0xfe': Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      'an overlong "<" (0xc0 0xbc)': Buffer.concat([
        Buffer.from('{"a":"'),
        Buffer.from([0xc0, 0xbc]),
        Buffer.from('"}'),
      ]),
      'a truncated 3-byte sequence': Buffer.concat([
        Buffer.from('{"a":"'),
        Buffer.from([0xe2, 0x82]),
        Buffer.from('"}'),
      ]),
      'a UTF-16 surrogate (0xed 0xa0 0x80)': Buffer.concat([
        Buffer.from('{"a":"'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]),
      'a cut at the very end': Buffer.concat([Buffer.from('{"a":"x"}'), Buffer.from([0xf0, 0x9f])]),
    };
    const before = handled;
    for (const [what, body] of Object.entries(bodies)) {
      for (const path of ['plain', 'chunked', 'gzip'] as const) {
        const res = await send(port, {
          chunks: [path === 'gzip' ? gzipSync(body) : body],
          chunked: path === 'chunked',
          headers: path === 'gzip' ? { 'content-encoding': 'gzip' } : {},
        });
        assert.equal(res.status, 400, `${what} (${path})`);
        assert.equal(res.body.error?.code, 'BAD_JSON', `${what} (${path})`);
        assert.equal(res.body.error?.message, 'The body is not valid UTF-8', `${what} (${path})`);
      }
    }
    assert.equal(handled, before);
    // U+FFFD itself, correctly encoded, is text like any other.
    const replacement = await send(port, { chunks: ['{"a":"\ufffd"}'] });
    assert.equal(replacement.status, 200);
    assert.deepEqual(replacement.body.body, { a: '\ufffd' });
  });

  it('reads a body arriving in several chunks, a character split between two', async function () {
    const text = Buffer.from('{"content":"é😀"}');
    const cut = text.indexOf(0xf0) + 2; // inside the 4-byte emoji
    const res = await send(port, {
      chunks: [text.subarray(0, 5), text.subarray(5, cut), text.subarray(cut)],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.body, { content: 'é😀' });
  });

  it('skips a UTF-8 byte order mark', async function () {
    const res = await send(port, { chunks: ['\ufeff{"a":1}'] });
    assert.deepEqual(res.body.body, { a: 1 });
    const chunked = await send(port, { chunks: ['\ufeff{"a":', '2}'], chunked: true });
    assert.deepEqual(chunked.body.body, { a: 2 });
  });

  it('answers 400 BAD_JSON to malformed JSON and to a top-level value that is no object or array', async function () {
    for (const text of ['{"a":', 'not json', '"a string"', '42', 'null']) {
      const res = await send(port, { chunks: [text] });
      assert.equal(res.status, 400, text);
      assert.equal(res.body.error?.code, 'BAD_JSON', text);
    }
  });

  it('answers 400 BAD_JSON to a __proto__ key, at any depth and however escaped', async function () {
    for (const text of [
      '{"__proto__":{"admin":true}}',
      '{"a":{"b":[{"__proto__":{"admin":true}}]}}',
      '{"\\u005f_proto__":{"admin":true}}',
      '[{"__proto__" : {"admin":true}}]',
    ]) {
      const res = await send(port, { chunks: [text] });
      assert.equal(res.status, 400, text);
      assert.equal(res.body.error?.code, 'BAD_JSON', text);
    }
    assert.equal(({} as { admin?: unknown }).admin, undefined);
  });

  it('keeps "constructor" / "prototype" keys as plain data (JSON.parse makes own properties)', async function () {
    const res = await send(port, { chunks: ['{"constructor":{"prototype":{"admin":true}}}'] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.body, { constructor: { prototype: { admin: true } } });
    assert.equal(({} as { admin?: unknown }).admin, undefined);
  });

  it('accepts a body of exactly the limit and answers 413 PAYLOAD_TOO_LARGE past it', async function () {
    const fits = `{"p":"${'x'.repeat(LIMIT - 8)}"}`;
    assert.equal(Buffer.byteLength(fits), LIMIT);
    assert.equal((await send(port, { chunks: [fits] })).status, 200);
    const over = `{"p":"${'x'.repeat(LIMIT - 7)}"}`;
    const big = await send(port, { chunks: [over] });
    assert.equal(big.status, 413);
    assert.equal(big.body.error?.code, 'PAYLOAD_TOO_LARGE');
    // Chunked, with no Content-Length: the limit holds while reading.
    const chunked = await send(port, {
      chunks: [over.slice(0, 30), over.slice(30)],
      chunked: true,
    });
    assert.equal(chunked.status, 413);
    assert.equal(chunked.body.error?.code, 'PAYLOAD_TOO_LARGE');
  });

  it('still reads chunked and gzip-encoded bodies (through @koa/bodyparser)', async function () {
    const chunked = await send(port, { chunks: ['{"a":', '1}'], chunked: true });
    assert.equal(chunked.status, 200);
    assert.deepEqual(chunked.body.body, { a: 1 });
    const gz = await send(port, {
      chunks: [gzipSync('{"zipped":true}')],
      headers: { 'content-encoding': 'gzip' },
    });
    assert.equal(gz.status, 200);
    assert.deepEqual(gz.body.body, { zipped: true });
  });

  it('survives a client that goes away mid-body: the route never runs', async function () {
    const before = handled;
    const seen = requests;
    await send(port, {
      chunks: ['{"a":', '"b"}'],
      headers: { 'content-length': '40' },
      abortAfter: 1,
    });
    await waitUntil('the server to get the cut request', () => requests > seen, 2000, 5);
    await lastHandled; // its whole middleware chain has run: the route had its chance
    assert.equal(handled, before);
    const next = await send(port, { chunks: ['{"ok":true}'] });
    assert.deepEqual(next.body.body, { ok: true });
  });
});

describe('isJsonContentType', function () {
  it('takes application/json with no charset or utf-8 (or its alias utf8), and nothing else', function () {
    for (const yes of [
      'application/json',
      'APPLICATION/JSON',
      ' application/json ',
      'application/json;',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; foo=bar; charset=utf-8',
      'application/json; charset=utf8',
    ]) {
      assert.equal(isJsonContentType(yes), true, yes);
    }
    for (const no of [
      undefined,
      '',
      'text/plain',
      'text/json',
      'application/json5',
      'application/ld+json',
      'application/json; charset=iso-8859-1',
      'application/json; charset',
      'application/json; charset=',
      'application/json; profile',
    ]) {
      assert.equal(isJsonContentType(no), false, String(no));
    }
  });
});

describe('decodeUtf8', function () {
  it('decodes UTF-8, drops a byte order mark, and throws a 400 BAD_JSON on invalid bytes', function () {
    assert.equal(decodeUtf8(Buffer.from('\ufeffé😀')), 'é😀');
    for (const bytes of [[0xff], [0xc0, 0xbc], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x80]]) {
      assert.throws(
        () => decodeUtf8(Buffer.from(bytes)),
        (err: Error & { code?: string; status?: number }) =>
          err.code === 'BAD_JSON' && err.status === 400,
        String(bytes),
      );
    }
  });
});

describe('parseStrictJson', function () {
  it('parses objects and arrays, {} for an empty text', function () {
    assert.deepEqual(parseStrictJson('{"a":[1,{"b":null}]}'), { a: [1, { b: null }] });
    assert.deepEqual(parseStrictJson('\t\r\n [true]'), [true]);
    assert.deepEqual(parseStrictJson(''), {});
  });

  it('throws a 400 carrying the text for anything else', function () {
    for (const text of ['1', '"x"', '{"a"', '{"__proto__":{}}', '{"a":{"__proto__":[]}}']) {
      assert.throws(
        () => parseStrictJson(text),
        (err: Error & { status?: number; body?: unknown }) =>
          err instanceof SyntaxError && err.status === 400 && err.body === text,
        text,
      );
    }
  });
});
