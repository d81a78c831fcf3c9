import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { startMongoServer } from '../../src/local/mongo-server.js';
import { freePort, isPortOpen, isRedisAnswering } from '../../src/local/port-probe.js';
import { redisServerArgs, startRedisServer } from '../../src/local/redis-server.js';

describe('local server launcher', function () {
  this.timeout(60000);
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'chat-launch-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('starts redis-server with the project redis.conf, reuses a running one, stops cleanly', async () => {
    const port = await freePort();
    const first = await startRedisServer({ port, dir: tmp(), persistence: false, reuse: true });
    assert.ok(first.process, 'nothing was running, so it started one');
    assert.ok(await isRedisAnswering('127.0.0.1', port));

    const second = await startRedisServer({ port, dir: tmp(), reuse: true });
    assert.equal(second.process, undefined, 'reused the running server');
    await second.stop(); // stopping a reused server leaves it running
    assert.ok(await isRedisAnswering('127.0.0.1', port));

    await first.stop();
    assert.equal(await isPortOpen('127.0.0.1', port), false);
    assert.match(first.process!.deadReason ?? '', /signal SIGTERM|code 0/);
  });

  it('loads notify-keyspace-events and the eviction policy from redis.conf', async () => {
    const port = await freePort();
    const server = await startRedisServer({ port, dir: tmp(), persistence: false });
    const { createClient } = await import('redis');
    const c = createClient({ url: server.url });
    await c.connect();
    try {
      const cfg = (await c.configGet('notify-keyspace-events')) as Record<string, string>;
      assert.match(cfg['notify-keyspace-events'] ?? '', /E/);
      assert.match(cfg['notify-keyspace-events'] ?? '', /x/);
      const policy = (await c.configGet('maxmemory-policy')) as Record<string, string>;
      assert.equal(policy['maxmemory-policy'], 'volatile-lru');
      const aof = (await c.configGet('appendonly')) as Record<string, string>;
      assert.equal(aof.appendonly, 'no', 'tests switch persistence off on the command line');
    } finally {
      await c.close();
      await server.stop();
    }
    assert.deepEqual(redisServerArgs({ port: 1, dir: '/d' }).slice(1), [
      '--port',
      '1',
      '--dir',
      '/d',
    ]);
  });

  it('says how to install redis-server when it is missing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(
        startRedisServer({ port: await freePort(), dir: tmp() }),
        /apt-get install redis-server/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });

  it('starts a MongoDB-protocol server with its data in the given directory, reuses it, stops it', async () => {
    const port = await freePort();
    const dir = tmp();
    const server = await startMongoServer({ port, dataDir: dir, reuse: true });
    assert.notEqual(server.kind, 'reused');
    const client = new MongoClient(server.uri);
    try {
      await client.db('launch').collection('c').insertOne({ x: 1 });
      assert.equal(await client.db('launch').collection('c').countDocuments(), 1);
      const again = await startMongoServer({ port, dataDir: tmp(), reuse: true });
      assert.equal(again.kind, 'reused');
    } finally {
      await client.close();
      await server.stop();
    }
    assert.equal(await isPortOpen('127.0.0.1', port), false);
    // The data survives a restart in the same directory.
    const back = await startMongoServer({ port, dataDir: dir });
    const c2 = new MongoClient(back.uri);
    try {
      assert.equal(await c2.db('launch').collection('c').countDocuments(), 1);
    } finally {
      await c2.close();
      await back.stop();
    }
  });
});
