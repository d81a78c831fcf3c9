import Router from '@koa/router';
import type { AuthService } from '../../auth/auth-service.js';

/**
 * `POST /api/auth/signup` → 201 `{ user: { id, username }, token }`;
 * `POST /api/auth/login` → 200, same shape. Both are throttled per username and per client
 * address (`ctx.ip`: the socket's address, or from `X-Forwarded-For` per `TRUST_PROXY_HOPS`).
 */
export function authRoutes(auth: AuthService): Router {
  const router = new Router({ prefix: '/api/auth' });
  router.post('/signup', async (ctx) => {
    ctx.status = 201;
    ctx.body = await auth.signup(ctx.request.body, ctx.ip);
  });
  router.post('/login', async (ctx) => {
    ctx.status = 200;
    ctx.body = await auth.login(ctx.request.body, ctx.ip);
  });
  return router;
}
