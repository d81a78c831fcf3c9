/**
 * Load process of ws-fanout: opens the sockets the parent lists (URL per socket), counts the
 * `message:new` frames they receive, and reports the running count as progress every
 * 100 ms; stops and reports the total when the parent says 'stop'.
 */
import WebSocket from 'ws';
import { runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const urls = await new Promise<string[]>((resolve) => {
    process.once('message', (m: { urls: string[] }) => resolve(m.urls));
    tell({ type: 'ready' });
  });
  let received = 0;
  const sockets: WebSocket[] = [];
  // Open in slices so that the server's upgrade handling (token checks) is not flooded.
  for (let i = 0; i < urls.length; i += 50) {
    const slice = urls.slice(i, i + 50).map(
      (url) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
          ws.on('message', (data: Buffer) => {
            // Cheaper than JSON.parse for every frame, and enough to tell the kind.
            if (data.includes('"message:new"')) received++;
          });
        }),
    );
    sockets.push(...(await Promise.all(slice)));
  }
  tell({ type: 'ready', data: sockets.length });
  const timer = setInterval(() => tell({ type: 'progress', data: received }), 100);
  await whenParentSays('stop');
  clearInterval(timer);
  for (const ws of sockets) ws.terminate();
  tell({ type: 'result', data: { received } });
});
