import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { createClient, createCluster, type RedisClusterOptions } from 'redis';
import { ClusterKeyeventSubscriber } from '../../src/expiry/cluster-keyevent-subscriber.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { startThrowawayCluster, type ThrowawayCluster } from '../helpers/servers.js';
import { warnLineLogger } from '../helpers/expiry-fixtures.js';

const nodeClient = (port: number) =>
  createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
type NodeClient = ReturnType<typeof nodeClient>;

/** Quick reconnects, so that a test follows a failover without waiting on backoff. */
const NODE_DEFAULTS = {
  pingInterval: 1000,
  socket: {
    connectTimeout: 1000,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500),
  },
} satisfies RedisClusterOptions['defaults'];

/** This node's line of CLUSTER NODES: its id, flags and master id. */
function myself(nodes: string): { id: string; flags: string[]; master: string } {
  const line = nodes.split('\n').find((l) => l.split(' ')[2]?.includes('myself')) ?? '';
  const [id = '', , flags = '', master = ''] = line.split(' ');
  return { id, flags: flags.split(','), master };
}

const hasExpiredEvents = (flags: string) => flags.includes('E') && /[xA]/.test(flags);

describe('cluster keyevent subscriber', function () {
  this.timeout(120000);

  let cluster: ThrowawayCluster;
  /** Plain connections to each node, by port. */
  const nodes = new Map<number, NodeClient>();
  let expiring = 0;
  /** Stopped and closed after each test. */
  const running: Array<{ sub: ClusterKeyeventSubscriber; client: { destroy(): void } }> = [];

  const node = (port: number) => {
    const client = nodes.get(port);
    if (!client) throw new Error(`no connection to node ${port}`);
    return client;
  };
  const notifyFlags = async (port: number) =>
    (await node(port).configGet('notify-keyspace-events'))['notify-keyspace-events'] ?? '';

  /** `count` fresh keys served by the master on `port`, each with its own hash tag. */
  async function keysOn(port: number, count: number): Promise<string[]> {
    const id = myself(await node(port).sendCommand<string>(['CLUSTER', 'NODES'])).id;
    const ranges = (await node(port).clusterSlots())
      .filter((s) => s.master.id === id)
      .map((s) => [s.from, s.to] as const);
    const keys: string[] = [];
    while (keys.length < count) {
      const key = `ck:{${randomBytes(4).toString('hex')}}:entry`;
      const slot = Number(await node(port).sendCommand(['CLUSTER', 'KEYSLOT', key]));
      if (ranges.some(([from, to]) => slot >= from && slot <= to)) keys.push(key);
    }
    return keys;
  }

  /** Sets keys on the master on `port` that expire in 100 ms. */
  async function expireOn(port: number, count: number): Promise<string[]> {
    const keys = await keysOn(port, count);
    for (const key of keys) await node(port).set(key, `v${expiring++}`, { PX: 100 });
    return keys;
  }

  /** How many connections named `name` each node has, by port (0 for a node that is down). */
  async function connectionsNamed(name: string): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    for (const { port } of cluster.nodes) {
      const client = nodes.get(port);
      if (!client?.isReady) {
        counts.set(port, 0);
        continue;
      }
      const list = await client.sendCommand<string>(['CLIENT', 'LIST']);
      counts.set(port, list.split('\n').filter((l) => l.includes(` name=${name} `)).length);
    }
    return counts;
  }

  /** A cluster client, its subscriber (named uniquely) and what the subscriber reported. */
  async function subscriber(
    opts: { credentials?: { username: string; password: string }; logger?: Logger } = {},
  ) {
    const defaults = { ...NODE_DEFAULTS, ...opts.credentials };
    const client = createCluster({
      rootNodes: [{ url: `redis://${cluster.seeds.split(',')[0]}`, ...opts.credentials }],
      defaults,
    });
    client.on('error', () => {});
    await client.connect();
    const expired = new Set<string>();
    const seen = { reconnects: 0 };
    const name = `ck-sub-${randomBytes(3).toString('hex')}`;
    const sub = new ClusterKeyeventSubscriber({
      cluster: client,
      logger: opts.logger ?? pino({ level: 'silent' }),
      nodeOptions: defaults,
      name,
      onExpired: (key) => expired.add(key),
      onReconnect: () => seen.reconnects++,
    });
    running.push({ sub, client });
    await sub.start();
    return { sub, client, expired, seen, name };
  }

  before(async () => {
    cluster = await startThrowawayCluster();
    for (const { port } of cluster.nodes) {
      const client = nodeClient(port);
      client.on('error', () => {});
      await client.connect();
      nodes.set(port, client);
    }
  });

  afterEach(async () => {
    for (const { sub, client } of running.splice(0)) {
      await sub.stop();
      client.destroy();
    }
  });

  after(async () => {
    for (const client of nodes.values()) if (client.isOpen) client.destroy();
    await cluster?.dispose();
  });

  it('hears the expirations of every master', async () => {
    const { sub, expired, seen, name } = await subscriber();
    assert.equal(sub.notifications, 'on');
    const masters = await cluster.masters();
    assert.equal(masters.length, 3);
    const counts = await connectionsNamed(name);
    for (const { port } of cluster.nodes) {
      const isMaster = masters.some((m) => m.port === port);
      assert.equal(counts.get(port), isMaster ? 1 : 0, `subscriber connections on ${port}`);
    }

    const keys = (await Promise.all(masters.map((m) => expireOn(m.port, 5)))).flat();
    await waitUntil('every expiration heard', () => keys.every((k) => expired.has(k)), 10000);
    assert.equal(seen.reconnects, 0);
  });

  it('turns notifications back on on a master where they were switched off', async () => {
    const { sub, expired } = await subscriber();
    const [master] = await cluster.masters();
    assert.ok(master);
    await node(master.port).configSet('notify-keyspace-events', '');
    await waitUntil(
      'notifications back on',
      async () => hasExpiredEvents(await notifyFlags(master.port)),
      10000,
    );
    await waitUntil('reported as enabled', () => sub.notifications === 'enabled', 5000);
    const keys = await expireOn(master.port, 5);
    await waitUntil('its expirations heard', () => keys.every((k) => expired.has(k)), 10000);
  });

  it('stop() unsubscribes and closes every connection it opened, once or twice', async () => {
    const { sub, name } = await subscriber();
    const before = await connectionsNamed(name);
    assert.equal(
      [...before.values()].reduce((a, b) => a + b, 0),
      3,
    );
    await sub.stop();
    await sub.stop();
    await waitUntil(
      'no subscriber connection on any node',
      async () => [...(await connectionsNamed(name)).values()].every((n) => n === 0),
      5000,
    );
  });

  it('warns once and carries on where CONFIG is refused', async () => {
    const credentials = { username: 'noconfig', password: 'noconfig-secret' };
    for (const client of nodes.values()) {
      await client.sendCommand([
        'ACL',
        'SETUSER',
        credentials.username,
        'on',
        `>${credentials.password}`,
        '~*',
        '&*',
        '+@all',
        '-config',
      ]);
    }
    const lines: string[] = [];
    const logger = warnLineLogger(lines);
    try {
      const { sub, expired } = await subscriber({ credentials, logger });
      assert.equal(sub.notifications, 'unavailable');
      const masters = await cluster.masters();
      const keys = (await Promise.all(masters.map((m) => expireOn(m.port, 3)))).flat();
      await waitUntil('every expiration heard', () => keys.every((k) => expired.has(k)), 10000);
      await sub.stop();
      assert.equal(lines.filter((l) => l.includes('CONFIG refused')).length, 1);
    } finally {
      for (const client of nodes.values()) {
        await client.sendCommand(['ACL', 'DELUSER', credentials.username]);
      }
    }
  });

  // Last: the cluster stays failed over.
  it('follows a failover: the promoted replica is configured and subscribed', async () => {
    const { sub, expired, seen, name } = await subscriber();
    const [victim] = await cluster.masters();
    assert.ok(victim);
    const victimId = myself(await node(victim.port).sendCommand<string>(['CLUSTER', 'NODES'])).id;
    let heir: number | undefined;
    for (const { port } of cluster.nodes) {
      if (myself(await node(port).sendCommand<string>(['CLUSTER', 'NODES'])).master === victimId) {
        heir = port;
      }
    }
    assert.ok(heir !== undefined, 'the victim has a replica');
    // A replica promoted by a failover keeps its own (here: empty) notification flags.
    await node(heir).configSet('notify-keyspace-events', '');

    await cluster.killNode(victim.port);
    node(victim.port).destroy();
    await waitUntil(
      `replica ${heir} promoted`,
      async () => (await cluster.masters()).some((m) => m.port === heir),
      20000,
      100,
    );
    await waitUntil(
      'notifications on on the promoted replica',
      async () => hasExpiredEvents(await notifyFlags(heir)),
      10000,
      100,
    );
    await waitUntil('a poll asked for', () => seen.reconnects > 0, 10000);
    const keys = await expireOn(heir, 5);
    await waitUntil('its expirations heard', () => keys.every((k) => expired.has(k)), 10000);

    // One subscription per current master, none on replicas.
    const masters = await cluster.masters();
    await waitUntil(
      'subscribed to the three masters only',
      async () => {
        const counts = await connectionsNamed(name);
        return cluster.nodes.every(
          ({ port }) => counts.get(port) === (masters.some((m) => m.port === port) ? 1 : 0),
        );
      },
      10000,
    );
    assert.notEqual(sub.notifications, 'unavailable');
    await sub.stop();
    await waitUntil(
      'no subscriber connection on any node',
      async () => [...(await connectionsNamed(name)).values()].every((n) => n === 0),
      5000,
    );
  });
});
