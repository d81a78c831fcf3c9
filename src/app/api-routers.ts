import type Router from '@koa/router';
import type { AuthService } from '../auth/auth-service.js';
import type { AuthUser } from '../auth/token-service.js';
import type { HealthReport } from '../health/health-check.js';
import type { Readiness } from '../health/readiness.js';
import { authRoutes } from '../http/routes/auth-routes.js';
import { contractRoutes } from '../http/routes/contract-routes.js';
import { docsRoutes } from '../http/routes/docs-routes.js';
import { healthRoutes } from '../http/routes/health-routes.js';
import { messageRoutes } from '../http/routes/message-routes.js';
import { staticRoutes } from '../http/routes/static-routes.js';
import { statsRoutes } from '../http/routes/stats-routes.js';
import { userRoutes } from '../http/routes/user-routes.js';
import type { MessageService } from '../messages/message-service.js';
import type { KeySpace } from '../redis/key-space.js';
import type { RedisClient } from '../redis/redis-client.js';

/** What {@link createApiRouters} needs. */
export interface ApiRoutersDeps {
  messageService: MessageService;
  auth: AuthService;
  verifyToken: (token: string) => Promise<AuthUser>;
  /** The dependency check of `/health`. */
  check: () => Promise<HealthReport>;
  readiness: Readiness;
  redis: RedisClient;
  space: KeySpace;
}

/**
 * The routers of the API, in the order they are mounted. Every route they register is in the
 * contract's route table (src/contract/http-routes.ts): test/unit/openapi-document.test.ts
 * builds them and fails for a route the table does not list, or one it lists that none has.
 *
 * The paths of these routers do not overlap, so their order changes no answer; the
 * message routes come first because every router a request passes reads its host and
 * matches its path (the hot routes then skip the other routers' work).
 */
export function createApiRouters(deps: ApiRoutersDeps): Router[] {
  return [
    messageRoutes(deps.messageService, deps.verifyToken),
    healthRoutes(deps.check, deps.readiness),
    statsRoutes({ redis: deps.redis, space: deps.space, verifyToken: deps.verifyToken }),
    authRoutes(deps.auth),
    userRoutes(deps.auth, deps.verifyToken),
    // The chat page at /, the dashboard at /dashboard and the docs page at /docs.
    staticRoutes(),
    // The docs page's Swagger UI files, from the installed swagger-ui-dist.
    docsRoutes(),
    // GET /openapi.json and /asyncapi.json.
    contractRoutes(),
  ];
}
