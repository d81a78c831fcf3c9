import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startApiServer } from '../../src/app/api-server.js';
import { runCacheCli } from '../../src/cli/cache-cli.js';
import { ConfigError } from '../../src/config/config.js';
import { EXIT } from '../../src/cli/cli-error.js';
import { keySlot } from '../../src/redis/key-space.js';
import {
  call,
  inspectRedis,
  signupUser,
  startTestApi,
  type TestApi,
  type TestUser,
} from '../helpers/api-harness.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

type Redis = Awaited<ReturnType<typeof inspectRedis>>;

/** The message contract over REDIS_PARTITIONS=4 on one Redis node: keys land in their partition. */
for (const mode of ['write-through', 'write-behind'] as const) {
  describe(`partitioned keys (REDIS_PARTITIONS=4, ${mode})`, function () {
    let ctx: TestContext;
    let t: TestApi;
    let redis: Redis;
    let users: TestUser[];

    before(async function () {
      ctx = createTestContext(`parts${mode === 'write-through' ? 't' : 'b'}`, {
        REDIS_PARTITIONS: '4',
        PERSISTENCE_MODE: mode,
        CACHE_TTL_SECONDS: '60',
        RATE_LIMIT_SENDS: '1000',
      });
      t = await startTestApi(ctx.config, ctx.logger);
      redis = await inspectRedis(ctx.config);
      users = await Promise.all(Array.from({ length: 8 }, (_, i) => signupUser(t.url, `user${i}`)));
    });

    after(async function () {
      await t?.close();
      await redis?.close();
      await ctx?.cleanup();
    });

    it('writes every conversation into its own partition, and reads it back from the cache', async function () {
      const used = new Set<number>();
      const from = users[0]!;
      for (const to of users.slice(1)) {
        const sent = await call(t.url, 'POST', '/api/messages/send', {
          token: from.token,
          body: { receiverId: to.id, content: `hi ${to.username}` },
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        const id: string = sent.body.message.id;
        const keys = t.space.forConversation(from.id, to.id);
        used.add(t.space.partitionOf(from.id, to.id));
        assert.equal(t.space.forMessage(id), keys, 'the id names its conversation partition');
        assert.equal(await redis.exists(keys.message(id)), 1);
        const slots = new Set(
          [keys.message(id), keys.conversation(from.id, to.id), keys.dueSlots, keys.due].map(
            keySlot,
          ),
        );
        assert.equal(slots.size, 1, 'one hash slot per conversation');
        if (mode === 'write-behind') {
          assert.ok(await redis.hGet(keys.shadow, keys.message(id)), 'shadow in its partition');
        }

        const path = `/api/messages/${from.id}`;
        const miss = await call(t.url, 'GET', path, { token: to.token });
        assert.equal(miss.headers.get('x-cache'), 'MISS', 'a send does not create the list');
        assert.equal(await redis.exists(keys.conversation(from.id, to.id)), 1, 'filled');
        const page = await call(t.url, 'GET', path, { token: to.token });
        assert.equal(page.status, 200);
        assert.equal(page.headers.get('x-cache'), 'HIT');
        assert.deepEqual(
          page.body.messages.map((m: { id: string }) => m.id),
          [id],
        );
        const item = await call(t.url, 'GET', `/api/messages/item/${id}`, { token: to.token });
        assert.equal(item.status, 200);
        assert.equal(item.body.message.id, id);
      }
      assert.ok(used.size >= 2, `7 conversations used ${used.size} of 4 partitions`);
    });

    it('edits and deletes in the message’s partition', async function () {
      const [a, b] = [users[2]!, users[5]!];
      const sent = await call(t.url, 'POST', '/api/messages/send', {
        token: a.token,
        body: { receiverId: b.id, content: 'first' },
      });
      const id: string = sent.body.message.id;
      const edited = await call(t.url, 'PATCH', `/api/messages/item/${id}`, {
        token: a.token,
        body: { content: 'second' },
      });
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      const item = await call(t.url, 'GET', `/api/messages/item/${id}`, { token: b.token });
      assert.equal(item.body.message.content, 'second');
      const keys = t.space.forConversation(a.id, b.id);
      assert.equal(await redis.hGet(keys.shadow, keys.message(id)), null, 'no shadow after edit');
      const deleted = await call(t.url, 'DELETE', `/api/messages/item/${id}`, { token: a.token });
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      const gone = await call(t.url, 'GET', `/api/messages/item/${id}`, { token: b.token });
      assert.equal(gone.status, 404);
    });

    it('the CLI finds, reads and clears entries in every partition by their relative names', async function () {
      const out: string[] = [];
      const cli = async (args: string[]) => {
        out.length = 0;
        const io = { out: (l: string) => out.push(l), err: () => {}, confirm: async () => true };
        return runCacheCli([...args, '--json'], { config: ctx.config, logger: ctx.logger, io });
      };
      assert.equal(await cli(['keys', 'message:*']), EXIT.OK);
      const listed: string[] = JSON.parse(out.join('')).keys;
      assert.ok(listed.length >= 7, listed.join(' '));
      assert.ok(
        listed.every((k) => /^message:[0-9a-f]{24}$/.test(k)),
        listed.join(' '),
      );
      for (const key of listed.slice(0, 3)) {
        assert.equal(await cli(['get', key]), EXIT.OK, key);
        assert.equal(JSON.parse(out.join('')).value.id, key.slice('message:'.length));
      }
      assert.equal(await cli(['clear', '--yes']), EXIT.OK);
      assert.equal(await cli(['keys', 'message*']), EXIT.OK);
      assert.deepEqual(JSON.parse(out.join('')).keys, []);
    });

    it('refuses to run on a Redis laid out in another number of partitions', async function () {
      const other = await startApiServer(ctx.configWith({ REDIS_PARTITIONS: '2' }), ctx.logger, {
        metricsPort: 0,
      });
      try {
        await assert.rejects(other.ready, (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.message,
            /^Invalid configuration: REDIS_PARTITIONS = 2: .* in 4 partition/,
          );
          return true;
        });
      } finally {
        await other.close();
      }
    });

    it("npm start's prepare step refuses another partition count before PM2 starts anything", async function () {
      this.timeout(30000);
      const refused = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'src/bin/prepare-local.ts'],
        {
          env: {
            ...process.env,
            NODE_ENV: 'test',
            REDIS_URL: ctx.config.redis.url,
            REDIS_KEY_PREFIX: ctx.config.redis.keyPrefix,
            MONGODB_URI: ctx.config.mongo.uri,
            REDIS_PARTITIONS: '2',
          },
        },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(refused.code, 78, refused.stderr);
      assert.match(
        refused.stderr.trim(),
        /^Invalid configuration: REDIS_PARTITIONS = 2: .* in 4 partition/,
      );
    });
  });
}
