import Router from '@koa/router';
import type { AuthUser } from '../../auth/token-service.js';
import type { ApiMetrics } from '../../metrics/api-metrics.js';
import { readStats } from '../../metrics/shared-stats.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { RedisClient } from '../../redis/redis-client.js';
import { withBackendErrors } from '../../errors/backend-errors.js';
import { requireAuth } from '../middleware/require-auth.js';

/**
 * `GET /metrics`: Prometheus text of this API process (scrape every process: in PM2 cluster
 * mode each has its own registry).
 * `GET /api/stats`: the cluster-wide figures of the dashboard, for any signed-in user (they
 * are aggregates; no message or user data).
 */
export function metricsRoutes(deps: {
  metrics: ApiMetrics;
  redis: RedisClient;
  keys: RedisKeys;
  verifyToken: (token: string) => Promise<AuthUser>;
}): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  router.get('/api/stats', requireAuth(deps.verifyToken), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await withBackendErrors(() => readStats(deps.redis, deps.keys));
  });
  return router;
}
