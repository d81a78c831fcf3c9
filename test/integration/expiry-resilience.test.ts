import assert from 'node:assert/strict';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { ExpiryScripts } from '../../src/redis/records/expiry-scripts.js';
import { dueEntryCount } from '../helpers/due-index.js';
import {
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
  useExpiryTestbed,
  warnLineLogger,
} from '../helpers/expiry-fixtures.js';

describe('expiry daemon: nothing lost', function () {
  this.timeout(60000);
  const bed = useExpiryTestbed('expiry-resilience');

  it('processes all 5,000 that expired while the daemon was stopped, after its restart', async () => {
    const { redis, keys } = bed;
    const first = await bed.daemon();
    await first.start();
    await first.stop();
    const sent = await seedMessages(redis, keys, 5000, { ttlSeconds: 1, shadow: true });
    // All of them expire (and their events are published to nobody) while no daemon runs.
    const cacheKeys = sent.map((m) => keys.message(m.id));
    await waitUntil('all 5,000 expired', async () => (await redis.exists(cacheKeys)) === 0, 5000);
    assert.equal(await dueEntryCount(redis, keys), 5000);

    const second = await bed.daemon();
    await second.start();
    await waitUntil('5,000 processed', () => second.stats().processed.total >= 5000, 30000);
    await second.stop();
    assert.deepEqual(second.stats().processed, { event: 0, poll: 5000, total: 5000 });
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
    assert.equal(await bed.messages.countDocuments(), 5000);
  });

  it('misses none when the subscriber connection is killed during expirations', async () => {
    await bed.useOwnRedis([]);
    const { redis, keys } = bed;
    // A long interval: between rounds only the events and the earliest deadline wake it.
    const d = await bed.daemon({ pollIntervalMs: 20000 });
    await d.start();
    await waitUntil('first round', () => d.stats().rounds >= 1, 5000);
    // Six waves of 500, due 250 ms apart.
    const start = Date.now() + 1000;
    const sent: Array<{ id: string }> = [];
    for (let wave = 0; wave < 6; wave++) {
      const atMs = start + wave * 250;
      sent.push(...(await seedMessages(redis, keys, 500, { atMs, shadow: false })));
    }
    // Mid-stream: the first waves are processed, the last ones are still to come.
    await waitUntil('the first two waves', () => d.stats().processed.total >= 1000, 10000);
    const killed = await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    assert.ok(Number(killed) >= 1, 'the subscriber connection was killed');
    assert.ok(d.stats().processed.total < 3000, 'killed before the last wave');
    await waitUntil('3,000 processed', () => d.stats().processed.total >= 3000, 30000);
    await d.stop();
    const s = d.stats();
    assert.equal(s.processed.total, 3000);
    assert.ok(s.processed.poll > 0, 'the reconnect or the deadline poll took over');
    assert.equal(await redis.exists(sent.slice(0, 100).map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
  });

  it('merges E and x into notifications, and processes all by the poll once they are switched off', async () => {
    await bed.useOwnRedis(['--notify-keyspace-events', 'K$']);
    const { redis, keys } = bed;
    const d = await bed.daemon({ pollIntervalMs: 200 });
    await d.start();
    assert.equal(d.stats().notifications, 'enabled');
    const flags = (await redis.configGet('notify-keyspace-events'))['notify-keyspace-events'] ?? '';
    assert.deepEqual([...flags].sort(), ['$', 'E', 'K', 'x']);
    await redis.configSet('notify-keyspace-events', '');
    const sent = await seedMessages(redis, keys, 1000, { ttlSeconds: 1, shadow: false });
    await waitUntil('1,000 processed', () => d.stats().processed.total >= 1000, 20000);
    await d.stop();
    assert.deepEqual(d.stats().processed, { event: 0, poll: 1000, total: 1000 });
    assert.equal(await redis.exists(sent.map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
  });

  it('warns once and runs on the poll alone where CONFIG is refused', async () => {
    await bed.useOwnRedis(['--rename-command', 'CONFIG', '', '--notify-keyspace-events', '']);
    const { redis, keys } = bed;
    const lines: string[] = [];
    const logger = warnLineLogger(lines);
    /** Redis's id of the daemon's subscription connection, once it subscribed. */
    const subscriberId = async () => {
      const list = String(await redis.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub']));
      return /^id=(\d+) .*name=expiry-subscriber /m.exec(list)?.[1];
    };
    const d = await bed.daemon({ pollIntervalMs: 200 }, logger);
    await d.start();
    assert.equal(d.stats().notifications, 'unavailable');
    const sent = await seedMessages(redis, keys, 1000, { ttlSeconds: 1, shadow: false });
    // A reconnect checks the configuration again (when the subscription is back), without a
    // second warning.
    const killed = await subscriberId();
    assert.ok(killed);
    await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await waitUntil(
      'the subscription back',
      async () => ![undefined, killed].includes(await subscriberId()),
      10000,
    );
    await waitUntil('1,000 processed', () => d.stats().processed.total >= 1000, 20000);
    // The check's reply comes before those of stop() on the same connection: its warning,
    // if any, is logged by then.
    await d.stop();
    assert.deepEqual(d.stats().processed, { event: 0, poll: 1000, total: 1000 });
    assert.equal(await redis.exists(sent.map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(lines.filter((l) => l.includes('CONFIG refused')).length, 1);
  });

  it('takes back the expired lease of a daemon that died mid-processing', async () => {
    const { redis, keys } = bed;
    const sent = await seedMessages(redis, keys, 20, { ttlSeconds: 1, shadow: true });
    // A daemon claimed them (the claim script itself, with leases of 1 s) and died before
    // it acked.
    const scripts = new ExpiryScripts(redis, keys);
    await waitUntil('the 20 due', async () => (await scripts.peek()).due === 20, 5000);
    const claim = await scripts.claimDue(1000, 100);
    assert.equal(claim.entries.length, 20);
    assert.equal(await redis.zCard(keys.inflight), 20);

    const d = await bed.daemon({ pollIntervalMs: 200 });
    await d.start();
    await waitUntil('20 processed', () => d.stats().processed.total >= 20, 10000);
    await d.stop();
    assert.deepEqual(d.stats().processed, { event: 0, poll: 20, total: 20 });
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
    assert.equal(await bed.messages.countDocuments(), 20);
  });
});
