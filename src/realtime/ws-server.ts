import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { CLOSE_GOING_AWAY } from '../contract/ws-frames.js';
import type { EventPublisher } from '../messages/message-events.js';
import { ClientSender } from './client-sender.js';
import { ConnectionRegistry, type Client } from './connection-registry.js';
import { FrameHandler } from './frame-handler.js';
import { Heartbeat } from './heartbeat.js';
import {
  resolveRealtimeOptions,
  type AuthenticatedUser,
  type RealtimeServerOptions,
} from './realtime-options.js';
import { RedisEventBus } from './redis-event-bus.js';
import { createUpgradeListener } from './upgrade-gate.js';

export type { ServerFrame } from './client-sender.js';
export type { AuthenticatedUser, RealtimeServerOptions, SendMessage } from './realtime-options.js';

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

/**
 * Attaches the ws endpoint (`/ws` by default) to an existing HTTP server, composed of: the
 * upgrade gate (path, Origin, token and the user's slot, checked before the handshake), the
 * connection registry, the frame handler (`message:send` through the injected
 * `sendMessage`, so REST and ws share validation and rate limiting; `ping`), the sender (the
 * bus's events to every socket of every recipient here) and the heartbeat.
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
    // The registry tracks sockets per user; a second Set in ws would be redundant.
    clientTracking: false,
  });
  const registry = new ConnectionRegistry(opts.maxConnectionsPerUser);
  const sender = new ClientSender(registry, opts.maxBufferedBytes, log);
  const frames = new FrameHandler(sender, opts.sendMessage, opts.maxQueuedFrames, log);
  const heartbeat = new Heartbeat(registry, opts.heartbeatMs, log);
  let closing: Promise<void> | undefined;

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
    registry.add(client);
    log.debug({ userId: user.id, connections: registry.size }, 'ws connected');

    heartbeat.watch(client);
    ws.on('message', (data, isBinary) => frames.enqueue(client, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // Protocol errors (e.g. a frame over maxPayload: 1009) are followed by a close; the
      // client caused them, so they are not server errors.
      log.debug({ userId: user.id, err: err.message, code: err.code }, 'ws client error');
    });
    ws.on('close', (code) => {
      registry.closed(client);
      log.debug({ userId: user.id, code, connections: registry.size }, 'ws closed');
    });
  }

  const onUpgrade = createUpgradeListener({
    opts,
    log,
    isClosing: () => closing !== undefined,
    takeSlot: (userId, socket) => registry.takeSlot(userId, socket),
    accept: (req, socket, head, user) =>
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket, user)),
  });
  server.on('upgrade', onUpgrade);
  // With no socket here, no event can have a recipient here: the bus drops them unparsed.
  const ready = bus.start((event, frame) => sender.deliver(event, frame), {
    wanted: () => registry.anyone(),
  });
  // Observed here so that a rejection nobody awaits (close before subscribed) is not an
  // unhandled rejection; callers awaiting `ready` still see it.
  ready.catch((err: unknown) => {
    if (!closing) log.error({ err }, 'realtime events subscription failed');
  });

  async function shutdown(): Promise<void> {
    server.off('upgrade', onUpgrade);
    heartbeat.stop();
    const open = registry.receivers();
    for (const client of open) {
      registry.forget(client);
      client.ws.close(CLOSE_GOING_AWAY, 'Server shutting down');
    }
    // Also those already closing (e.g. too slow): ws alone would give them 30 s.
    const all = registry.sockets();
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
    connections: () => registry.size,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
