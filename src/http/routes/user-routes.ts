import Router from '@koa/router';
import type { AuthService } from '../../auth/auth-service.js';
import type { AuthUser } from '../../auth/token-service.js';
import { authUser, requireAuth } from '../middleware/require-auth.js';

/** `GET /api/users` (authenticated) → `{ users: [{ id, username }] }`: everyone but the caller. */
export function userRoutes(
  auth: AuthService,
  verifyToken: (token: string) => Promise<AuthUser>,
): Router {
  const router = new Router({ prefix: '/api/users' });
  router.get('/', requireAuth(verifyToken), async (ctx) => {
    ctx.body = { users: await auth.listOtherUsers(authUser(ctx)) };
  });
  return router;
}
