/**
 * Baseline server of send-write-through and read-hit: a bare Koa app on the same Redis and
 * MongoDB with no auth, validation, rate limit or fan-out —
 * - `POST /send`: one `insertOne` + one `SET message:{id} EX ttl`, answers 201 `{ message }`
 * - `GET /read/:key`: one Redis `GET`, answers the stored JSON
 * Env: REDIS_URL, MONGODB_URI, MONGODB_DB, PORT.
 */
import http from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { MongoClient, ObjectId } from 'mongodb';
import { createClient } from 'redis';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const redis = createClient({ url: env('REDIS_URL') });
  await redis.connect();
  const mongo = new MongoClient(env('MONGODB_URI'));
  await mongo.connect();
  const collection = mongo.db(env('MONGODB_DB')).collection('bare_messages');

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
      expiration: { type: 'EX', value: 5 },
    });
    ctx.status = 201;
    ctx.body = { message };
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
