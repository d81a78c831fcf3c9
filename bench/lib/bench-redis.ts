import { createClient } from 'redis';

/** A connected node-redis client for the bench's own writes (close it when done). */
export async function redisClientFor(url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}
