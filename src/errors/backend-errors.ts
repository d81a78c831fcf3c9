import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  MaxCommandRedirectionsError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
} from 'redis';
import { AppError, isAppError } from './app-error.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * True when a MongoDB driver error means "the server cannot be reached" (as opposed to a
 * server answer such as a duplicate key): server selection timed out, the connection broke,
 * or the client is closed. These are the errors a write-through send falls back on.
 */
export function isMongoUnavailable(err: unknown): boolean {
  return (
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNetworkError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError
  );
}

/**
 * Redis's answers while a shard fails over, reshards or loads; UNBLOCKED ends a WAIT on a
 * master demoted to replica, READONLY is a write that reached a demoted master.
 */
const CLUSTER_TRANSIENT = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|UNBLOCKED|READONLY)\b/;

/**
 * True when a node-redis error means Redis cannot be reached right now: a connection down
 * or torn down (a cluster client drops a node's connection when the slot map changes), or
 * a cluster failing over.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (
    err instanceof ClientOfflineError ||
    err instanceof ClientClosedError ||
    err instanceof SocketClosedUnexpectedlyError ||
    err instanceof ConnectionTimeoutError ||
    err instanceof SocketTimeoutError ||
    err instanceof DisconnectsClientError ||
    err instanceof RootNodesUnavailableError ||
    err instanceof MaxCommandRedirectionsError ||
    (err instanceof ErrorReply && CLUSTER_TRANSIENT.test(err.message))
  ) {
    return true;
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/**
 * Maps a thrown value to what a client should see: an AppError stays as it is, an
 * unreachable Redis or MongoDB becomes 503 `SERVICE_UNAVAILABLE` (keeping the driver error
 * as `cause` for the log), anything else is returned unchanged (a bug → 500).
 */
export function mapBackendError(err: unknown): unknown {
  if (isAppError(err)) return err;
  if (isMongoUnavailable(err)) {
    return new AppError('SERVICE_UNAVAILABLE', 'MongoDB is unavailable', { cause: err });
  }
  if (isRedisUnavailable(err)) {
    return new AppError('SERVICE_UNAVAILABLE', 'Redis is unavailable', { cause: err });
  }
  return err;
}

/** Runs `fn`, rethrowing backend outages as 503 AppErrors (see {@link mapBackendError}). */
export async function withBackendErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapBackendError(err);
  }
}
