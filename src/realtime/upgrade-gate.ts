import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientMessage, isAppError } from '../errors/app-error.js';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';
import type { Logger } from '../logging/logger.js';
import type { AuthenticatedUser, ResolvedRealtimeOptions } from './realtime-options.js';

/** What {@link createUpgradeListener} needs. */
export interface UpgradeGateOptions {
  opts: Pick<
    ResolvedRealtimeOptions,
    'server' | 'path' | 'verifyToken' | 'allowedOrigins' | 'maxConnectionsPerUser'
  >;
  log: Logger;
  /** True once the realtime server is closing: upgrades are refused with 503. */
  isClosing: () => boolean;
  /** Reserves one of the user's connection slots until `socket` closes; false when none is free. */
  takeSlot: (userId: string, socket: Duplex) => boolean;
  /** Completes the WebSocket handshake of an upgrade that passed every check. */
  accept: (req: IncomingMessage, socket: Duplex, head: Buffer, user: AuthenticatedUser) => void;
}

/**
 * The server's `upgrade` listener. In this order: the path (404, or silence when another
 * listener may own it), shutdown (503), the `Origin` (403), the token (401, or the verifier's
 * own 5xx), shutdown again, the user's slot (429 `TOO_MANY_CONNECTIONS`), then `accept`.
 * A refusal is a plain HTTP response with the `{ "error": { code, message } }` body.
 */
export function createUpgradeListener(
  gate: UpgradeGateOptions,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { opts, log } = gate;
  const anyOrigin = opts.allowedOrigins[0] === '*';
  const allowedOrigins = new Set(opts.allowedOrigins);
  /** Sockets handed to ws: no HTTP answer may be written to them any more. */
  const upgraded = new WeakSet<Duplex>();

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== opts.path) {
      // Another module may handle other paths on the same server; answer only when none does.
      if (opts.server.listenerCount('upgrade') > 1) {
        socket.off('error', ignoreSocketError);
        return;
      }
      rejectUpgrade(socket, 404, 'NOT_FOUND', 'No WebSocket endpoint at this path');
      return;
    }
    if (gate.isClosing()) {
      rejectUpgrade(socket, 503, 'SERVICE_UNAVAILABLE', 'The server is shutting down');
      return;
    }
    if (!originAllowed(req.headers.origin, req.headers.host, anyOrigin, allowedOrigins)) {
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
        rejectUpgrade(socket, err.status, err.code, clientMessage(err));
      } else {
        // Only the reason's code: neither the token nor a message that might quote it.
        const reason = (err as { code?: unknown })?.code ?? (err as Error)?.name;
        log.debug({ reason }, 'ws upgrade refused: invalid token');
        rejectUpgrade(socket, 401, 'UNAUTHORIZED', 'The token is invalid or expired', BEARER);
      }
      return;
    }
    if (socket.destroyed) return;
    if (gate.isClosing()) {
      rejectUpgrade(socket, 503, 'SERVICE_UNAVAILABLE', 'The server is shutting down');
      return;
    }
    if (!gate.takeSlot(user.id, socket)) {
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
    gate.accept(req, socket, head, user);
  }

  return (req, socket, head) => {
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
}

const BEARER = { 'WWW-Authenticate': 'Bearer' };

function ignoreSocketError(): void {
  // The socket is destroyed by whoever notices; nothing to report.
}

/**
 * A browser's page may connect from the server's own origin (`Host` under http or https) or
 * a listed one; clients that send no `Origin` are not browsers, which the check protects.
 */
function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  anyOrigin: boolean,
  allowed: ReadonlySet<string>,
): boolean {
  if (origin === undefined || anyOrigin) return true;
  const wanted = origin.toLowerCase();
  if (allowed.has(wanted)) return true;
  if (host === undefined) return false;
  return ['http', 'https'].some((scheme) => {
    const own = `${scheme}://${host}`;
    // Through URL, so that a default port in Host (`:443`) matches the origin without it.
    return URL.canParse(own) && new URL(own).origin === wanted;
  });
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
