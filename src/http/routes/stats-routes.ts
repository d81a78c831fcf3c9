import Router from '@koa/router';
import type { AuthUser } from '../../auth/token-service.js';
import { readStats } from '../../metrics/shared-stats.js';
import type { KeySpace } from '../../redis/key-space.js';
import type { RedisClient } from '../../redis/redis-client.js';
import { withBackendErrors } from '../../errors/backend-errors.js';
import { requireAuth } from '../middleware/require-auth.js';

/**
 * `GET /api/stats`: the cluster-wide figures of the dashboard, for any signed-in user (they
 * are aggregates; no message or user data). The Prometheus text of a process is not served
 * here but on its own listener (src/metrics/metrics-server.ts), off the public port.
 */
export function statsRoutes(deps: {
  redis: RedisClient;
  space: KeySpace;
  verifyToken: (token: string) => Promise<AuthUser>;
}): Router {
  const router = new Router();
  router.get('/api/stats', requireAuth(deps.verifyToken), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await withBackendErrors(() => readStats(deps.redis, deps.space));
  });
  return router;
}
