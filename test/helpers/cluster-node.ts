import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { keySlot, type KeySpace } from '../../src/redis/key-space.js';

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

/** A slot range, its master and its replicas (ports), as CLUSTER SLOTS says now. */
export interface Shard {
  from: number;
  to: number;
  master: number;
  replicas: number[];
}

/** The shards as the first node of `cluster` that answers sees them. */
export async function shards(cluster: { nodes: Array<{ port: number }> }): Promise<Shard[]> {
  let lastError: unknown;
  for (const node of cluster.nodes) {
    try {
      const slots = await onNode(node.port, (c) => c.clusterSlots());
      return slots.map((s) => ({
        from: s.from,
        to: s.to,
        master: s.master.port,
        replicas: s.replicas.map((r) => r.port),
      }));
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error('no node of the cluster answers', { cause: lastError });
}

/** The port of the master serving `slot` in `map`. */
export function masterOf(map: Shard[], slot: number): number {
  const shard = map.find((s) => slot >= s.from && slot <= s.to);
  assert.ok(shard, `slot ${slot} is served`);
  return shard.master;
}

/** The hash slot of message `id`'s keys (its conversation's partition). */
export function messageSlot(space: KeySpace, id: string): number {
  return keySlot(space.forMessage(id).message(id));
}

/** The hash slot of the keys of the conversation of `a` and `b`. */
export function conversationSlot(space: KeySpace, a: string, b: string): number {
  return keySlot(space.forConversation(a, b).message('x'));
}
