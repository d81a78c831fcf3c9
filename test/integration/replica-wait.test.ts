import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { isAppError } from '../../src/errors/app-error.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { ReplicaWait } from '../../src/redis/replica-wait.js';
import {
  call,
  signupUser,
  startTestApi,
  type TestApi,
  type TestUser,
} from '../helpers/api-harness.js';
import { sharedServers, startThrowawayRedis, type ThrowawayRedis } from '../helpers/servers.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

/** REDIS_WAIT_REPLICAS=1 against a real master and replica: no acknowledgement it could lose. */
describe('a write-behind send waits for a replica (REDIS_WAIT_REPLICAS=1)', function () {
  this.timeout(60000);
  let master: ThrowawayRedis;
  let replica: ThrowawayRedis;
  let ctx: TestContext;
  let t: TestApi;
  let alice: TestUser;
  let bob: TestUser;

  const linkUp = async (r: ThrowawayRedis) => {
    const c = createClient({ url: r.url });
    c.on('error', () => {});
    await c.connect();
    try {
      return /master_link_status:up/.test(await c.info('replication'));
    } finally {
      c.destroy();
    }
  };
  const startReplica = async (port?: number, dir?: string) => {
    const r = await startThrowawayRedis({
      port,
      dir,
      extraArgs: ['--replicaof', '127.0.0.1', String(master.port)],
    });
    await waitUntil('the replica to sync', () => linkUp(r), 10000);
    return r;
  };
  const send = (content: string, key: string) =>
    call(t.url, 'POST', '/api/messages/send', {
      token: alice.token,
      headers: { 'idempotency-key': key },
      body: { receiverId: bob.id, content },
    });

  before(async function () {
    master = await startThrowawayRedis();
    replica = await startReplica();
    ctx = createTestContext(
      'rwait',
      {
        PERSISTENCE_MODE: 'write-behind',
        REDIS_WAIT_REPLICAS: '1',
        REDIS_WAIT_TIMEOUT_MS: '300',
        RATE_LIMIT_SENDS: '1000',
      },
      { redisUrl: master.url, mongoUri: sharedServers().mongoUri },
    );
    t = await startTestApi(ctx.config, ctx.logger);
    [alice, bob] = await Promise.all([signupUser(t.url, 'rw_alice'), signupUser(t.url, 'rw_bob')]);
  });

  after(async function () {
    await t?.close();
    await ctx?.cleanup();
    await replica?.dispose();
    await master?.dispose();
  });

  it('acknowledges a send once the replica has its shadow', async function () {
    const sent = await send('replicated', 'k1');
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const keys = t.space.forMessage(sent.body.message.id);
    const onReplica = createClient({ url: replica.url });
    await onReplica.connect();
    try {
      // Read at once, no wait: WAIT returned only after the replica acknowledged it.
      const shadow = await onReplica.hGet(keys.shadow, keys.message(sent.body.message.id));
      assert.ok(shadow, 'the shadow is on the replica when the send is acknowledged');
    } finally {
      onReplica.destroy();
    }
  });

  it('concurrent sends share their WAITs', async function () {
    const stats = createClient({ url: master.url });
    await stats.connect();
    try {
      const waits = async () =>
        Number(/cmdstat_wait:calls=(\d+)/.exec(await stats.info('commandstats'))?.[1] ?? 0);
      const before = await waits();
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => send(`together ${i}`, `c${i}`)),
      );
      assert.ok(answers.every((a) => a.status === 201));
      const used = (await waits()) - before;
      assert.ok(used >= 1 && used < 40, `${used} WAITs for 40 sends`);
    } finally {
      stats.destroy();
    }
  });

  it('answers 503 NOT_REPLICATED without the replica, and the retry with the same key gets the message once it is back', async function () {
    const port = replica.port;
    const dir = replica.dir;
    await replica.stop();
    const refused = await send('unconfirmed', 'k2');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'NOT_REPLICATED');

    const again = await send('unconfirmed', 'k2');
    assert.equal(again.status, 503, 'still no replica: still not confirmed');
    assert.equal(again.body.error.code, 'NOT_REPLICATED');

    // A waiting send blocks its own connection only: reads go on meanwhile.
    const slow = await startTestApi(ctx.configWith({ REDIS_WAIT_TIMEOUT_MS: '5000' }), ctx.logger);
    const inspect = createClient({ url: master.url });
    await inspect.connect();
    try {
      const waiting = call(slow.url, 'POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: bob.id, content: 'slow' },
      });
      const blocked = async () =>
        (await inspect.clientList()).some((c) => c.name === 'api-durable' && c.cmd === 'wait');
      await waitUntil('the send to wait for a replica', blocked, 4000, 20);
      const read = await call(slow.url, 'GET', `/api/messages/${bob.id}`, { token: alice.token });
      assert.equal(read.status, 200);
      assert.ok(await blocked(), 'the read was answered while the send still waited');
      assert.equal((await waiting).status, 503);
    } finally {
      inspect.destroy();
      await slow.close();
    }

    replica = await startReplica(port, dir);
    const retried = await send('unconfirmed', 'k2');
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.message.content, 'unconfirmed');
    const page = await call(t.url, 'GET', `/api/messages/${bob.id}`, { token: alice.token });
    const copies = page.body.messages.filter(
      (m: { content: string }) => m.content === 'unconfirmed',
    );
    assert.equal(copies.length, 1, 'stored once');
  });
});

describe('ReplicaWait on a node that is a replica', function () {
  this.timeout(30000);

  it('answers NOT_REPLICATED (a demoted master cannot confirm), not the WAIT error', async () => {
    const master = await startThrowawayRedis();
    const replica = await startThrowawayRedis({
      extraArgs: ['--replicaof', '127.0.0.1', String(master.port)],
    });
    const client = createClient({ url: replica.url });
    client.on('error', () => {});
    try {
      await client.connect();
      const wait = new ReplicaWait(client, 1, 100);
      await assert.rejects(wait.after('k'), (err: unknown) => {
        assert.ok(isAppError(err), String(err));
        assert.equal(err.code, 'NOT_REPLICATED');
        return true;
      });
    } finally {
      client.destroy();
      await replica.dispose();
      await master.dispose();
    }
  });
});
