import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { isAppError } from '../errors/app-error.js';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';
import type { EventPublisher, MessageEvent } from '../messages/message-events.js';
import type { Message } from '../messages/message.js';
import { parseClientFrame } from './parse-client-frame.js';
import {
  resolveRealtimeOptions,
  type AuthenticatedUser,
  type RealtimeServerOptions,
} from './realtime-options.js';
import { RedisEventBus } from './redis-event-bus.js';

export type { AuthenticatedUser, RealtimeServerOptions, SendMessage } from './realtime-options.js';

/** Every frame the server sends. */
export type ServerFrame =
  | { type: 'message:ack'; clientMsgId?: string; message: Message; persisted: boolean }
  | {
      type: 'error';
      code: ErrorCode;
      message: string;
      clientMsgId?: string;
      /** With `RATE_LIMITED`: when to try again. */
      retryAfterSeconds?: number;
    }
  | { type: 'pong' }
  | { type: MessageEvent['type']; message: MessageEvent['message'] };

/** A running realtime endpoint, as returned by {@link createRealtimeServer}. */
export interface RealtimeServer {
  /** Publishes to every API process's clients; give it to the message service. */
  readonly publisher: EventPublisher;
  /**
   * Resolves once the events subscription is up (it waits through Redis outages); rejects
   * only when `close()` ran first. Upgrades are accepted before, but until then get only the
   * events this process publishes (delivered locally), not those of other processes.
   */
  readonly ready: Promise<void>;
  /** Open sockets that receive events (closing ones are no longer counted). */
  connections(): number;
  /**
   * Stops accepting upgrades and the heartbeat, closes every socket with 1001 (terminating
   * those that do not answer within `closeGraceMs`), waits for frames being handled, and
   * ends the events subscription. Call it before `server.close()`: upgraded sockets keep
   * an HTTP server from closing. Idempotent.
   */
  close(): Promise<void>;
}

/** Close codes the server uses (RFC 6455 §7.4 and the IANA registry). */
const CLOSE_GOING_AWAY = 1001;
const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * `ws.send` options of every server frame: text (also when the data is a Buffer), never
 * compressed (permessage-deflate is off anyway; the server does not offer it).
 */
const TEXT_FRAME = Object.freeze({ binary: false, compress: false });

interface Client {
  ws: WebSocket;
  /** The connection under `ws`, corked while a batch of events is written to it. */
  socket: Duplex;
  user: AuthenticatedUser;
  /** Answered the last ping (or has not been pinged yet). */
  alive: boolean;
  /** Frames are handled one at a time, in order, so a sender's messages keep their order. */
  queue: Promise<void>;
  queued: number;
  /** `socket` is corked by the batch of events of the current tick (see `joinBatch`). */
  corked: boolean;
}

/**
 * Attaches the ws endpoint (`/ws` by default) to an existing HTTP server.
 *
 * Upgrades are checked before the handshake: the `Origin` (when a browser sends one: the
 * server's own origin or one of `allowedOrigins`, else 403), the token (a `Authorization:
 * Bearer` header, or `?token=` for browsers, which cannot set headers on a WebSocket; else
 * 401) and the user's open sockets (at most `maxConnectionsPerUser`, else 429
 * `TOO_MANY_CONNECTIONS`); a refusal is a plain HTTP response with the usual
 * `{ "error": { code, message } }` body. Client frames are JSON objects with a `type`:
 * `message:send` (handled by the injected `sendMessage`, so REST and ws share validation
 * and rate limiting) and `ping`. Events from the bus are sent as `{ type, message }` to
 * every socket of every recipient connected to this process: the frame is serialized once
 * per event (by the bus) and sent to every socket as the same Buffer.
 *
 * @throws TypeError for invalid or contradictory options (see `resolveRealtimeOptions`).
 */
export function createRealtimeServer(options: RealtimeServerOptions): RealtimeServer {
  const opts = resolveRealtimeOptions(options);
  const { server, logger } = opts;
  const log = logger.child({ component: 'realtime' });
  const bus =
    opts.bus ??
    // resolveRealtimeOptions guarantees redis and keys when bus is absent.
    new RedisEventBus({ redis: opts.redis!, keys: opts.keys!, logger: log });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayload,
    // The registry below tracks sockets per user; a second Set in ws would be redundant.
    clientTracking: false,
  });
  const byUser = new Map<string, Set<Client>>();
  /** Sockets that receive events. */
  const clients = new Map<WebSocket, Client>();
  /** Every socket until its 'close' event, including those we are closing. */
  const sockets = new Set<WebSocket>();
  let closing: Promise<void> | undefined;
  /** Sockets handed to ws: no HTTP answer may be written to them any more. */
  const upgraded = new WeakSet<Duplex>();
  /**
   * Sockets per user, from the accepted upgrade until the socket closes. A slot is taken
   * synchronously before the handshake, so concurrent upgrades of one user (each awaiting
   * its token check) cannot all pass the limit.
   */
  const slots = new Map<string, number>();
  const anyOrigin = opts.allowedOrigins[0] === '*';
  const allowedOrigins = new Set(opts.allowedOrigins);

  // --- upgrade: path, Origin, token, the user's slot, then the ws handshake --------------

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Node removed its own 'error' listener from an upgraded socket; without one, a reset
    // while the token is being checked would crash the process.
    socket.on('error', ignoreSocketError);
    void handleUpgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'ws upgrade failed');
      // After the 101 the socket speaks ws; an HTTP answer would corrupt it.
      if (upgraded.has(socket)) socket.destroy();
      else rejectUpgrade(socket, 500, 'INTERNAL', ERROR_CODES.INTERNAL.message);
    });
  };

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== opts.path) {
      // Another module may handle other paths on the same server; answer only when none does.
      if (server.listenerCount('upgrade') > 1) {
        socket.off('error', ignoreSocketError);
        return;
      }
      rejectUpgrade(socket, 404, 'NOT_FOUND', 'No WebSocket endpoint at this path');
      return;
    }
    if (closing) {
      rejectUpgrade(socket, 503, 'SERVICE_UNAVAILABLE', 'The server is shutting down');
      return;
    }
    if (!originAllowed(req)) {
      log.debug({ origin: req.headers.origin }, 'ws upgrade refused: origin not allowed');
      rejectUpgrade(socket, 403, 'FORBIDDEN', 'Pages of this origin may not open a WebSocket here');
      return;
    }
    const token = tokenOf(req, url);
    if (token === undefined) {
      rejectUpgrade(socket, 401, 'UNAUTHORIZED', 'A bearer token is required', BEARER);
      return;
    }
    let user: AuthenticatedUser;
    try {
      user = await opts.verifyToken(token);
    } catch (err) {
      if (isAppError(err) && err.status >= 500) {
        log.error({ err }, 'ws token check failed');
        rejectUpgrade(socket, err.status, err.code, ERROR_CODES[err.code].message);
      } else {
        // Only the reason's code: neither the token nor a message that might quote it.
        const reason = (err as { code?: unknown })?.code ?? (err as Error)?.name;
        log.debug({ reason }, 'ws upgrade refused: invalid token');
        rejectUpgrade(socket, 401, 'UNAUTHORIZED', 'The token is invalid or expired', BEARER);
      }
      return;
    }
    if (socket.destroyed) return;
    if (closing) {
      rejectUpgrade(socket, 503, 'SERVICE_UNAVAILABLE', 'The server is shutting down');
      return;
    }
    if (!takeSlot(user.id, socket)) {
      log.debug({ userId: user.id }, 'ws upgrade refused: too many connections');
      rejectUpgrade(
        socket,
        429,
        'TOO_MANY_CONNECTIONS',
        `At most ${opts.maxConnectionsPerUser} open connections per user`,
      );
      return;
    }
    // From here ws owns the socket and its errors.
    socket.off('error', ignoreSocketError);
    upgraded.add(socket);
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket, user));
  }

  /**
   * A browser's page may connect from the server's own origin (the pages it serves: the
   * request's `Host` under http or https) or from a listed one; clients that send no
   * `Origin` are not browsers, which are what the check protects.
   */
  function originAllowed(req: IncomingMessage): boolean {
    const { origin, host } = req.headers;
    if (origin === undefined || anyOrigin) return true;
    const wanted = origin.toLowerCase();
    if (allowedOrigins.has(wanted)) return true;
    if (host === undefined) return false;
    return ['http', 'https'].some((scheme) => {
      const own = `${scheme}://${host}`;
      // Through URL, so that a default port in Host (`:443`) matches the origin without it.
      return URL.canParse(own) && new URL(own).origin === wanted;
    });
  }

  /** Takes one of the user's slots until `socket` closes; false when none is free. */
  function takeSlot(userId: string, socket: Duplex): boolean {
    const taken = slots.get(userId) ?? 0;
    if (taken >= opts.maxConnectionsPerUser) return false;
    slots.set(userId, taken + 1);
    // 'close' of the connection comes whatever happens next: a handshake ws aborts, a socket
    // gone before the handshake, or the end of an open WebSocket.
    socket.once('close', () => {
      const left = (slots.get(userId) ?? 1) - 1;
      if (left > 0) slots.set(userId, left);
      else slots.delete(userId);
    });
    return true;
  }

  // --- connections -----------------------------------------------------------------------

  function onConnection(ws: WebSocket, socket: Duplex, user: AuthenticatedUser): void {
    if (closing) {
      ws.close(CLOSE_GOING_AWAY, 'Server shutting down');
      return;
    }
    const client: Client = {
      ws,
      socket,
      user,
      alive: true,
      queue: Promise.resolve(),
      queued: 0,
      corked: false,
    };
    sockets.add(ws);
    clients.set(ws, client);
    let set = byUser.get(user.id);
    if (!set) byUser.set(user.id, (set = new Set()));
    set.add(client);
    log.debug({ userId: user.id, connections: clients.size }, 'ws connected');

    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => enqueueFrame(client, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // Protocol errors (e.g. a frame over maxPayload: 1009) are followed by a close; the
      // client caused them, so they are not server errors.
      log.debug({ userId: user.id, err: err.message, code: err.code }, 'ws client error');
    });
    ws.on('close', (code) => {
      sockets.delete(ws);
      forget(client);
      log.debug({ userId: user.id, code, connections: clients.size }, 'ws closed');
    });
  }

  /** Removes a socket from the registry: it gets no more events. Idempotent. */
  function forget(client: Client): void {
    clients.delete(client.ws);
    const set = byUser.get(client.user.id);
    if (set?.delete(client) && set.size === 0) byUser.delete(client.user.id);
  }

  // --- client frames -----------------------------------------------------------------------

  function enqueueFrame(client: Client, data: RawData, isBinary: boolean): void {
    if (client.queued >= opts.maxQueuedFrames) {
      // Answering instead of buffering keeps a flooding client from growing our memory.
      const parsed = parseClientFrame(data, isBinary);
      const clientMsgId = !parsed.ok
        ? parsed.clientMsgId
        : parsed.frame.type === 'message:send'
          ? parsed.frame.clientMsgId
          : undefined;
      send(client, {
        type: 'error',
        code: 'RATE_LIMITED',
        message: 'Too many frames waiting for an answer; wait for the acks',
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
      });
      return;
    }
    client.queued++;
    client.queue = client.queue
      .then(() => handleFrame(client, data, isBinary))
      .catch((err: unknown) => log.error({ err }, 'ws frame handling failed'))
      .finally(() => {
        client.queued--;
      });
  }

  async function handleFrame(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    const parsed = parseClientFrame(data, isBinary);
    if (!parsed.ok) {
      sendError(client, parsed.error, parsed.clientMsgId);
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'ping') {
      send(client, { type: 'pong' });
      return;
    }
    const { clientMsgId } = frame;
    try {
      const { message, persisted } = await opts.sendMessage(
        client.user.id,
        frame.input,
        clientMsgId === undefined ? {} : { clientMsgId },
      );
      send(client, {
        type: 'message:ack',
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
        message,
        persisted,
      });
    } catch (err) {
      sendError(client, err, clientMsgId);
    }
  }

  function sendError(client: Client, err: unknown, clientMsgId: string | undefined): void {
    const extra = clientMsgId === undefined ? {} : { clientMsgId };
    if (!isAppError(err)) {
      log.error({ err, userId: client.user.id }, 'ws send failed');
      send(client, {
        type: 'error',
        code: 'INTERNAL',
        message: ERROR_CODES.INTERNAL.message,
        ...extra,
      });
      return;
    }
    if (err.status >= 500) log.error({ err, userId: client.user.id }, 'ws send failed');
    const retryAfter = Number(err.headers['Retry-After']);
    send(client, {
      type: 'error',
      code: err.code,
      message: err.expose ? err.message : ERROR_CODES[err.code].message,
      ...extra,
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }

  // --- sending -----------------------------------------------------------------------------

  function send(client: Client, frame: ServerFrame): void {
    sendRaw(client, JSON.stringify(frame));
  }

  /**
   * Sends one text frame, unless the socket is closing or does not keep up (closed with 1013).
   * `batched`: as part of this tick's batch of events (see {@link joinBatch}).
   */
  function sendRaw(client: Client, payload: string | Buffer, batched = false): void {
    const { ws } = client;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (client.corked && ws.bufferedAmount > opts.maxBufferedBytes) {
      // What the batch holds back would be in the kernel's buffer without it: write it out
      // before judging the client by what is left.
      client.socket.uncork();
      client.socket.cork();
    }
    if (ws.bufferedAmount > opts.maxBufferedBytes) {
      // A client that does not read would make us buffer without bound. The close frame
      // queues behind the unsent data; ws destroys the socket if the handshake does not
      // finish within its close timeout.
      log.warn(
        { userId: client.user.id, bufferedAmount: ws.bufferedAmount },
        'closing a ws client that does not keep up',
      );
      forget(client);
      ws.close(CLOSE_TRY_AGAIN_LATER, 'Client too slow');
      return;
    }
    if (batched) joinBatch(client);
    ws.send(payload, TEXT_FRAME);
  }

  /** Clients whose connection the events of this tick corked; {@link endBatch} uncorks them. */
  const batch: Client[] = [];

  /**
   * Corks a client's connection until the end of this tick, so that the frames of all the
   * events delivered meanwhile (those of one read from the channel, or those published by
   * the sends that one Redis reply completed) leave in one write per socket, not one per
   * frame: a socket write is most of the cost of a delivery. Nothing waits for I/O or a timer:
   * `process.nextTick` runs once the current callback and its promise jobs are done. Frames
   * keep their order (acks written meanwhile queue behind the events, in order), and the
   * buffered bytes still count in `bufferedAmount`.
   */
  function joinBatch(client: Client): void {
    if (client.corked) return;
    client.corked = true;
    client.socket.cork();
    if (batch.push(client) === 1) process.nextTick(endBatch);
  }

  function endBatch(): void {
    // uncork() of a socket ended or destroyed meanwhile is harmless.
    for (const client of batch) {
      client.corked = false;
      client.socket.uncork();
    }
    batch.length = 0;
  }

  /**
   * The bus's handler: sends `frame` (`{"type":…,"message":…}`) to every socket of every
   * recipient connected here, once per socket even if a recipient is listed twice.
   */
  function deliver(event: MessageEvent, frame: string): void {
    const { recipients } = event;
    let data: Buffer | undefined;
    for (let i = 0; i < recipients.length; i++) {
      const userId = recipients[i] as string;
      if (recipients.indexOf(userId) !== i) continue;
      const set = byUser.get(userId);
      if (!set) continue;
      // Encoded once, and only when a recipient is here: ws frames a Buffer without copying
      // it (server frames are not masked), where a string would be measured and encoded
      // again for every socket.
      data ??= Buffer.from(frame);
      // sendRaw may remove the client it is given from the set, which a Set's iteration
      // allows; no other entry changes meanwhile.
      for (const client of set) sendRaw(client, data, true);
    }
  }

  // --- heartbeat ---------------------------------------------------------------------------

  const heartbeat = setInterval(() => {
    for (const client of [...clients.values()]) {
      if (!client.alive) {
        log.debug({ userId: client.user.id }, 'terminating a ws client that missed a ping');
        forget(client);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }, opts.heartbeatMs);
  // The heartbeat alone must not keep a process alive.
  heartbeat.unref();

  // --- start -------------------------------------------------------------------------------

  server.on('upgrade', onUpgrade);
  // With no socket here, no event can have a recipient here: the bus drops them unparsed.
  const ready = bus.start(deliver, { wanted: () => byUser.size > 0 });
  // Observed here so that a rejection nobody awaits (close before subscribed) is not an
  // unhandled rejection; callers awaiting `ready` still see it.
  ready.catch((err: unknown) => {
    if (!closing) log.error({ err }, 'realtime events subscription failed');
  });

  async function shutdown(): Promise<void> {
    server.off('upgrade', onUpgrade);
    clearInterval(heartbeat);
    const open = [...clients.values()];
    for (const client of open) {
      forget(client);
      client.ws.close(CLOSE_GOING_AWAY, 'Server shutting down');
    }
    // Also those already closing (e.g. too slow): ws alone would give them 30 s.
    const all = [...sockets];
    const closed = all.map(
      (ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())),
    );
    // Frames being handled finish (their sends reach the service, which is still up).
    const drained = Promise.allSettled([...closed, ...open.map((c) => c.queue)]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, opts.closeGraceMs);
    });
    await Promise.race([drained, grace]);
    clearTimeout(timer);
    for (const ws of all) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await bus.close();
    log.debug('realtime server closed');
  }

  return {
    publisher: bus,
    ready,
    connections: () => clients.size,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

const BEARER = { 'WWW-Authenticate': 'Bearer' };

function ignoreSocketError(): void {
  // The socket is destroyed by whoever notices; nothing to report.
}

/** `Authorization: Bearer <token>` wins; `?token=` is for browsers. */
function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    // A malformed header is a refusal, not a reason to look elsewhere.
    return /^Bearer +([^\s]+) *$/i.exec(header)?.[1];
  }
  const query = url.searchParams.get('token');
  return query ? query : undefined;
}

/** Answers a plain HTTP error instead of the 101 and closes the connection. */
function rejectUpgrade(
  socket: Duplex,
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
