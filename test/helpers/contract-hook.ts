import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { contractChecker, type AnswerToCheck } from './contract-check.js';

/**
 * The test-only contract hook: once installed (by the root hooks, for the whole mocha run),
 * every answer that a test receives from the API and every frame a ws client receives from it
 * is checked against the documents (contract-check.ts), without changing what the test sees:
 * - `globalThis.fetch` is wrapped: the answer is checked on a clone of the response;
 * - `http.request` answers (the raw-request helpers of some tests, and ws's own handshake
 *   requests) are seen through Node's `http.client.response.finish` diagnostics channel, the
 *   body by a tap on the response's `push`;
 * - the `ws` package's client sockets (`_isServer === false`): every text frame they receive
 *   is checked as a server → client frame (server-side sockets, which tests feed deliberately
 *   invalid client frames, are not checked), and an upgrade refused with an HTTP answer as one
 *   of the document's handshake refusals.
 *
 * What is the API: answers from a loopback origin (127.0.0.1, localhost, [::1]) to a path that
 * the OpenAPI document has, or under /api or /health (where a route missing from the document
 * would answer); ws connections and upgrades to the channel's path (/ws). Other servers on
 * loopback (the Prometheus listener's /metrics, a test's own fake server at other paths) are
 * not looked at; a test whose own fake server answers at such paths opts its origin out with
 * {@link ignoreOrigin} — never the whole hook.
 *
 * A violation does not throw where it happens (a test that expects an error would swallow
 * it): it is recorded with the test running at the time, and the root `afterEach` fails that
 * test with it; violations outside any test (in `before`/`after` hooks, or late) fail the run
 * in the root `afterAll`.
 */

/** A violation, and the test that was running when the answer or frame came. */
interface Recorded {
  error: Error;
  test: Mocha.Test | undefined;
  /** The full title of the last test that ended before it, for violations outside tests. */
  after: string | undefined;
}

const recorded: Recorded[] = [];
const pending = new Set<Promise<void>>();
const ignored = new Set<string>();
let current: Mocha.Test | undefined;
let lastTitle: string | undefined;
let installed = false;
/** How many answers, upgrade refusals and frames were checked (CONTRACT_HOOK_STATS=1 prints them). */
const checked = { http: 0, upgrades: 0, frames: 0, unsettled: 0 };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `http://host:port` of `url`, with ws(s) as http(s). */
function originOf(url: URL): string {
  return `${url.protocol.replace(/^ws/, 'http')}//${url.host}`;
}

/**
 * Leaves answers and frames from `origin` (e.g. `http://127.0.0.1:41234`, a test's own fake
 * server) unchecked until the returned function is called. Only for servers that are not the
 * API.
 */
export function ignoreOrigin(origin: string | URL): () => void {
  const key = originOf(new URL(origin));
  ignored.add(key);
  return () => ignored.delete(key);
}

function isApiHttp(url: URL): boolean {
  if (!/^https?:$/.test(url.protocol) || !LOOPBACK.has(url.hostname)) return false;
  if (ignored.has(originOf(url))) return false;
  const path = url.pathname;
  return /^\/(api|health)(\/|$)/i.test(path) || contractChecker().isDocumentedPath(path);
}

function isApiWs(url: URL): boolean {
  return (
    /^(ws|http)s?:$/.test(url.protocol) &&
    LOOPBACK.has(url.hostname) &&
    !ignored.has(originOf(url)) &&
    url.pathname === contractChecker().wsPath
  );
}

function record(error: unknown, test: Mocha.Test | undefined): void {
  recorded.push({
    error: error instanceof Error ? error : new Error(String(error)),
    test,
    after: lastTitle,
  });
}

function attempt(
  kind: 'http' | 'upgrades' | 'frames',
  check: () => void,
  test: Mocha.Test | undefined,
): void {
  checked[kind]++;
  try {
    check();
  } catch (error) {
    record(error, test);
  }
}

function track(work: Promise<void>): void {
  pending.add(work);
  void work.finally(() => pending.delete(work));
}

/** The body as the checker takes it: JSON when the type says so (else the text), or undefined. */
function bodyOf(text: string, contentType: string | null | undefined): unknown {
  if (text === '') return undefined;
  if (/^application\/(.+\+)?json\b/i.test(contentType ?? '')) {
    try {
      return JSON.parse(text);
    } catch {
      // The checker reports JSON that does not parse.
    }
  }
  return text;
}

function wrapFetch(): void {
  const original = globalThis.fetch;
  globalThis.fetch = async function contractCheckedFetch(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    const res = await original(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!isApiHttp(url)) return res;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const test = current;
    const copy = res.clone();
    track(
      copy.text().then(
        (text) =>
          attempt(
            'http',
            () =>
              contractChecker().checkHttpAnswer({
                method,
                url: url.href,
                status: res.status,
                headers: res.headers,
                body: bodyOf(text, res.headers.get('content-type')),
              }),
            test,
          ),
        () => {
          // The request was aborted or the connection lost: no answer to check.
        },
      ),
    );
    return res;
  };
}

/** Answers to `http.request`, ws's handshake requests included. */
function onHttpResponse(message: unknown): void {
  const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
  const port = request.socket?.remotePort;
  const host = request.host.includes(':') ? `[${request.host}]` : request.host;
  const url = new URL(`${request.protocol}//${host}${port ? `:${port}` : ''}${request.path}`);
  const upgrade = String(request.getHeader('upgrade') ?? '').toLowerCase() === 'websocket';
  if (upgrade ? !isApiWs(url) : !isApiHttp(url)) return;
  const test = current;
  const chunks: Buffer[] = [];
  const push = response.push;
  track(
    new Promise<void>((resolve) => {
      // A response cut short: nothing whole to check (a complete one is checked before 'close').
      response.once('close', () => resolve());
      // The parser pushes each chunk and then null: a tap that neither reads nor pauses.
      response.push = function (chunk: unknown, encoding?: BufferEncoding): boolean {
        if (chunk === null) {
          response.push = push;
          const answer: Omit<AnswerToCheck, 'method'> = {
            url: url.href,
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: bodyOf(Buffer.concat(chunks).toString('utf8'), response.headers['content-type']),
          };
          attempt(
            upgrade ? 'upgrades' : 'http',
            () =>
              upgrade
                ? contractChecker().checkUpgradeRefusal(answer)
                : contractChecker().checkHttpAnswer({ ...answer, method: request.method }),
            test,
          );
          resolve();
        } else if (chunk !== undefined) {
          chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), encoding));
        }
        return push.call(this, chunk, encoding);
      };
    }),
  );
}

function wrapWsClient(): void {
  const original = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function contractCheckedEmit(
    this: WebSocket & { _isServer?: boolean },
    event: string | symbol,
    ...args: unknown[]
  ): boolean {
    if (event === 'message' && this._isServer === false && isApiWs(new URL(this.url))) {
      const [data, isBinary] = args as [Buffer | ArrayBuffer | Buffer[], boolean];
      const subject = `ws frame from ${this.url}`;
      attempt(
        'frames',
        () => {
          if (isBinary)
            throw new Error(`${subject}: a binary frame; the protocol has only JSON text`);
          const text = Array.isArray(data)
            ? Buffer.concat(data).toString('utf8')
            : Buffer.from(data as ArrayBuffer).toString('utf8');
          let frame: unknown;
          try {
            frame = JSON.parse(text);
          } catch {
            throw new Error(`${subject}: not JSON: ${text.slice(0, 200)}`);
          }
          contractChecker().checkServerFrame(frame);
        },
        current,
      );
    }
    return original.call(this, event, ...args);
  };
}

/** Installs the hook (once): fetch, `http.request` answers and ws client frames. */
export function installContractHook(): void {
  if (installed) return;
  installed = true;
  wrapFetch();
  diagnostics.subscribe('http.client.response.finish', onHttpResponse);
  wrapWsClient();
}

/** Waits (up to `timeoutMs`) for the checks of answers whose bodies are still arriving. */
export async function settleContractChecks(timeoutMs = 2000): Promise<void> {
  if (!pending.size) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([...pending]),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        checked.unsettled++;
        resolve();
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Removes and returns the violations recorded while `test` ran (all of them without `test`):
 * for the unit test of the hook, which provokes them on purpose.
 */
export function takeContractViolations(test?: Mocha.Runnable): Error[] {
  const taken: Error[] = [];
  for (let i = recorded.length - 1; i >= 0; i--) {
    if (test === undefined || recorded[i]!.test === test) {
      taken.unshift(recorded[i]!.error);
      recorded.splice(i, 1);
    }
  }
  return taken;
}

function summary(errors: readonly string[]): string {
  const shown = errors.slice(0, 10).map((e) => `  - ${e}`);
  if (errors.length > 10) shown.push(`  … and ${errors.length - 10} more`);
  return shown.join('\n');
}

/** The root hooks that turn recorded violations into failures (see root-hooks.ts). */
export const contractMochaHooks = {
  beforeAll(): void {
    // Builds the documents now (about half a second), not inside the first test's request.
    contractChecker();
  },

  beforeEach(this: Mocha.Context): void {
    current = this.currentTest;
  },

  async afterEach(this: Mocha.Context): Promise<void> {
    const test = this.currentTest;
    await settleContractChecks();
    current = undefined;
    lastTitle = test?.fullTitle();
    const mine = test ? takeContractViolations(test) : [];
    if (!mine.length) return;
    const error = new Error(
      `"${test!.fullTitle()}" received ${mine.length} answer(s) or frame(s) that the API documents do not describe:\n${summary(mine.map((e) => e.message))}`,
    );
    // Fails the test itself (Mocha's Hook#error), not the hook, so that the run goes on.
    (this.test as unknown as { error(err: Error): void }).error(error);
  },

  async afterAll(): Promise<void> {
    await settleContractChecks();
    if (process.env.CONTRACT_HOOK_STATS) {
      console.log(
        `contract hook: checked ${checked.http} HTTP answers, ${checked.upgrades} refused ws upgrades, ${checked.frames} ws frames; ${checked.unsettled} waits for a body ran out`,
      );
    }
    const rest = recorded.splice(0);
    if (!rest.length) return;
    throw new Error(
      `${rest.length} answer(s) or frame(s) outside a test that the API documents do not describe:\n${summary(
        rest.map(
          (r) =>
            `${r.test ? `in "${r.test.fullTitle()}" (late)` : r.after ? `after "${r.after}"` : 'before the first test'}: ${r.error.message}`,
        ),
      )}`,
    );
  },
};
