import type { IncomingMessage } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import bourne from '@hapi/bourne';
import type { Context, Next } from 'koa';
import { AppError } from '../../errors/app-error.js';

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
 * `ctx.request.rawBody`). Answers (mapped by error-handler.ts):
 * - a body whose Content-Type is not `application/json` (a `charset` parameter, if any,
 *   must be `utf-8`), or that has none → 415 UNSUPPORTED_MEDIA_TYPE, before it is read;
 * - a body over `limit` bytes → 413 PAYLOAD_TOO_LARGE (raw-body's `entity.too.large`);
 * - bytes that are not valid UTF-8 (never replaced by U+FFFD) → 400 BAD_JSON;
 * - malformed JSON, a top-level value that is not an object or array, or a `__proto__` key
 *   anywhere (prototype poisoning, checked by @hapi/bourne as co-body does) → 400 BAD_JSON;
 * - no body (`Content-Length: 0`, or neither it nor `Transfer-Encoding`) → `{}`, whatever
 *   the Content-Type: the route's validation then names the missing fields;
 * - a UTF-8 byte order mark is skipped;
 * - a request whose body cannot be read (aborted) → 400 (raw-body's `request.aborted`).
 *
 * Why not @koa/bodyparser alone: its per-request chain (type-is, option copies, an iconv
 * decoder, five stream listeners) is work the common case — no content coding, a
 * Content-Length within the limit — does not need, since Node's HTTP parser already stops
 * the body at Content-Length. Every other request (a `Content-Encoding`, a chunked body, a
 * length over the limit, an already closed request) goes to @koa/bodyparser, which reads the
 * bytes and leaves decoding and parsing to the same code as the common case (see
 * BENCHMARKS.md for what this saved).
 */
export function jsonBody(opts: { limit: number }) {
  const { limit } = opts;
  const fallback = bodyParser({
    enableTypes: ['text'],
    extendTypes: { text: ['application/json'] },
    textLimit: limit,
    // One character per byte, so the bytes survive: iconv-lite's utf-8 decoder would turn
    // invalid sequences into U+FFFD, which the fatal decoder below must see instead.
    encoding: 'latin1',
  });
  return function readJsonBody(ctx: Context, next: Next): Promise<void> {
    if (!BODY_METHODS.has(ctx.method) || ctx.request.body !== undefined) return next();
    const req = ctx.req;
    const {
      'content-length': lengthHeader,
      'content-encoding': coding,
      'content-type': type,
    } = req.headers;
    const length = lengthHeader === undefined ? NaN : Number(lengthHeader);
    if (length === 0 || (lengthHeader === undefined && !req.headers['transfer-encoding'])) {
      ctx.request.body = {};
      ctx.request.rawBody = '';
      return next();
    }
    if (type !== 'application/json' && !isJsonContentType(type)) {
      throw new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the body as Content-Type: application/json (UTF-8)',
      );
    }
    if (
      !(length <= limit) ||
      (coding !== undefined && coding.toLowerCase() !== 'identity') ||
      req.closed
    ) {
      return fallback(ctx, () => {
        const bytes = ctx.request.rawBody;
        // Not text: the bodyparser did not take the Content-Type for JSON (an odd parameter).
        if (typeof bytes !== 'string') throw new AppError('UNSUPPORTED_MEDIA_TYPE');
        const text = decodeUtf8(Buffer.from(bytes, 'latin1'));
        ctx.request.body = parseStrictJson(text);
        ctx.request.rawBody = text;
        return next();
      });
    }
    return readBody(req, length).then((buf) => {
      const text = decodeUtf8(buf);
      ctx.request.body = parseStrictJson(text);
      ctx.request.rawBody = text;
      return next();
    });
  };
}

/**
 * Whether a Content-Type header names JSON: the media type `application/json` (any case,
 * any parameters), whose `charset`, when given, is `utf-8` or its common alias `utf8`
 * (RFC 8259: JSON between systems is UTF-8).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type = '', ...params] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  for (const param of params) {
    if (param.trim() === '') continue;
    const eq = param.indexOf('=');
    // Not `name=value`: a malformed header (type-is, behind the fallback, refuses it too).
    if (eq === -1) return false;
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (value !== 'utf-8' && value !== 'utf8') return false;
  }
  return true;
}

/** Fatal: invalid UTF-8 throws instead of becoming U+FFFD. Skips a byte order mark. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body's text; bytes that are not valid UTF-8 are a 400 BAD_JSON. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new AppError('BAD_JSON', 'The body is not valid UTF-8');
  }
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
