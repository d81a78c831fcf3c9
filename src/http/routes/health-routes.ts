import Router from '@koa/router';
import type { HealthReport } from '../../health/health-check.js';
import { isReady, type Readiness } from '../../health/readiness.js';

/**
 * The probes:
 * - `GET /health`: the full dependency report (dashboards, alerts): 200 when Redis and
 *   MongoDB answer, 503 naming the one that does not.
 * - `GET /health/live`: 200 whenever the process serves HTTP; checks nothing else.
 * - `GET /health/ready`: 200 when this instance accepts sends (`degraded` naming MongoDB
 *   when only it is down), 503 without Redis or once shutdown has begun.
 */
export function healthRoutes(check: () => Promise<HealthReport>, readiness: Readiness): Router {
  const router = new Router();
  router.get('/health', async (ctx) => {
    const report = await check();
    ctx.status = report.status === 'ok' ? 200 : 503;
    ctx.body = report;
  });
  router.get('/health/live', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/health/ready', async (ctx) => {
    const report = await readiness.report();
    ctx.status = isReady(report) ? 200 : 503;
    ctx.body = report;
  });
  return router;
}
