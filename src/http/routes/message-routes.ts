import Router from '@koa/router';
import type { AuthUser } from '../../auth/token-service.js';
import { messageJson } from '../../messages/message.js';
import type { MessageService } from '../../messages/message-service.js';
import { authUser, requireAuth } from '../middleware/require-auth.js';

const MESSAGES_OPEN = Buffer.from('{"messages":');
/**
 * What `ctx.type = 'application/json'` sets, set directly: Koa's type setter looks the type
 * up (mime-types) on every request.
 */
const JSON_TYPE = 'application/json; charset=utf-8';
const MESSAGES_CLOSE = Buffer.from('}');

/**
 * The message API; every route requires a bearer token (checked before anything else, so
 * an anonymous caller learns nothing, not even about malformed ids):
 * - `POST   /api/messages/send`              → 201 (202 when accepted while MongoDB is down,
 *                                              200 for an idempotent retry) `{ message, persisted }`
 * - `GET    /api/messages/item/:messageId`   → 200 `{ message }`
 * - `PATCH  /api/messages/item/:messageId`   → 200 `{ message }`
 * - `DELETE /api/messages/item/:messageId`   → 204
 * - `GET    /api/messages/:receiverId`       → 200 `{ messages }`, `X-Cache: HIT|MISS`
 */
export function messageRoutes(
  messages: MessageService,
  verifyToken: (token: string) => Promise<AuthUser>,
): Router {
  const router = new Router({ prefix: '/api/messages' });
  // On each route rather than `router.use(auth)`: the router matches every layer's path and
  // composes the matched layers' middleware on every request, and a use-layer adds a match
  // and two functions to each chain. Auth still runs first, and only for a matched route.
  const auth = requireAuth(verifyToken);

  router.post('/send', auth, async (ctx) => {
    // Read as `ctx.get('Idempotency-Key')` did, without its per-request lower-casing and
    // computed lookup (Node joins a repeated header into one string: never an array here).
    const header = ctx.req.headers['idempotency-key'];
    const result = await messages.send(authUser(ctx).id, ctx.request.body, {
      idempotencyKey: typeof header === 'string' && header !== '' ? header : undefined,
    });
    ctx.status = result.status;
    // The message's JSON is already made (for Redis and the ws frame): reuse it.
    ctx.set('Content-Type', JSON_TYPE);
    ctx.body = `{"message":${messageJson(result.message)},"persisted":${result.persisted}}`;
  });

  router.get('/item/:messageId', auth, async (ctx) => {
    ctx.body = { message: await messages.getMessage(authUser(ctx).id, ctx.params.messageId ?? '') };
  });

  router.patch('/item/:messageId', auth, async (ctx) => {
    ctx.body = {
      message: await messages.editMessage(
        authUser(ctx).id,
        ctx.params.messageId ?? '',
        ctx.request.body,
      ),
    };
  });

  router.delete('/item/:messageId', auth, async (ctx) => {
    await messages.deleteMessage(authUser(ctx).id, ctx.params.messageId ?? '');
    ctx.status = 204;
  });

  router.get('/:receiverId', auth, async (ctx) => {
    const page = await messages.listConversation(
      authUser(ctx).id,
      ctx.params.receiverId ?? '',
      ctx.query,
    );
    ctx.set('X-Cache', page.cache);
    // The page is JSON already (a hit is the cached strings as Redis sent them).
    ctx.set('Content-Type', JSON_TYPE);
    ctx.body = Buffer.concat([MESSAGES_OPEN, ...page.json, MESSAGES_CLOSE]);
  });

  return router;
}
