import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ObjectId } from 'mongodb';
import { createClient } from 'redis';
import { runCacheCli, type CliIo } from '../../src/cli/cache-cli.js';
import { EXIT } from '../../src/cli/cli-error.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import { dueDeadline, dueEntryCount } from '../helpers/due-index.js';
import { call, signupUser, startTestApi, type TestApi } from '../helpers/api-harness.js';
import { seedMessages } from '../helpers/expiry-fixtures.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

/** Runs the CLI in-process with captured output; `answer` is what confirm() returns. */
async function cli(ctx: TestContext, args: string[], answer = false) {
  const out: string[] = [];
  const err: string[] = [];
  const asked: string[] = [];
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    confirm: async (q) => {
      asked.push(q);
      return answer;
    },
  };
  const code = await runCacheCli(args, { config: ctx.config, logger: ctx.logger, io });
  return { code, out: out.join('\n'), err: err.join('\n'), asked };
}

describe('cache CLI against a real Redis and MongoDB', function () {
  this.timeout(30000);
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let keys: RedisKeys;

  before(async () => {
    ctx = createTestContext('cli');
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    redis = createClient({ url: ctx.config.redis.url }) as RedisNodeClient;
    await redis.connect();
  });
  after(async () => {
    await redis.close();
    await ctx.cleanup();
  });

  it('keys lists cache keys under the prefix with SCAN, paged, and get/del work on them', async () => {
    const sent = await seedMessages(redis, keys, 25, { ttlSeconds: 60, shadow: false });
    const page1 = await cli(ctx, ['keys', 'message:*', '--page-size', '10', '--json']);
    assert.equal(page1.code, EXIT.OK, page1.err);
    const p1 = JSON.parse(page1.out);
    assert.equal(p1.total, 25);
    assert.equal(p1.pages, 3);
    assert.equal(p1.keys.length, 10);
    const page3 = JSON.parse(
      (await cli(ctx, ['keys', 'message:*', '--page-size', '10', '--page', '3', '--json'])).out,
    );
    assert.equal(page3.keys.length, 5);

    const id = sent[0]!.id;
    const got = await cli(ctx, ['get', `message:${id}`, '--json']);
    assert.equal(got.code, EXIT.OK);
    const value = JSON.parse(got.out);
    assert.equal(value.value.id, id);
    assert.ok(value.ttl > 0 && value.ttl <= 60);

    const del = await cli(ctx, ['del', `message:${id}`]);
    assert.equal(del.code, EXIT.OK);
    assert.match(del.out, /Deleted from cache: message:/);
    assert.equal(await redis.exists(keys.message(id)), 0);
    const again = await cli(ctx, ['get', `message:${id}`]);
    assert.equal(again.code, EXIT.NOT_FOUND);
    assert.match(again.err, /no such key/);
  });

  it('get of a message that sits in its cached conversation list shows the message, not the pointer', async () => {
    // Long enough that nothing expires while the test looks at it.
    const api: TestApi = await startTestApi(
      ctx.configWith({ CACHE_TTL_SECONDS: '60' }),
      ctx.logger,
    );
    try {
      const a = await signupUser(api.url, 'get_a');
      const b = await signupUser(api.url, 'get_b');
      const sendOne = async (content: string) =>
        (
          await call(api.url, 'POST', '/api/messages/send', {
            token: a.token,
            body: { receiverId: b.id, content },
          })
        ).body.message as { id: string; content: string };
      const first = await sendOne('first of two');
      // The read caches the conversation list, so the next send is stored in it.
      const read = await call(api.url, 'GET', `/api/messages/${b.id}`, { token: a.token });
      assert.equal(read.status, 200);
      const second = await sendOne('second of two');
      const listKey = keys.conversation(a.id, b.id);
      assert.equal(await redis.get(keys.message(second.id)), `@${listKey}`, 'a pointer');
      const relList = listKey.slice(keys.prefix.length);

      const human = await cli(ctx, ['get', `message:${second.id}`]);
      assert.equal(human.code, EXIT.OK, human.err);
      assert.doesNotMatch(human.out, /"@/);
      assert.equal(
        JSON.parse(human.out.slice(0, human.out.lastIndexOf('\n'))).content,
        'second of two',
      );
      assert.match(human.out, new RegExp(`stored in ${relList}\\)$`));

      const json = JSON.parse((await cli(ctx, ['get', `message:${second.id}`, '--json'])).out);
      assert.deepEqual(json.value, second);
      assert.equal(json.type, 'string');
      assert.equal(json.storedIn, relList);
      assert.ok(json.ttl > 0);

      // The first message was sent before the list existed: its own JSON, no storedIn.
      const plain = JSON.parse((await cli(ctx, ['get', `message:${first.id}`, '--json'])).out);
      assert.deepEqual(plain.value, first);
      assert.equal(plain.storedIn, undefined);

      const list = JSON.parse((await cli(ctx, ['get', relList, '--json'])).out);
      assert.equal(list.type, 'list');
      assert.deepEqual(list.value, [first, second]);

      // The list gone (evicted), the pointer leads nowhere: not found, as the API reads it.
      await redis.unlink(listKey);
      const dangling = await cli(ctx, ['get', `message:${second.id}`]);
      assert.equal(dangling.code, EXIT.NOT_FOUND);
      assert.match(dangling.err, new RegExp(`points into ${relList}`));
      const danglingJson = await cli(ctx, ['get', `message:${second.id}`, '--json']);
      assert.equal(danglingJson.code, EXIT.NOT_FOUND);
      assert.equal(JSON.parse(danglingJson.out).error.exitCode, EXIT.NOT_FOUND);
    } finally {
      await api.close();
    }
  });

  it('refuses bad keys, patterns and commands with exit code 2 and a clear line', async () => {
    for (const args of [
      ['get', 'expiry:due'],
      ['get', 'message: x'],
      ['get', 'message:xyz'],
      ['get', 'message:'],
      ['get', `message:${'AB'.repeat(12)}`],
      ['get', 'messages:abc'],
      ['del', 'message:xyz'],
      ['del'],
      ['keys', 'message:[abc'],
      ['keys', 'message:\\'],
      ['frobnicate'],
      ['warm', '--since', 'yesterday'],
      ['keys', 'message:*', '--page', '0'],
    ]) {
      const r = await cli(ctx, args);
      assert.equal(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.err}`);
      assert.ok(r.err.length > 0);
    }
  });

  it('clear asks first, removes only cache entries, and keeps the daemon records', async () => {
    await seedMessages(redis, keys, 10, { ttlSeconds: 60, shadow: true });
    const dueBefore = await dueEntryCount(redis, keys);
    const shadowsBefore = await redis.hLen(keys.shadow);
    const no = await cli(ctx, ['clear'], false);
    assert.equal(no.code, EXIT.ABORTED);
    assert.equal(no.asked.length, 1);
    assert.ok((await redis.keys(`${keys.prefix}message:*`)).length > 0);

    const yes = await cli(ctx, ['clear', '--yes', '--json']);
    assert.equal(yes.code, EXIT.OK);
    assert.ok(JSON.parse(yes.out).removed >= 10);
    assert.equal((await redis.keys(`${keys.prefix}message:*`)).length, 0);
    assert.equal(await dueEntryCount(redis, keys), dueBefore);
    assert.equal(await redis.hLen(keys.shadow), shadowsBefore);
  });

  it('stats reports keys by kind, memory, backlog and dead letters', async () => {
    const r = await cli(ctx, ['stats', '--json']);
    assert.equal(r.code, EXIT.OK, r.err);
    const s = JSON.parse(r.out);
    assert.equal(typeof s.keys.message, 'number');
    assert.ok(s.memoryBytes > 0);
    assert.equal(s.backlog, await dueEntryCount(redis, keys));
    assert.equal(s.deadLetter, 0);
    const human = await cli(ctx, ['stats']);
    assert.match(human.out, /hit rate/);
    assert.match(human.out, /dead-letter\s+0/);
  });

  it('dead-letter list, retry and drop', async () => {
    const key = keys.message(new ObjectId().toHexString());
    await redis.hSet(
      keys.dead,
      key,
      JSON.stringify({ error: 'boom', attempts: 8, at: Date.now() }),
    );
    const list = JSON.parse((await cli(ctx, ['dead-letter', 'list', '--json'])).out);
    assert.equal(list.deadLetters.length, 1);
    assert.equal(list.deadLetters[0].error, 'boom');
    const rel = list.deadLetters[0].key as string;

    const retry = await cli(ctx, ['dead-letter', 'retry', rel]);
    assert.equal(retry.code, EXIT.OK, retry.err);
    assert.equal(await redis.hLen(keys.dead), 0);
    assert.notEqual(await dueDeadline(redis, keys, key), null);
    assert.equal((await cli(ctx, ['dead-letter', 'retry', rel])).code, EXIT.NOT_FOUND);

    await redis.hSet(
      keys.dead,
      key,
      JSON.stringify({ error: 'boom', attempts: 8, at: Date.now() }),
    );
    assert.equal((await cli(ctx, ['dead-letter', 'drop', rel], false)).code, EXIT.ABORTED);
    const drop = await cli(ctx, ['dead-letter', 'drop', rel, '--yes']);
    assert.equal(drop.code, EXIT.OK, drop.err);
    assert.equal(await redis.hLen(keys.dead), 0);
  });

  it('warm loads recent conversations into the cache', async () => {
    const api: TestApi = await startTestApi(ctx.config, ctx.logger);
    try {
      const a = await signupUser(api.url, 'warm_a');
      const b = await signupUser(api.url, 'warm_b');
      await call(api.url, 'POST', '/api/messages/send', {
        token: a.token,
        body: { receiverId: b.id, content: 'warm me' },
      });
      await redis.unlink(keys.conversation(a.id, b.id));
      const r = await cli(ctx, ['warm', '--since', '1h', '--json']);
      assert.equal(r.code, EXIT.OK, r.err);
      assert.ok(JSON.parse(r.out).warmed >= 1);
      const list = await redis.lRange(keys.conversation(a.id, b.id), 0, -1);
      assert.equal(JSON.parse(list[0]!).content, 'warm me');
      const read = await call(api.url, 'GET', `/api/messages/${b.id}`, { token: a.token });
      assert.equal(read.headers.get('x-cache'), 'HIT');
    } finally {
      await api.close();
    }
  });

  it('says Redis is unreachable with exit code 1 (the real entry point, --json too)', () => {
    const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:9', NODE_ENV: 'test' };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/bin/cache.ts', 'stats'], {
      env,
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /Redis unreachable at redis:\/\/127\.0\.0\.1:9.*redis-cli ping/);
    const j = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/bin/cache.ts', 'stats', '--json'],
      { env, encoding: 'utf8', timeout: 20000 },
    );
    assert.equal(j.status, 1);
    assert.equal(JSON.parse(j.stdout).error.exitCode, 1);
  });
});
