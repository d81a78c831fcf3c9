import type {
  ClientFrame,
  MessageAckFrame,
  SendMessageInput,
  ServerFrame,
  ServerFrameOf,
} from './api-types.js';
import { backoffDelay, delay, type BackoffOptions } from './backoff.js';
import { ChatApiError, ChatNetworkError } from './chat-api-error.js';
import { newIdempotencyKey } from './idempotency-key.js';

/**
 * What the connection needs of a WebSocket: the browser's `WebSocket` and the `ws` package's
 * both fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { code: number; reason: string }) => void,
  ): void;
  addEventListener(type: 'error', listener: () => void): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers (and Node ≥ 22), `ws`'s in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of {@link RealtimeConnection}. */
export interface RealtimeOptions {
  /** The API's origin (`http(s)://host:port`, `/ws` is added) or the ws endpoint itself (`ws(s)://…`). */
  url: string;
  /** The bearer token; it goes in the handshake URL as `?token=` (browsers cannot set headers on a WebSocket). */
  token: string;
  /** @defaultValue `globalThis.WebSocket` (Node 20 has none: pass the `ws` package's) */
  WebSocket?: WebSocketConstructor;
  /** The delays between reconnection attempts. @defaultValue `{ initialMs: 500, maxMs: 15000 }` */
  backoff?: BackoffOptions;
  /**
   * Asked when a socket closed before it opened, which is all a browser learns of a refused
   * handshake (401, 403, 429 or 503 look alike): resolve true when the token is the reason
   * (a REST call answered 401), and the connection stops reconnecting. Without it, or when
   * it says false or takes over 5 s, the connection keeps trying with backoff.
   * {@link ChatClient.realtime} passes one.
   */
  tokenRefused?: () => Promise<boolean>;
  /** How long {@link RealtimeConnection.sendMessage} waits for its answer. @defaultValue 10000 */
  ackTimeoutMs?: number;
}

/** Why and how a socket closed. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether this socket had opened (false: the handshake failed or was refused). */
  wasOpen: boolean;
  /** When the next attempt starts; null when there is none (closed by {@link RealtimeConnection.close}, or refused). */
  reconnectInMs: number | null;
  /** True when the connection gave up because the API refuses the token (see {@link RealtimeOptions.tokenRefused}). */
  unauthorized: boolean;
}

type FrameEvents = { [T in ServerFrame['type']]: ServerFrameOf<T> };

/** The events of a {@link RealtimeConnection} and what their listeners get. */
export interface RealtimeEvents extends FrameEvents {
  /** Every frame the server sends, before its own event. */
  frame: ServerFrame;
  /** A socket is being opened (the first time and at each reconnection). */
  connecting: { attempt: number };
  /** A socket opened; `reconnected` after the first: what happened meanwhile was missed, reload it. */
  open: { reconnected: boolean };
  close: CloseInfo;
}

const OPEN = 1;
const TOKEN_CHECK_MS = 5000;

/**
 * A connection to the API's ws endpoint `/ws` with typed frames. It reconnects by itself
 * after the socket drops, with exponential backoff and jitter (the delay starts again from
 * the shortest once a socket opens), until {@link close} — or until the token is refused
 * (see {@link RealtimeOptions.tokenRefused}). Frames are not buffered while it is down:
 * {@link send} says false, and the `open` event's `reconnected` tells to reload.
 */
export class RealtimeConnection {
  private readonly url: string;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly ackTimeoutMs: number;
  private readonly tokenRefused: (() => Promise<boolean>) | undefined;
  private readonly listeners = new Map<keyof RealtimeEvents, Set<(payload: never) => void>>();
  private ws: WebSocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private everOpened = false;
  private stopped = false;

  constructor(opts: RealtimeOptions) {
    const impl =
      opts.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) {
      throw new TypeError(
        'RealtimeConnection: no global WebSocket here; pass one (in Node 20: `WebSocket` of the ws package)',
      );
    }
    this.WebSocketImpl = impl;
    const endpoint = /^wss?:/.test(opts.url)
      ? opts.url
      : `${opts.url.replace(/^http/, 'ws').replace(/\/+$/, '')}/ws`;
    const url = new URL(endpoint);
    url.searchParams.set('token', opts.token);
    this.url = url.href;
    this.backoff = opts.backoff ?? { initialMs: 500, maxMs: 15_000 };
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    this.tokenRefused = opts.tokenRefused;
  }

  /** True when a frame sent now goes out. */
  get isOpen(): boolean {
    return this.ws?.readyState === OPEN;
  }

  /** Listens to `event`; returns the function that stops listening. */
  on<E extends keyof RealtimeEvents>(
    event: E,
    listener: (payload: RealtimeEvents[E]) => void,
  ): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  off<E extends keyof RealtimeEvents>(
    event: E,
    listener: (payload: RealtimeEvents[E]) => void,
  ): void {
    this.listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /**
   * Resolves at the next `open` (at once when open); rejects when the connection is closed
   * for good (by {@link close}, or the token refused) before.
   */
  opened(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (this.stopped) return Promise.reject(new ChatNetworkError(0, 'the ws connection is closed'));
    return new Promise((resolve, reject) => {
      const offOpen = this.on('open', () => {
        offOpen();
        offClose();
        resolve();
      });
      const offClose = this.on('close', (info) => {
        if (info.reconnectInMs !== null) return;
        offOpen();
        offClose();
        reject(new ChatNetworkError(0, `the ws connection closed (${info.code})`));
      });
    });
  }

  /** Opens the socket and keeps it open (reconnecting) until {@link close}. */
  connect(): void {
    if (this.stopped || this.ws !== null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.emit('connecting', { attempt: this.attempt });
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.emit('open', { reconnected: this.everOpened });
      this.everOpened = true;
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      const frame = parseFrame(event.data);
      if (frame === undefined) return; // not ours to understand: the server sends JSON objects
      this.emit('frame', frame);
      this.emit(frame.type, frame as never);
    });
    // A failed socket also closes: 'close' decides what comes next.
    ws.addEventListener('error', () => {});
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      void this.afterClose(event.code, event.reason, opened);
    });
  }

  /**
   * Sends a frame; false when the socket is not open (nothing is queued: the caller decides,
   * e.g. keeps what the user typed).
   */
  send(frame: ClientFrame): boolean {
    if (!this.isOpen || this.ws === null) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Sends a message over the socket (`message:send` with a `clientMsgId`, a new UUID unless
   * given) and resolves with its `message:ack`; rejects with a {@link ChatApiError} for an
   * `error` frame (the code a REST send would get), or a {@link ChatNetworkError} when the
   * socket is not open, closes before the answer or none comes in time. The `message:new`
   * event comes as well. Not retried: resend with the same `clientMsgId` to be safe.
   */
  sendMessage(input: SendMessageInput): Promise<MessageAckFrame> {
    const clientMsgId = input.clientMsgId ?? newIdempotencyKey();
    return new Promise((resolve, reject) => {
      const abort = new AbortController();
      const done = () => {
        abort.abort();
        offFrame();
        offClose();
      };
      const offFrame = this.on('frame', (frame) => {
        if (!('clientMsgId' in frame) || frame.clientMsgId !== clientMsgId) return;
        if (frame.type === 'message:ack') {
          done();
          resolve(frame);
        } else if (frame.type === 'error') {
          done();
          const after = frame.retryAfterSeconds;
          reject(
            new ChatApiError(
              0,
              frame.code,
              frame.message,
              after === undefined ? undefined : after * 1000,
            ),
          );
        }
      });
      const offClose = this.on('close', () => {
        done();
        reject(new ChatNetworkError(0, 'the ws connection closed before the answer'));
      });
      if (!this.send({ ...input, type: 'message:send', clientMsgId })) {
        done();
        reject(new ChatNetworkError(0, 'the ws connection is not open'));
        return;
      }
      delay(this.ackTimeoutMs, abort.signal).then(
        () => {
          done();
          reject(new ChatNetworkError(0, `no answer over ws within ${this.ackTimeoutMs} ms`));
        },
        () => {}, // answered in time
      );
    });
  }

  /** Closes for good (log out): no reconnection. */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      const wasOpen = ws.readyState === OPEN;
      ws.close(1000, 'bye');
      this.emit('close', {
        code: 1000,
        reason: 'bye',
        wasOpen,
        reconnectInMs: null,
        unauthorized: false,
      });
    }
  }

  private async afterClose(code: number, reason: string, wasOpen: boolean): Promise<void> {
    const info = { code, reason, wasOpen, unauthorized: false };
    if (this.stopped) {
      this.emit('close', { ...info, reconnectInMs: null });
      return;
    }
    if (!wasOpen && this.tokenRefused && (await this.checkToken())) {
      this.stopped = true;
      this.emit('close', { ...info, unauthorized: true, reconnectInMs: null });
      return;
    }
    if (this.stopped) return; // closed by the user during the check
    const wait = backoffDelay(this.attempt++, this.backoff);
    this.retryTimer = setTimeout(() => this.connect(), wait);
    this.emit('close', { ...info, reconnectInMs: wait });
  }

  /** Whether the API refuses the token; false when the check fails or takes too long. */
  private async checkToken(): Promise<boolean> {
    const check = this.tokenRefused;
    if (!check) return false;
    const timeout = new AbortController();
    try {
      return await Promise.race([
        check().catch(() => false),
        delay(TOKEN_CHECK_MS, timeout.signal).then(() => false),
      ]);
    } finally {
      timeout.abort();
    }
  }

  private emit<E extends keyof RealtimeEvents>(event: E, payload: RealtimeEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: RealtimeEvents[E]) => void)(payload);
      } catch (err) {
        // One failing listener must not keep the others (or the connection) from running.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}

function parseFrame(data: unknown): ServerFrame | undefined {
  try {
    const frame = JSON.parse(String(data)) as unknown;
    const type = (frame as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? (frame as ServerFrame) : undefined;
  } catch {
    return undefined;
  }
}
