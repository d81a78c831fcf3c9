import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { clusterShards, masterOfSlot, type ClusterShard } from '../../src/local/redis-cluster.js';
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

export type { ClusterShard as Shard } from '../../src/local/redis-cluster.js';

/** The shards as the first node of `cluster` that answers sees them. */
export function shards(cluster: { nodes: Array<{ port: number }> }): Promise<ClusterShard[]> {
  return clusterShards(cluster.nodes.map((n) => n.port));
}

/** The port of the master serving `slot` in `map`. */
export function masterOf(map: ClusterShard[], slot: number): number {
  const master = masterOfSlot(map, slot);
  assert.ok(master !== undefined, `slot ${slot} is served`);
  return master;
}

/** The hash slot of message `id`'s keys (its conversation's partition). */
export function messageSlot(space: KeySpace, id: string): number {
  return keySlot(space.forMessage(id).message(id));
}

/** The hash slot of the keys of the conversation of `a` and `b`. */
export function conversationSlot(space: KeySpace, a: string, b: string): number {
  return keySlot(space.forConversation(a, b).message('x'));
}
