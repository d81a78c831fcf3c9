import type { Context, Next } from 'koa';
import type { AuthUser } from '../../auth/token-service.js';
import { AppError } from '../../errors/app-error.js';

/** What {@link requireAuth} leaves in `ctx.state`. */
export interface AuthState {
  user: AuthUser;
}

/**
 * Requires `Authorization: Bearer <token>`; puts the verified user in `ctx.state.user`.
 * Anything else (no header, another scheme, a forged or expired token, one without `exp` or
 * of a user that does not exist: whatever `verifyToken` refuses) is 401 `UNAUTHORIZED`.
 */
export function requireAuth(verifyToken: (token: string) => Promise<AuthUser>) {
  return async function authenticate(ctx: Context, next: Next): Promise<void> {
    // `ctx.get('Authorization')` lower-cases the name and looks it up by a computed key on
    // every request; Node's header names are lower case already.
    const header = ctx.req.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/i.exec(header.trim());
    if (!match?.[1]) {
      throw new AppError('UNAUTHORIZED', 'Send Authorization: Bearer <token>');
    }
    (ctx.state as AuthState).user = await verifyToken(match[1]);
    await next();
  };
}

/** The user {@link requireAuth} verified. */
export function authUser(ctx: Context): AuthUser {
  const user = (ctx.state as Partial<AuthState>).user;
  if (!user) throw new AppError('UNAUTHORIZED');
  return user;
}
