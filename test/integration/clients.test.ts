import assert from 'node:assert/strict';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMongoClient, connectMongoWithRetry } from '../../src/mongo/mongo-client.js';
import { createRedisNodeClient } from '../../src/redis/redis-client.js';
import { loadConfig } from '../../src/config/config.js';
import { startThrowawayMongo, startThrowawayRedis } from '../helpers/servers.js';

const logger = createLogger({ level: 'silent', name: 'test' });

describe('client factories against real servers', function () {
  this.timeout(60000);

  it('the Redis client connects, and reconnects by itself after the server restarts', async () => {
    const server = await startThrowawayRedis({ persistence: true });
    const config = loadConfig({ REDIS_URL: server.url, REDIS_DB: '3' });
    const client = createRedisNodeClient(config.redis, logger, { name: 'test' });
    try {
      await client.connect();
      await client.set('k', 'v');
      assert.equal(await client.get('k'), 'v');
      assert.equal(Number((await client.sendCommand(['CLIENT', 'INFO'])) !== null), 1);

      await server.process!.stop();
      await waitUntil('the client to see the server gone', () => !client.isReady, 5000, 100);
      const again = await server.restart();
      try {
        await waitUntil(
          'the client to reconnect',
          async () => client.isReady && (await client.ping().catch(() => '')) === 'PONG',
          20000,
          100,
        );
        // Same database after the reconnect, and the data survived (AOF on).
        assert.equal(await client.get('k'), 'v');
      } finally {
        await client.close().catch(() => {});
        await again.dispose();
      }
    } finally {
      client.destroy();
    }
  });

  it('a fail-fast Redis client rejects commands at once while the server is down', async () => {
    const server = await startThrowawayRedis();
    const config = loadConfig({ REDIS_URL: server.url });
    const client = createRedisNodeClient(config.redis, logger, {
      name: 'ff',
      failFastWhenDown: true,
    });
    await client.connect();
    await server.dispose();
    await waitUntil('the client to see the server gone', () => !client.isReady, 5000, 100);
    const start = Date.now();
    await assert.rejects(client.get('x'));
    assert.ok(Date.now() - start < 1000);
    client.destroy();
  });

  it('the Redis client authenticates with the password from REDIS_URL, and says so when it is missing', async () => {
    const server = await startThrowawayRedis({ extraArgs: ['--requirepass', 's3cret'] });
    try {
      const port = new URL(server.url).port;
      const good = createRedisNodeClient(
        loadConfig({ REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` }).redis,
        logger,
        { name: 'auth' },
      );
      await good.connect();
      assert.equal(await good.ping(), 'PONG');
      await good.close();

      const lines: string[] = [];
      const capture = createLogger({ level: 'error', name: 't' });
      capture.error = ((obj: unknown, msg?: string) => {
        lines.push(`${JSON.stringify(obj)} ${msg ?? ''}`);
      }) as typeof capture.error;
      const bad = createRedisNodeClient(
        loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}` }).redis,
        capture,
        { name: 'noauth' },
      );
      const connecting = bad.connect().catch(() => {});
      await waitUntil('an authentication error in the log', () => lines.length > 0, 10000, 100);
      assert.match(lines[0]!, /NOAUTH|Authentication required|WRONGPASS/i);
      assert.match(lines[0]!, /REDIS_PASSWORD/);
      bad.destroy();
      await connecting;
    } finally {
      await server.dispose();
    }
  });

  it('the MongoDB client connects, and works again after the server restarts', async () => {
    const server = await startThrowawayMongo();
    const config = loadConfig({ MONGODB_URI: server.uri, MONGODB_DB: 'clients' });
    const client = createMongoClient(config.mongo, logger, { appName: 'test' });
    try {
      await connectMongoWithRetry(client, config.mongo, logger);
      await client.db('clients').collection('c').insertOne({ a: 1 });
      await server.process!.stop();
      await assert.rejects(client.db('clients').collection('c').findOne({ a: 1 }));
      const again = await server.restart();
      try {
        await waitUntil(
          'MongoDB to answer again',
          async () =>
            (
              await client
                .db('clients')
                .collection('c')
                .findOne({ a: 1 })
                .catch(() => null)
            )?.a === 1,
          20000,
          100,
        );
      } finally {
        await client.close();
        await again.dispose();
      }
    } catch (err) {
      await client.close().catch(() => {});
      await server.dispose();
      throw err;
    }
  });
});
