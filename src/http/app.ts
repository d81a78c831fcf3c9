import Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from '../logging/logger.js';
import { errorHandler } from './middleware/error-handler.js';
import { jsonBody } from './middleware/json-body.js';
import { requestDeadline } from './middleware/request-deadline.js';

export interface HttpAppDeps {
  logger: Logger;
  /** Routers mounted in order. */
  routers: Router[];
  /** Largest JSON body accepted, in bytes. @defaultValue 102400 (100 KiB) */
  bodyLimit?: number;
  /** Middleware run before everything else (e.g. request metrics, which must see final statuses). */
  before?: Koa.Middleware[];
  /** Requests not done by then are answered 503 (see requestDeadline). @defaultValue 10000 */
  requestTimeoutMs?: number;
  /**
   * Reverse proxies in front that each append the address they saw to `X-Forwarded-For`:
   * `ctx.ip` is the entry this many from the right, the address the client-facing proxy saw,
   * whatever a client put into the header; 0 = the socket's address, the header ignored. Above 0,
   * `X-Forwarded-Proto` and `X-Forwarded-Host` are trusted too, as Koa does with `app.proxy`.
   * @defaultValue 0
   */
  trustProxyHops?: number;
}

/** Builds the Koa application (no listening): tests mount it on their own port. */
export function createHttpApp(deps: HttpAppDeps): Koa {
  const app = new Koa();
  const hops = deps.trustProxyHops ?? 0;
  app.proxy = hops > 0;
  // Koa keeps the last maxIpsCount entries and takes the first of them: the address the
  // client-facing proxy saw. Entries a client sent itself lie further left, unread. With
  // fewer entries than hops (a shorter path), the leftmost present is taken.
  app.maxIpsCount = hops;
  // Errors are answered by errorHandler; Koa's own 'error' event would log them again.
  app.silent = true;
  for (const mw of deps.before ?? []) app.use(mw);
  app.use(errorHandler(deps.logger));
  // Every POST / PUT / PATCH body must be application/json (UTF-8) and is parsed as such.
  app.use(jsonBody({ limit: deps.bodyLimit ?? 100 * 1024 }));
  // After the body: a client slow to send it is Node's 408 (RECEIVE_TIMEOUT_MS), not our 503.
  app.use(requestDeadline(deps.requestTimeoutMs ?? 10000));
  for (const router of deps.routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
