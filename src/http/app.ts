import Koa from 'koa';
import type Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Logger } from '../logging/logger.js';
import { errorHandler } from './middleware/error-handler.js';
import { requestDeadline } from './middleware/request-deadline.js';

export interface HttpAppDeps {
  logger: Logger;
  /** Routers mounted in order. */
  routers: Router[];
  /** Largest JSON body accepted. @defaultValue '100kb' */
  bodyLimit?: string;
  /** Middleware run before everything else (e.g. request metrics, which must see final statuses). */
  before?: Koa.Middleware[];
  /** Requests not done by then are answered 503 (see requestDeadline). @defaultValue 10000 */
  requestTimeoutMs?: number;
}

/** Builds the Koa application (no listening): tests mount it on their own port. */
export function createHttpApp(deps: HttpAppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  // Errors are answered by errorHandler; Koa's own 'error' event would log them again.
  app.silent = true;
  for (const mw of deps.before ?? []) app.use(mw);
  app.use(errorHandler(deps.logger));
  app.use(requestDeadline(deps.requestTimeoutMs ?? 10000));
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: deps.bodyLimit ?? '100kb',
      jsonStrict: true,
      // Parse JSON whatever the declared type; non-JSON content is a 400 with BAD_JSON.
      detectJSON: () => true,
    }),
  );
  for (const router of deps.routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
