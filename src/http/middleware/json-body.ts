import type { IncomingMessage } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import bourne from '@hapi/bourne';
import type { Context, Next } from 'koa';

/** What {@link jsonBody} reads: the methods @koa/bodyparser parses by default. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** co-body's strict mode: the text must be an object or an array (RFC 7159 whitespace first). */
const STRICT_JSON_RE = /^[ \t\n\r]*[[{]/;

/**
 * An error as raw-body / co-body make them: `status` and `type` (and `body` for a parse
 * failure) are what `toAppError` (error-handler.ts) maps to the answer.
 */
class BodyReadError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BodyReadError';
  }
}

/**
 * Parses every POST / PUT / PATCH body as JSON into `ctx.request.body` (and its text into
 * `ctx.request.rawBody`), whatever its declared type, like `@koa/bodyparser` configured with
 * `enableTypes: ['json'], jsonStrict: true, detectJSON: () => true` did alone before, with
 * the same answers (mapped by error-handler.ts):
 * - a body over `limit` bytes → 413 PAYLOAD_TOO_LARGE (raw-body's `entity.too.large`);
 * - malformed JSON, a top-level value that is not an object or array, or a `__proto__` key
 *   anywhere (prototype poisoning, checked by @hapi/bourne as co-body does) → 400 BAD_JSON;
 * - an empty body → `{}`; a UTF-8 BOM is skipped;
 * - a request whose body cannot be read (aborted) → 400 (raw-body's `request.aborted`).
 *
 * Why not @koa/bodyparser alone: on `POST /api/messages/send` in write-behind mode its chain
 * (@koa/bodyparser → co-body → inflation → raw-body → iconv-lite, before @hapi/bourne) was
 * ~3% of the API's busy time (self time, measured: ~0.8% for this reader) — per request it
 * looks the content type up with type-is, parses the limit with `bytes`, copies its options,
 * builds an iconv decoder and attaches five stream listeners. The common
 * case — no content coding, a Content-Length within the limit (every browser, fetch and
 * autocannon request) — needs none of that: Node's HTTP parser already stops the body at
 * Content-Length, so reading it is collecting the chunks until `end`. This reader does only
 * that, and hands every other request (a `Content-Encoding` to inflate, chunked bodies with
 * no length, a length over the limit, an already closed request) to the same @koa/bodyparser
 * configuration as before, so their answers are unchanged. The JSON itself still goes
 * through @hapi/bourne.
 */
export function jsonBody(opts: { limit: number }) {
  const { limit } = opts;
  const fallback = bodyParser({
    enableTypes: ['json'],
    jsonLimit: limit,
    jsonStrict: true,
    // Parse JSON whatever the declared type; non-JSON content is a 400 with BAD_JSON.
    detectJSON: () => true,
  });
  return function readJsonBody(ctx: Context, next: Next): Promise<void> {
    if (!BODY_METHODS.has(ctx.method) || ctx.request.body !== undefined) return next();
    const req = ctx.req;
    const { 'content-length': lengthHeader, 'content-encoding': coding } = req.headers;
    const length = lengthHeader === undefined ? NaN : Number(lengthHeader);
    if (
      !(length <= limit) ||
      (coding !== undefined && coding.toLowerCase() !== 'identity') ||
      req.closed
    ) {
      return fallback(ctx, next);
    }
    if (length === 0) {
      ctx.request.body = {};
      ctx.request.rawBody = '';
      return next();
    }
    return readBody(req, length).then((buf) => {
      let text = buf.toString('utf8');
      // raw-body's decoder (iconv-lite) drops a byte order mark.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      ctx.request.body = parseStrictJson(text);
      ctx.request.rawBody = text;
      return next();
    });
  };
}

/**
 * co-body's strict JSON: `{}` for an empty text, else an object or array parsed by
 * @hapi/bourne (a `__proto__` key throws). A failure carries `status` 400 and `body`,
 * as co-body's, which the error handler answers with BAD_JSON.
 */
export function parseStrictJson(text: string): unknown {
  if (text === '') return {};
  try {
    if (!STRICT_JSON_RE.test(text)) {
      throw new SyntaxError('invalid JSON, only supports object and array');
    }
    return bourne.parse(text, { protoAction: 'error' }) as unknown;
  } catch (err) {
    throw Object.assign(err as Error, { status: 400, body: text });
  }
}

/**
 * The body of a request whose Content-Length is `length` (> 0): the HTTP parser ends the
 * stream after exactly that many bytes, so no limit check is needed while reading. Rejects
 * when the request is aborted or errors before its end.
 */
function readBody(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let received = 0;
    const cleanup = () => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      req.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (first === undefined || received !== length) {
        reject(
          new BodyReadError(
            'request size did not match content length',
            400,
            'request.size.invalid',
          ),
        );
      } else {
        resolve(chunks ? Buffer.concat(chunks, received) : first);
      }
    };
    // An 'error' (ECONNRESET) or 'close' before 'end': the client went away mid-body, which
    // raw-body answered 400 `request.aborted` (nobody reads it).
    const onError = (err: Error) => {
      cleanup();
      reject(new BodyReadError('request aborted', 400, 'request.aborted', { cause: err }));
    };
    const onClose = () => {
      cleanup();
      reject(new BodyReadError('request aborted', 400, 'request.aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
