import Router from '@koa/router';
import type { HealthReport } from '../../health/health-check.js';

/** `GET /health`: 200 when Redis and MongoDB answer, 503 naming the one that does not. */
export function healthRoutes(check: () => Promise<HealthReport>): Router {
  const router = new Router();
  router.get('/health', async (ctx) => {
    const report = await check();
    ctx.status = report.status === 'ok' ? 200 : 503;
    ctx.body = report;
  });
  return router;
}
