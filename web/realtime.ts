import type { Message } from './api.js';

/** Frames the server sends on `/ws`. */
export type ServerFrame =
  | { type: 'message:ack'; clientMsgId?: string; message: Message; persisted: boolean }
  | { type: 'error'; code: string; message: string; clientMsgId?: string }
  | { type: 'message:new' | 'message:updated'; message: Message }
  | { type: 'message:deleted'; message: Pick<Message, 'id' | 'senderId' | 'receiverId'> }
  | { type: 'pong' };

/** What the connection reports to the page. */
export interface RealtimeHandlers {
  onFrame(frame: ServerFrame): void;
  /** `open` after every (re)connection: the page reloads what it may have missed. */
  onStatus(status: 'connecting' | 'open' | 'closed'): void;
  /**
   * Called when the socket closed before ever opening: the upgrade was refused (e.g. an
   * expired token, answered 401, which browsers do not expose) or the server is down.
   */
  onRefused?(): void;
}

/** Reconnection backoff. */
export interface BackoffOptions {
  /** First retry delay. @defaultValue 500 */
  initialMs?: number;
  /** Largest delay. @defaultValue 15000 */
  maxMs?: number;
}

/**
 * The page's WebSocket to `/ws` on its own origin. The token goes only in the handshake URL
 * (browsers cannot set an Authorization header on a WebSocket). When the socket drops it
 * reconnects with exponential backoff and jitter, so that a restarted server is not hit by
 * every tab at the same instant; the delay resets once a connection opens.
 */
export class RealtimeConnection {
  private ws: WebSocket | null = null;
  private retryTimer: number | undefined;
  private attempt = 0;
  private stopped = false;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(
    private readonly token: string,
    private readonly handlers: RealtimeHandlers,
    backoff: BackoffOptions = {},
  ) {
    this.initialMs = backoff.initialMs ?? 500;
    this.maxMs = backoff.maxMs ?? 15_000;
  }

  /** Opens the socket (and keeps it open until {@link close}). */
  connect(): void {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`;
    this.handlers.onStatus('connecting');
    const ws = new WebSocket(url);
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      this.attempt = 0;
      this.handlers.onStatus('open');
    });
    ws.addEventListener('message', (event) => {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return; // not ours to understand; the server only sends JSON
      }
      this.handlers.onFrame(frame);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.handlers.onStatus('closed');
      if (this.stopped) return;
      if (!opened) this.handlers.onRefused?.();
      this.scheduleReconnect();
    });
  }

  /** True when a frame sent now goes out. */
  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame; false when the socket is not open (the caller keeps what the user typed). */
  send(frame: Record<string, unknown>): boolean {
    if (!this.isOpen || this.ws === null) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Closes for good (log out). */
  close(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'bye');
  }

  private scheduleReconnect(): void {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    // Full jitter in the upper half: spreads reconnects, never retries immediately.
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }
}
