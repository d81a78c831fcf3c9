/**
 * Baseline server of send-write-through, send-write-behind and read-hit: a bare Koa app on
 * the same Redis and MongoDB with no validation, rate limit, idempotency or fan-out —
 * - `POST /send`: one `insertOne` + one `SET message:{id} EX ttl`, answers 201 `{ message }`
 *   (no auth: the write-through baseline as it has always been measured)
 * - `POST /send-behind`: the least a write-behind send can do — the JSON body parsed, the
 *   bearer JWT verified as the API does it (`jose`, HS256, the verified result cached per
 *   token), one `SET message:{id} EX ttl` and one `PUBLISH` in one pipeline, answers 201
 *   `{ message }`
 * - `GET /read/:key`: one Redis `GET`, answers the stored JSON
 * - `GET /find/:conversation?limit=n`: the conversation page's MongoDB find (MessageStore's
 *   own `findConversation`: same filter, sort and limit, on the `messages` collection), answers
 *   `{ messages }`
 * Env: REDIS_URL, MONGODB_URI, MONGODB_DB, PORT, JWT_SECRET (the API's, so its tokens verify).
 */
import { webcrypto } from 'node:crypto';
import http from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { jwtVerify } from 'jose';
import Koa, { type Context } from 'koa';
import { MongoClient, ObjectId } from 'mongodb';
import { createClient } from 'redis';
import { MessageStore } from '../../src/messages/message-store.js';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

/** TTL of the cache entries both send routes write: the API's default CACHE_TTL_SECONDS. */
const TTL_SECONDS = 5;

/**
 * The bearer token's user, verified once per token and then read from a map, as the API's
 * TokenService does (HS256 only, `exp` and `sub` required); undefined when not valid.
 */
function tokenVerifier(secret: string): (ctx: Context) => Promise<string | undefined> {
  // Imported into WebCrypto once, as the API does: given raw bytes, jose imports them per call.
  const key = webcrypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  const verified = new Map<string, { userId: string; expiresAt: number }>();
  return async (ctx) => {
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/i.exec(ctx.req.headers.authorization ?? '');
    const token = match?.[1];
    if (!token) return undefined;
    const hit = verified.get(token);
    if (hit && hit.expiresAt > Date.now()) return hit.userId;
    try {
      const { payload } = await jwtVerify(token, await key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return undefined;
      verified.set(token, { userId: payload.sub, expiresAt: payload.exp * 1000 });
      return payload.sub;
    } catch {
      return undefined;
    }
  };
}

runWorker(async () => {
  const redis = createClient({ url: env('REDIS_URL') });
  await redis.connect();
  const mongo = new MongoClient(env('MONGODB_URI'));
  await mongo.connect();
  const collection = mongo.db(env('MONGODB_DB')).collection('bare_messages');
  const verify = tokenVerifier(env('JWT_SECRET'));

  const router = new Router();
  router.post('/send', async (ctx) => {
    const body = ctx.request.body as { receiverId?: string; content?: string };
    const _id = new ObjectId();
    const doc = { _id, receiverId: body.receiverId, content: body.content, createdAt: new Date() };
    await collection.insertOne(doc);
    const message = {
      id: _id.toHexString(),
      receiverId: doc.receiverId,
      content: doc.content,
      createdAt: doc.createdAt.toISOString(),
    };
    await redis.set(`bare:message:${message.id}`, JSON.stringify(message), {
      expiration: { type: 'EX', value: TTL_SECONDS },
    });
    ctx.status = 201;
    ctx.body = { message };
  });
  router.post('/send-behind', async (ctx) => {
    const senderId = await verify(ctx);
    if (!senderId) {
      ctx.status = 401;
      return;
    }
    const body = ctx.request.body as { receiverId?: string; content?: string };
    const message = {
      id: new ObjectId().toHexString(),
      senderId,
      receiverId: body.receiverId,
      content: body.content,
      createdAt: new Date().toISOString(),
    };
    const json = JSON.stringify(message);
    await redis
      .multi()
      .set(`bare:message:${message.id}`, json, { expiration: { type: 'EX', value: TTL_SECONDS } })
      .publish('bare:events', json)
      .execAsPipeline();
    ctx.status = 201;
    ctx.body = { message };
  });
  const messages = MessageStore.fromDb(mongo.db(env('MONGODB_DB')));
  router.get('/find/:conversation', async (ctx) => {
    const limit = Number(ctx.query.limit ?? 50);
    ctx.body = { messages: await messages.findConversation(ctx.params.conversation ?? '', limit) };
  });
  router.get('/read/:key', async (ctx) => {
    const value = await redis.get(`bare:read:${ctx.params.key}`);
    ctx.type = 'application/json';
    ctx.body = value ?? '{}';
  });
  const app = new Koa();
  app.use(bodyParser());
  app.use(router.routes());
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(Number(env('PORT')), '127.0.0.1', resolve));
  tell({ type: 'ready' });
  await whenParentSays('stop');
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await redis.close();
  await mongo.close();
});
