import type { ErrorObject, ValidateFunction } from 'ajv';
import { buildAsyncApiDocument } from '../../src/contract/asyncapi-document.js';
import { BODY_ERROR_CODES } from '../../src/contract/http-routes.js';
import { buildOpenApiDocument } from '../../src/contract/openapi-document.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import { documentSchemas, type Pointer } from './document-schemas.js';

/**
 * Checks answers and ws frames against the API documents the code builds
 * (`buildOpenApiDocument()`, `buildAsyncApiDocument()`): the contract hook
 * (contract-hook.ts) runs every answer and frame the suites receive through it.
 *
 * HTTP rules, for `METHOD path` → status:
 * - A path that matches a documented path template is checked against the operation of its
 *   method: the status must be listed, the headers the document marks required must be
 *   present (and every documented header valid), the content type must be listed for that
 *   status, and the body must match its schema (an empty body is right only for a status
 *   without content, a 304 or a HEAD).
 * - `HEAD` on a path with a `GET` is checked as that `GET` without a body (Koa answers HEAD for
 *   every GET route); `OPTIONS` must be 200 with `Allow` (the router's `allowedMethods`).
 * - Another method on a documented path may only get the document's
 *   `components/responses/MethodNotAllowed` (405, `Allow` required) or `NotImplemented` (501).
 * - A path no template matches may only get `components/responses/NoRoute` (404) or
 *   `NotImplemented` (501): unknown paths cannot be listed, everything else about them is
 *   a route missing from the document.
 * - On an undocumented method or path, a POST, PUT or PATCH may also get the body reader's
 *   errors (BAD_JSON, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, checked before routing, as the
 *   document's description says) with `components/schemas/ErrorBody`.
 *
 * ws rules: a frame the server sends must be a JSON object whose `type` is one of the
 * messages the AsyncAPI document has the server send (the `receive` operations' messages and
 * every operation's replies) and match its payload; an upgrade refused with an HTTP answer
 * must be one of the channel's `x-handshake-refusals` (status, code, body and headers).
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** An answer as the hook saw it. */
export interface AnswerToCheck {
  method: string;
  /** The request's URL: only its path is used. */
  url: string;
  status: number;
  headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Parsed JSON, else the text; undefined (or '') when the answer had no body. */
  body: unknown;
}

/** An answer or a frame that the documents do not describe. */
export class ContractViolation extends Error {
  override name = 'ContractViolation';

  constructor(
    /** `POST /api/messages/send → 201`, `ws frame "message:new"`, … */
    readonly subject: string,
    readonly detail: string,
  ) {
    super(`${subject}: ${detail}`);
  }
}

/** The checks of one pair of documents. */
export interface ContractChecker {
  /** Throws a {@link ContractViolation} when the OpenAPI document does not describe `answer`. */
  checkHttpAnswer(answer: AnswerToCheck): void;
  /** Throws when `frame` (parsed JSON) is not a server → client frame of the AsyncAPI document. */
  checkServerFrame(frame: unknown): void;
  /** Throws when `frame` is not a client → server frame of the AsyncAPI document. */
  checkClientFrame(frame: unknown): void;
  /** Throws when a refused ws upgrade (a non-101 answer) is not one the document lists. */
  checkUpgradeRefusal(answer: Omit<AnswerToCheck, 'method'>): void;
  /** The path of the ws channel (`/ws`): upgrades and frames of other paths are not the API's. */
  readonly wsPath: string;
  /** Whether `path` matches a path template of the OpenAPI document. */
  isDocumentedPath(path: string): boolean;
}

let shared: ContractChecker | undefined;

/** The checker of the documents the code builds, built once (compiling schemas on first use). */
export function contractChecker(): ContractChecker {
  shared ??= createContractChecker(
    JSON.parse(JSON.stringify(buildOpenApiDocument())) as Json,
    JSON.parse(JSON.stringify(buildAsyncApiDocument())) as Json,
  );
  return shared;
}

/** A path template of the document, as a matcher. */
interface PathTemplate {
  template: string;
  /** Each parameter one segment. */
  exact: RegExp;
  /** Each parameter any run of characters (`/static/{file}` with `file` = `js/web/chat.js`). */
  wide: RegExp;
  /** Literal characters: the more, the more specific (as `/api/messages/item/{id}`). */
  weight: number;
  /** Lower-case method → pointer to the operation's `responses`. */
  operations: Map<string, Pointer>;
}

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function templateRegex(template: string, param: string): RegExp {
  const parts = template.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  // The routers are neither strict about a trailing slash nor case-sensitive.
  return new RegExp(`^${parts.join(param)}/?$`, 'i');
}

/** The media type of a Content-Type value, lower-cased, without parameters. */
function mediaType(value: string | undefined): string | undefined {
  return value?.split(';')[0]!.trim().toLowerCase() || undefined;
}

/** `['a', 'b/c']` from `#/a/b~1c`; only references inside the document are used. */
function pointerOf(ref: string): Pointer {
  if (!ref.startsWith('#/')) throw new Error(`a $ref outside the document: ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
}

function headerMap(headers: AnswerToCheck['headers']): Map<string, string> {
  const out = new Map<string, string>();
  if (headers instanceof Headers) {
    headers.forEach((value, name) => out.set(name.toLowerCase(), value));
  } else {
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      out.set(name.toLowerCase(), typeof value === 'string' ? value : value.join(', '));
    }
  }
  return out;
}

function shortJson(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? '');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function errorsText(errors: ErrorObject[] | null | undefined): string {
  if (!errors?.length) return 'refused';
  const first = errors[0]!;
  const params = 'allowedValues' in first.params ? ` ${JSON.stringify(first.params)}` : '';
  const where = first.instancePath || '/';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `${where} ${first.message ?? 'refused'}${params}${more}`;
}

/** A checker of `openapi` (OpenAPI 3.1) and `asyncapi` (AsyncAPI 3.0), both as JSON. */
export function createContractChecker(openapi: Json, asyncapi: Json): ContractChecker {
  const http = documentSchemas(openapi, '2020-12');
  const ws = documentSchemas(asyncapi, 'draft-07');

  const at = (doc: Json, pointer: Pointer): unknown =>
    pointer.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), doc);
  /** Follows `$ref`s (local ones) from `pointer`: the object and where it is. */
  const resolve = (doc: Json, pointer: Pointer): [Json | undefined, Pointer] => {
    let node = at(doc, pointer);
    for (let hops = 0; isObject(node) && typeof node.$ref === 'string' && hops < 10; hops++) {
      pointer = pointerOf(node.$ref);
      node = at(doc, pointer);
    }
    return [isObject(node) ? node : undefined, pointer];
  };

  const validators = new Map<string, ValidateFunction>();
  const validate = (
    schemas: typeof http,
    pointer: Pointer,
    value: unknown,
  ): ErrorObject[] | undefined => {
    const key = JSON.stringify(pointer);
    let fn = validators.get(key);
    if (!fn) validators.set(key, (fn = schemas.validator(pointer)));
    return fn(value) ? undefined : (fn.errors ?? []);
  };

  // ---- OpenAPI: the path templates, most specific first.
  const templates: PathTemplate[] = [];
  for (const [template, item] of Object.entries(isObject(openapi.paths) ? openapi.paths : {})) {
    if (!isObject(item)) continue;
    const operations = new Map<string, Pointer>();
    for (const method of OPERATION_METHODS) {
      if (isObject(item[method])) operations.set(method, ['paths', template, method, 'responses']);
    }
    templates.push({
      template,
      exact: templateRegex(template, '[^/]+'),
      wide: templateRegex(template, '.+'),
      weight: template.replace(/\{[^}]+\}/g, '').length,
      operations,
    });
  }
  templates.sort((a, b) => b.weight - a.weight);

  const matching = (path: string): PathTemplate[] => {
    const exact = templates.filter((t) => t.exact.test(path));
    return exact.length ? exact : templates.filter((t) => t.wide.test(path));
  };

  // The answers no route gives (components/responses), by the status of their one code.
  const unrouted = new Map<string, { status: number; pointer: Pointer }>();
  const componentResponses = (openapi.components as Json | undefined)?.responses;
  for (const name of Object.keys(isObject(componentResponses) ? componentResponses : {})) {
    const pointer: Pointer = ['components', 'responses', name];
    const [res] = resolve(openapi, pointer);
    const [schema] = resolve(openapi, [...pointer, 'content', 'application/json', 'schema']);
    const code = (
      ((schema?.properties as Json | undefined)?.error as Json | undefined)?.properties as
        Json | undefined
    )?.code as Json | undefined;
    const first = Array.isArray(code?.enum) ? String(code.enum[0]) : undefined;
    const status =
      first && first in ERROR_CODES
        ? ERROR_CODES[first as keyof typeof ERROR_CODES].status
        : undefined;
    if (res && status) unrouted.set(name, { status, pointer });
  }
  const component = (name: string) => {
    const found = unrouted.get(name);
    if (!found) throw new Error(`the OpenAPI document has no components/responses/${name}`);
    return found;
  };
  const errorBodyPointer: Pointer = ['components', 'schemas', 'ErrorBody'];
  if (!resolve(openapi, errorBodyPointer)[0]) {
    throw new Error('the OpenAPI document has no components/schemas/ErrorBody');
  }

  /** Checks `answer` against the response object at `pointer` (a `responses` entry). */
  const checkResponse = (
    subject: string,
    pointer: Pointer,
    answer: AnswerToCheck,
    headers: Map<string, string>,
    opts: { head?: boolean } = {},
  ): void => {
    const [res, resPointer] = resolve(openapi, pointer);
    if (!res) throw new Error(`no response object at ${pointer.join('/')}`);
    for (const name of Object.keys(isObject(res.headers) ? res.headers : {})) {
      // OpenAPI: a Content-Type header definition is ignored.
      if (name.toLowerCase() === 'content-type') continue;
      const [def, defPointer] = resolve(openapi, [...resPointer, 'headers', name]);
      const value = headers.get(name.toLowerCase());
      if (value === undefined) {
        if (def?.required === true) {
          throw new ContractViolation(subject, `the required header ${name} is missing`);
        }
        continue;
      }
      if (isObject(def?.schema)) {
        const errors = validate(http, [...defPointer, 'schema'], value);
        if (errors) {
          throw new ContractViolation(
            subject,
            `header ${name}: ${errorsText(errors)} in ${JSON.stringify(value)}`,
          );
        }
      }
    }
    const content = isObject(res.content) ? res.content : {};
    const types = Object.keys(content);
    const empty = answer.body === undefined || answer.body === '';
    if (empty) {
      if (types.length && !opts.head && answer.status !== 304) {
        throw new ContractViolation(
          subject,
          `an empty body, but the document has ${types.join(', ')}`,
        );
      }
      return;
    }
    if (opts.head) throw new ContractViolation(subject, 'a body in an answer to HEAD');
    if (!types.length) {
      throw new ContractViolation(
        subject,
        `a body, but the document describes none: ${shortJson(answer.body)}`,
      );
    }
    const declared = mediaType(headers.get('content-type'));
    const type = declared ?? (types.length === 1 ? types[0] : undefined);
    if (!type || !types.includes(type)) {
      throw new ContractViolation(
        subject,
        `content type ${declared ?? '(none)'} is not documented (documented: ${types.join(', ')})`,
      );
    }
    let body = answer.body;
    if (/^application\/(.+\+)?json$/.test(type) && typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        throw new ContractViolation(subject, `${type} that is not JSON: ${shortJson(body)}`);
      }
    }
    const errors = validate(http, [...resPointer, 'content', type, 'schema'], body);
    if (errors) {
      throw new ContractViolation(subject, `body: ${errorsText(errors)} in ${shortJson(body)}`);
    }
  };

  /** The body reader's errors, which a POST, PUT or PATCH may get on any path and method. */
  const isBodyError = (answer: AnswerToCheck, method: string): boolean => {
    if (!['POST', 'PUT', 'PATCH'].includes(method) || !isObject(answer.body)) return false;
    const code = (answer.body.error as Json | undefined)?.code;
    return (
      (BODY_ERROR_CODES as readonly unknown[]).includes(code) &&
      ERROR_CODES[code as keyof typeof ERROR_CODES].status === answer.status
    );
  };

  /** An answer that only the components' generic responses may describe. */
  const checkGeneric = (
    subject: string,
    answer: AnswerToCheck,
    headers: Map<string, string>,
    method: string,
    allowed: string[],
    why: string,
  ): void => {
    if (isBodyError(answer, method)) {
      const errors = validate(http, errorBodyPointer, answer.body);
      if (errors) throw new ContractViolation(subject, `body: ${errorsText(errors)}`);
      return;
    }
    const match = allowed.map(component).find((c) => c.status === answer.status);
    if (!match) {
      throw new ContractViolation(
        subject,
        `${why}: only ${allowed.map((n) => `${component(n).status} (components/responses/${n})`).join(' or ')} may answer it`,
      );
    }
    checkResponse(subject, match.pointer, answer, headers, { head: method === 'HEAD' });
  };

  // ---- AsyncAPI: the frames by direction and type.
  const frames = { server: new Map<string, Pointer>(), client: new Map<string, Pointer>() };
  const addMessage = (direction: 'server' | 'client', ref: unknown) => {
    if (!isObject(ref) || typeof ref.$ref !== 'string') return;
    const [, messagePointer] = resolve(asyncapi, pointerOf(ref.$ref));
    const [payload, payloadPointer] = resolve(asyncapi, [...messagePointer, 'payload']);
    const type = ((payload?.properties as Json | undefined)?.type as Json | undefined)?.const;
    if (typeof type !== 'string') {
      throw new Error(`AsyncAPI message ${ref.$ref}: its payload has no const "type"`);
    }
    frames[direction].set(type, payloadPointer);
  };
  for (const op of Object.values(isObject(asyncapi.operations) ? asyncapi.operations : {})) {
    if (!isObject(op)) continue;
    const messages = Array.isArray(op.messages) ? op.messages : [];
    // The document speaks for the client: it sends (client → server) and receives.
    for (const m of messages) addMessage(op.action === 'send' ? 'client' : 'server', m);
    const reply = isObject(op.reply) ? op.reply : {};
    for (const m of Array.isArray(reply.messages) ? reply.messages : []) addMessage('server', m);
  }
  const channels = Object.entries(isObject(asyncapi.channels) ? asyncapi.channels : {});
  const wsPath = String(channels.map(([, c]) => (isObject(c) ? c.address : undefined))[0] ?? '/ws');
  // The channel's `x-handshake-refusals`: { status, code, body: Schema, headers?: name → value }.
  const refusals = channels.flatMap(([name, c]) => {
    const list =
      isObject(c) && Array.isArray(c['x-handshake-refusals']) ? c['x-handshake-refusals'] : [];
    return list.filter(isObject).map((refusal, i) => ({
      refusal,
      body: ['channels', name, 'x-handshake-refusals', i, 'body'] as Pointer,
    }));
  });

  const checkFrame = (direction: 'server' | 'client', frame: unknown): void => {
    const way = direction === 'server' ? 'server → client' : 'client → server';
    if (!isObject(frame) || typeof frame.type !== 'string') {
      throw new ContractViolation(
        `ws ${way} frame`,
        `not an object with a string type: ${shortJson(frame)}`,
      );
    }
    const subject = `ws ${way} frame "${frame.type}"`;
    const pointer = frames[direction].get(frame.type);
    if (!pointer) {
      throw new ContractViolation(
        subject,
        `the AsyncAPI document has no such ${way} message (documented: ${[...frames[direction].keys()].join(', ')})`,
      );
    }
    const errors = validate(ws, pointer, frame);
    if (errors)
      throw new ContractViolation(subject, `${errorsText(errors)} in ${shortJson(frame)}`);
  };

  return {
    wsPath,

    isDocumentedPath: (path) => matching(path).length > 0,

    checkHttpAnswer(answer) {
      const method = answer.method.toUpperCase();
      const path = new URL(answer.url, 'http://localhost').pathname;
      const headers = headerMap(answer.headers);
      const candidates = matching(path);
      if (!candidates.length) {
        checkGeneric(
          `${method} ${path} → ${answer.status}`,
          answer,
          headers,
          method,
          ['NoRoute', 'NotImplemented'],
          'a path the OpenAPI document does not have',
        );
        return;
      }
      const own = (m: string) => candidates.find((t) => t.operations.has(m));
      // HEAD on a path with a GET: that GET's answers without their bodies.
      const route = own(method.toLowerCase()) ?? (method === 'HEAD' ? own('get') : undefined);
      if (route) {
        const subject = `${method} ${route.template} → ${answer.status}`;
        const head = !route.operations.has(method.toLowerCase());
        const responses = route.operations.get(head ? 'get' : method.toLowerCase())!;
        const codes = Object.keys((at(openapi, responses) as Json | undefined) ?? {});
        const status = String(answer.status);
        const key = [status, `${status[0]}XX`, 'default'].find((k) => codes.includes(k));
        if (!key) {
          throw new ContractViolation(
            subject,
            `status ${status} is not documented for ${head ? 'GET' : method} ${route.template} (documented: ${codes.join(', ')})`,
          );
        }
        checkResponse(subject, [...responses, key], answer, headers, { head });
        return;
      }
      const subject = `${method} ${candidates[0]!.template} → ${answer.status}`;
      if (method === 'OPTIONS' && answer.status === 200) {
        if (!headers.has('allow')) throw new ContractViolation(subject, 'no Allow header');
        return;
      }
      checkGeneric(
        subject,
        answer,
        headers,
        method,
        ['MethodNotAllowed', 'NotImplemented'],
        'a method the path does not list',
      );
    },

    checkServerFrame: (frame) => checkFrame('server', frame),
    checkClientFrame: (frame) => checkFrame('client', frame),

    checkUpgradeRefusal(answer) {
      const path = new URL(answer.url, 'http://localhost').pathname;
      const subject = `ws upgrade ${path} → ${answer.status}`;
      const listed = refusals.filter((r) => r.refusal.status === answer.status);
      if (!listed.length) {
        throw new ContractViolation(
          subject,
          `not a handshake refusal of the AsyncAPI document (documented: ${refusals.map((r) => `${String(r.refusal.status)} ${String(r.refusal.code)}`).join(', ')})`,
        );
      }
      const code = isObject(answer.body)
        ? (answer.body.error as Json | undefined)?.code
        : undefined;
      const found = listed.find((r) => r.refusal.code === code);
      if (!found) {
        throw new ContractViolation(
          subject,
          `code ${JSON.stringify(code)} is not documented for ${answer.status} (documented: ${listed.map((r) => String(r.refusal.code)).join(', ')}) in ${shortJson(answer.body)}`,
        );
      }
      const { refusal } = found;
      const [, bodyPointer] = resolve(asyncapi, found.body);
      const errors = validate(ws, bodyPointer, answer.body);
      if (errors) throw new ContractViolation(subject, `body: ${errorsText(errors)}`);
      const headers = headerMap(answer.headers);
      for (const [name, value] of Object.entries(
        isObject(refusal.headers) ? refusal.headers : {},
      )) {
        const got = headers.get(name.toLowerCase());
        if (got === undefined) {
          throw new ContractViolation(subject, `the documented header ${name} is missing`);
        }
        if (got.toLowerCase() !== String(value).toLowerCase()) {
          throw new ContractViolation(
            subject,
            `header ${name}: ${JSON.stringify(got)}, documented ${JSON.stringify(value)}`,
          );
        }
      }
    },
  };
}
