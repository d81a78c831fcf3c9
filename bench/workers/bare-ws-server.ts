/**
 * Baseline server of ws-fanout: a bare `ws` server with no auth, Redis or MongoDB. Sockets
 * say who they are in `?user=`; `POST /send { senderId, receiverId, content }` builds the
 * same `message:new` frame the API sends and writes it to every socket of the receiver and
 * of the sender, then answers 201.
 * Env: PORT.
 */
import http from 'node:http';
import { ObjectId } from 'mongodb';
import { WebSocketServer, type WebSocket } from 'ws';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const byUser = new Map<string, Set<WebSocket>>();
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/send') {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const input = JSON.parse(body) as { senderId: string; receiverId: string; content: string };
      const message = {
        id: new ObjectId().toHexString(),
        senderId: input.senderId,
        receiverId: input.receiverId,
        content: input.content,
        imageUrl: null,
        publicId: null,
        createdAt: new Date().toISOString(),
      };
      const frame = JSON.stringify({ type: 'message:new', message });
      for (const user of [input.receiverId, input.senderId]) {
        for (const ws of byUser.get(user) ?? []) ws.send(frame);
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ message }));
    });
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws, req) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
    const set = byUser.get(user) ?? new Set<WebSocket>();
    set.add(ws);
    byUser.set(user, set);
    ws.on('close', () => set.delete(ws));
  });
  await new Promise<void>((resolve) => server.listen(Number(env('PORT')), '127.0.0.1', resolve));
  tell({ type: 'ready' });
  await whenParentSays('stop');
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
