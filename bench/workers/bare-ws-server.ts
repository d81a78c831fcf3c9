/**
 * Baseline server of ws-fanout and ws-10k: a bare `ws` server with no auth, Redis or MongoDB.
 * Sockets say who they are in `?user=`; `POST /send { senderId, receiverId, content }`, or a
 * `{ "type": "message:send", receiverId, content }` frame from a socket, builds the same
 * `message:new` frame the API sends and writes it to every socket of the receiver and of the
 * sender; the POST is answered 201, the frame by a `message:ack` to its socket.
 * With HEARTBEAT_MS, pings every socket at that interval and terminates those that missed the
 * previous ping, as the API does.
 * Env: PORT, HEARTBEAT_MS (optional).
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
      const message = deliver(input.senderId, input.receiverId, input.content);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ message }));
    });
  });

  function deliver(senderId: string, receiverId: string, content: string) {
    const message = {
      id: new ObjectId().toHexString(),
      senderId,
      receiverId,
      content,
      imageUrl: null,
      publicId: null,
      createdAt: new Date().toISOString(),
    };
    const frame = JSON.stringify({ type: 'message:new', message });
    for (const user of [receiverId, senderId]) {
      for (const ws of byUser.get(user) ?? []) ws.send(frame);
    }
    return message;
  }

  const wss = new WebSocketServer({ server, path: '/ws' });
  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (ws, req) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
    const set = byUser.get(user) ?? new Set<WebSocket>();
    set.add(ws);
    byUser.set(user, set);
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as {
        type?: string;
        receiverId: string;
        content: string;
      };
      if (frame.type !== 'message:send') return;
      const message = deliver(user, frame.receiverId, frame.content);
      ws.send(JSON.stringify({ type: 'message:ack', message, persisted: false }));
    });
    ws.on('close', () => set.delete(ws));
  });
  const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 0);
  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const ws of wss.clients) {
            if (!alive.has(ws)) {
              ws.terminate();
              continue;
            }
            alive.delete(ws);
            ws.ping();
          }
        }, heartbeatMs)
      : undefined;
  await new Promise<void>((resolve) => server.listen(Number(env('PORT')), '127.0.0.1', resolve));
  tell({ type: 'ready' });
  await whenParentSays('stop');
  clearInterval(heartbeat);
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
