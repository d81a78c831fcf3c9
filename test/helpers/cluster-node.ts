import { createClient } from 'redis';

/** A plain client of one cluster node (no reconnects: a test wants a dead node to fail). */
export const nodeClient = (port: number) =>
  createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });

/** Runs `fn` with a plain client to the node on `port`, closed afterwards. */
export async function onNode<T>(
  port: number,
  fn: (c: ReturnType<typeof nodeClient>) => Promise<T>,
): Promise<T> {
  const c = nodeClient(port);
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}
