import type {
  AuthResult,
  CacheStatus,
  ConversationPage,
  ConversationQuery,
  Credentials,
  ErrorCode,
  HealthReport,
  Liveness,
  Message,
  Method,
  OperationOf,
  PathParamsOf,
  ReadinessReport,
  RequestBodyOf,
  SendMessageInput,
  SendResult,
  StatsSnapshot,
  SuccessBody,
  User,
} from './api-types.js';
import { backoffDelay, delay, retryAfterMs, type BackoffOptions } from './backoff.js';
import { ChatApiError, ChatNetworkError } from './chat-api-error.js';
import type { paths } from './contract.gen.js';
import { newIdempotencyKey } from './idempotency-key.js';
import { RealtimeConnection, type RealtimeOptions } from './realtime.js';

/** `fetch` as the client calls it (the global one by default; inject another in tests). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link ChatClient}. */
export interface ChatClientOptions {
  /** The API's origin, e.g. `http://localhost:3000` (a path prefix, if any, is kept). */
  baseUrl: string;
  /** A token of sign-up or login, sent as `Authorization: Bearer`; {@link ChatClient.login} sets it. */
  token?: string | null;
  /** @defaultValue the global `fetch` */
  fetch?: FetchLike;
  /**
   * How often a call that may safely be repeated is retried (sends, with the same
   * idempotency key; reads; edits) after no answer, a 502/503/504, a 429 or
   * IDEMPOTENCY_IN_PROGRESS. `0` turns retries off. @defaultValue 3
   */
  maxRetries?: number;
  /** The delays between retries when the API does not give `Retry-After`. @defaultValue `{ initialMs: 250, maxMs: 5000 }` */
  retryBackoff?: BackoffOptions;
  /**
   * The longest `Retry-After` waited for by itself; a longer one (a send rate-limit window of
   * minutes) is thrown at once as a {@link ChatApiError} carrying `retryAfterMs`. @defaultValue 30000
   */
  maxRetryAfterMs?: number;
  /** Per attempt: an answer not received by then counts as no answer (retried as one). @defaultValue none */
  timeoutMs?: number;
  /** Called whenever the token changes: sign-up, login, {@link ChatClient.setToken}. */
  onToken?: (token: string | null) => void;
}

/** Options of one call. */
export interface CallOptions {
  /** Aborts the call, retries included; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link ChatClient.send}. */
export interface SendOptions extends CallOptions {
  /**
   * The `Idempotency-Key`: a retry with the same key is answered with the first message
   * instead of storing it twice. @defaultValue the input's `clientMsgId`, else a new UUID
   */
  idempotencyKey?: string;
}

/** What {@link ChatClient.send} answers: the API's body, its status and the key used. */
export type SendOutcome = SendResult & {
  /** 201 stored; 202 accepted while MongoDB is down; 200 an earlier attempt with this key had stored it. */
  status: 200 | 201 | 202;
  idempotencyKey: string;
};

/** A page of a conversation with the cache's verdict. */
export type Conversation = ConversationPage & {
  /** `X-Cache`: from Redis (`HIT`) or from MongoDB (`MISS`); null when a proxy dropped it. */
  cache: CacheStatus | null;
};

/** The methods `path` has in the contract. */
type MethodsOf<P extends keyof paths> = {
  [K in Method]-?: undefined extends paths[P][K] ? never : K;
}[Method];

interface Request<O> extends CallOptions {
  params?: PathParamsOf<O>;
  query?: Record<string, string | undefined>;
  body?: RequestBodyOf<O>;
  headers?: Record<string, string>;
  /** Whether the call may be repeated (see {@link ChatClientOptions.maxRetries}). */
  retry?: boolean;
  /** The token to send instead of the client's (null: none). */
  token?: string | null;
  /** Statuses besides 2xx whose body is an answer rather than an error (the health probes' 503). */
  answers?: readonly number[];
}

interface Answer<B> {
  status: number;
  headers: Headers;
  body: B;
}

/** Why an attempt failed, and whether (and when) it may be tried again. */
interface Failure {
  error: Error;
  retryable: boolean;
  waitMs?: number;
}

const RETRYABLE_STATUSES = new Set([502, 503, 504]);

/**
 * The REST API, typed from its contract (contract.gen.ts, generated from `/openapi.json`).
 * Works with any `fetch` (browsers, Node ≥ 18) and has no other dependency.
 *
 * An error answer is thrown as a {@link ChatApiError} (its `code` is one of the contract's
 * codes), no answer as a {@link ChatNetworkError}. Calls that may be repeated are retried
 * (see {@link ChatClientOptions.maxRetries}), honouring `Retry-After`; a send is repeated
 * with the same `Idempotency-Key`, so it is stored once however often it is retried.
 */
export class ChatClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly maxRetries: number;
  private readonly retryBackoff: BackoffOptions;
  private readonly maxRetryAfterMs: number;
  private readonly timeoutMs: number | undefined;
  private readonly onToken: ((token: string | null) => void) | undefined;
  private currentToken: string | null;

  constructor(opts: ChatClientOptions) {
    if (typeof opts?.baseUrl !== 'string' || !/^https?:\/\//.test(opts.baseUrl)) {
      throw new TypeError('ChatClient: baseUrl must be an http(s) URL, e.g. http://localhost:3000');
    }
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    // Called as a plain function: browsers refuse a `fetch` called as another object's method.
    const f = opts.fetch;
    this.fetchImpl = f ? (url, init) => f(url, init) : (url, init) => fetch(url, init);
    this.maxRetries = opts.maxRetries ?? 3;
    this.retryBackoff = opts.retryBackoff ?? { initialMs: 250, maxMs: 5000 };
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs;
    this.onToken = opts.onToken;
    this.currentToken = opts.token ?? null;
  }

  /** The token sent with every call, or null. */
  get token(): string | null {
    return this.currentToken;
  }

  /** Replaces the token (null: none, e.g. at log-out). */
  setToken(token: string | null): void {
    this.currentToken = token;
    this.onToken?.(token);
  }

  // ---- auth ----

  /** `POST /api/auth/signup`: creates the user and keeps its token for the next calls. */
  async signup(credentials: Credentials, opts: CallOptions = {}): Promise<AuthResult> {
    const res = await this.call('post', '/api/auth/signup', { ...opts, body: credentials });
    this.setToken(res.body.token);
    return res.body;
  }

  /** `POST /api/auth/login`: keeps the token for the next calls. */
  async login(credentials: Credentials, opts: CallOptions = {}): Promise<AuthResult> {
    const res = await this.call('post', '/api/auth/login', { ...opts, body: credentials });
    this.setToken(res.body.token);
    return res.body;
  }

  // ---- users and messages ----

  /** `GET /api/users`: every user but the caller. */
  async users(opts: CallOptions = {}): Promise<User[]> {
    return (await this.call('get', '/api/users', { ...opts, retry: true })).body.users;
  }

  /**
   * `POST /api/messages/send` with an `Idempotency-Key` (given, else the input's
   * `clientMsgId`, else a new UUID). Retried with the same key after no answer, a 503, a 429
   * (after its `Retry-After`) or IDEMPOTENCY_IN_PROGRESS: the message is stored once.
   */
  async send(input: SendMessageInput, opts: SendOptions = {}): Promise<SendOutcome> {
    const idempotencyKey = opts.idempotencyKey ?? input.clientMsgId ?? newIdempotencyKey();
    const res = await this.call('post', '/api/messages/send', {
      signal: opts.signal,
      body: input,
      headers: { 'Idempotency-Key': idempotencyKey },
      retry: true,
    });
    return { ...res.body, status: res.status as SendOutcome['status'], idempotencyKey };
  }

  /** `GET /api/messages/item/{id}`: one message (yours, or sent to you). */
  async message(id: string, opts: CallOptions = {}): Promise<Message> {
    const res = await this.call('get', '/api/messages/item/{messageId}', {
      ...opts,
      params: { messageId: id },
      retry: true,
    });
    return res.body.message;
  }

  /** `PATCH /api/messages/item/{id}`: a new text for a message you sent. */
  async edit(id: string, content: string, opts: CallOptions = {}): Promise<Message> {
    const res = await this.call('patch', '/api/messages/item/{messageId}', {
      ...opts,
      params: { messageId: id },
      body: { content },
      // Setting the same text again changes nothing: safe to repeat.
      retry: true,
    });
    return res.body.message;
  }

  /** `DELETE /api/messages/item/{id}` of a message you sent. Not retried (a repeat would be a 404). */
  async delete(id: string, opts: CallOptions = {}): Promise<void> {
    await this.call('delete', '/api/messages/item/{messageId}', {
      ...opts,
      params: { messageId: id },
    });
  }

  /**
   * `GET /api/messages/{userId}`: a page of the conversation with `userId`, oldest first
   * (the newest page, or the one just before message `before`), with `X-Cache`.
   */
  async conversation(
    userId: string,
    query: ConversationQuery = {},
    opts: CallOptions = {},
  ): Promise<Conversation> {
    const res = await this.call('get', '/api/messages/{receiverId}', {
      ...opts,
      params: { receiverId: userId },
      query: {
        before: query.before,
        limit: query.limit === undefined ? undefined : String(query.limit),
      },
      retry: true,
    });
    const cache = res.headers.get('X-Cache');
    return {
      ...res.body,
      cache: cache === 'HIT' || cache === 'MISS' ? cache : null,
    };
  }

  /** `GET /api/stats`: the cluster-wide figures of the dashboard. */
  async stats(opts: CallOptions = {}): Promise<StatsSnapshot> {
    return (await this.call('get', '/api/stats', { ...opts, retry: true })).body;
  }

  // ---- probes (never retried: their answer is the point) ----

  /** `GET /health`: the report, whether 200 (`ok`) or 503 (`degraded`). */
  async health(opts: CallOptions = {}): Promise<HealthReport> {
    const res = await this.call('get', '/health', { ...opts, answers: [503] });
    return res.body as HealthReport;
  }

  /** `GET /health/ready`: the report, whether 200 (ready) or 503 (not ready). */
  async ready(opts: CallOptions = {}): Promise<ReadinessReport> {
    const res = await this.call('get', '/health/ready', { ...opts, answers: [503] });
    return res.body as ReadinessReport;
  }

  /** `GET /health/live`. */
  async live(opts: CallOptions = {}): Promise<Liveness> {
    return (await this.call('get', '/health/live', opts)).body;
  }

  // ---- realtime ----

  /**
   * A {@link RealtimeConnection} to this API's `/ws` with this client's token; when the
   * socket is refused before it opens, the client asks the REST API whether the token is the
   * reason (401), and if so the connection stops reconnecting. Call `connect()` on it.
   */
  realtime(opts: Omit<RealtimeOptions, 'url' | 'token'> = {}): RealtimeConnection {
    const token = this.currentToken;
    if (token === null) throw new TypeError('ChatClient.realtime: sign up or log in first');
    return new RealtimeConnection({
      url: this.baseUrl,
      token,
      tokenRefused: async () => {
        try {
          // The connection's token, whatever the client's is by now.
          await this.call('get', '/api/stats', { token });
          return false;
        } catch (err) {
          return err instanceof ChatApiError && err.status === 401;
        }
      },
      ...opts,
    });
  }

  // ---- the request core ----

  /**
   * One call of the route `method path`, typed by the contract: its path parameters, body and
   * answer. Retries as {@link Request.retry} says.
   */
  private async call<P extends keyof paths, M extends MethodsOf<P>>(
    method: M,
    path: P,
    req: Request<OperationOf<P, M>>,
  ): Promise<Answer<SuccessBody<OperationOf<P, M>>>> {
    const url = this.urlOf(
      String(path),
      req.params as Record<string, string> | undefined,
      req.query,
    );
    const headers: Record<string, string> = { Accept: 'application/json', ...req.headers };
    const token = req.token === undefined ? this.currentToken : req.token;
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(req.body);
    }
    // Never from the browser's HTTP cache. (Node's fetch takes `cache` too; its types omit it.)
    const init = { method: method.toUpperCase(), headers, body, cache: 'no-store' } as RequestInit;
    const retries = req.retry ? this.maxRetries : 0;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(url, init, req);
      if (!('error' in outcome)) return outcome as Answer<SuccessBody<OperationOf<P, M>>>;
      if (!outcome.retryable || attempt >= retries) throw outcome.error;
      await delay(outcome.waitMs ?? backoffDelay(attempt, this.retryBackoff), req.signal);
    }
  }

  private async attempt(
    url: string,
    init: RequestInit,
    req: Request<unknown>,
  ): Promise<Answer<unknown> | Failure> {
    const timeout = this.timeoutMs === undefined ? undefined : AbortSignal.timeout(this.timeoutMs);
    const signals = [req.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(url, signal ? { ...init, signal } : init);
      text = await res.text();
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason;
      const what = timeout?.aborted ? `no answer within ${this.timeoutMs} ms` : 'no answer';
      return {
        error: new ChatNetworkError(0, `${init.method} ${url}: ${what}`, { cause: err }),
        retryable: true,
      };
    }
    const parsed = parseJson(text);
    const ok = (res.status >= 200 && res.status < 300) || req.answers?.includes(res.status);
    if (ok && !isErrorBody(parsed)) {
      if (res.status === 204) return { status: res.status, headers: res.headers, body: undefined };
      if (parsed === undefined) {
        return {
          error: new ChatNetworkError(res.status, `${init.method} ${url}: the answer is not JSON`),
          retryable: false,
        };
      }
      return { status: res.status, headers: res.headers, body: parsed };
    }
    const waitMs = retryAfterMs(res.headers.get('Retry-After'));
    const error = isErrorBody(parsed)
      ? new ChatApiError(res.status, parsed.error.code, parsed.error.message, waitMs)
      : new ChatNetworkError(res.status, `${init.method} ${url}: ${res.status} ${res.statusText}`);
    const code = error instanceof ChatApiError ? error.code : undefined;
    const retryable =
      RETRYABLE_STATUSES.has(res.status) ||
      code === 'RATE_LIMITED' ||
      code === 'IDEMPOTENCY_IN_PROGRESS';
    // A wait longer than we are willing to sit through goes back to the caller.
    const tooLong = waitMs !== undefined && waitMs > this.maxRetryAfterMs;
    return { error, retryable: retryable && !tooLong, waitMs };
  }

  private urlOf(
    path: string,
    params: Record<string, string> | undefined,
    query: Record<string, string | undefined> | undefined,
  ): string {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params?.[name];
      if (value === undefined) throw new TypeError(`ChatClient: no value for {${name}}`);
      return encodeURIComponent(value);
    });
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search.set(key, value);
    }
    const qs = search.toString();
    return `${this.baseUrl}${filled}${qs ? `?${qs}` : ''}`;
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isErrorBody(body: unknown): body is { error: { code: ErrorCode; message: string } } {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}
