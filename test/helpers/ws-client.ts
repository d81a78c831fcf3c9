import WebSocket from 'ws';
import type { ApiServer } from '../../src/app/api-server.js';
import type { TestUser } from './api-harness.js';

export interface Frame {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- frames of many shapes, checked by the tests
  [k: string]: any;
}

/**
 * A ws client of `api` as `user` that keeps every frame it gets and can wait for one;
 * `options` go to ws (e.g. `ca` for a `https://` url, an `origin`).
 */
export async function connectWs(
  api: Pick<ApiServer, 'url'>,
  user: TestUser,
  options: WebSocket.ClientOptions = {},
) {
  const ws = new WebSocket(`${api.url.replace('http', 'ws')}/ws`, {
    ...options,
    headers: { ...options.headers, authorization: `Bearer ${user.token}` },
  });
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    async next(pred: (f: Frame) => boolean, timeoutMs = 1000): Promise<Frame> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = frames.find(pred);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
  };
}
