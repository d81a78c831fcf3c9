import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT } from 'jose';
import { createTestContext, TEST_JWT_SECRET, type TestContext } from '../helpers/test-context.js';
import {
  call,
  inspectMongo,
  signupUser,
  startTestApi,
  type TestApi,
} from '../helpers/api-harness.js';

describe('auth API (signup, login, tokens, users)', function () {
  let ctx: TestContext;
  let t: TestApi;
  const key = new TextEncoder().encode(TEST_JWT_SECRET);

  before(async function () {
    ctx = createTestContext('auth');
    t = await startTestApi(ctx.config, ctx.logger);
  });

  after(async function () {
    await t?.close();
    await ctx?.cleanup();
  });

  it('signs up: 201 with the user and a token; the password is stored as a scrypt hash', async function () {
    const res = await call(t.url, 'POST', '/api/auth/signup', {
      body: { username: 'alice_1', password: 'correct horse' },
    });
    assert.equal(res.status, 201);
    assert.match(res.body.user.id, /^[0-9a-f]{24}$/);
    assert.equal(res.body.user.username, 'alice_1');
    assert.equal(typeof res.body.token, 'string');
    assert.deepEqual(Object.keys(res.body).sort(), ['token', 'user']);
    assert.deepEqual(Object.keys(res.body.user).sort(), ['id', 'username']);

    const mongo = await inspectMongo(ctx.config);
    try {
      const doc = await mongo.db.collection('users').findOne({ username: 'alice_1' });
      assert.ok(doc);
      assert.match(String(doc.passwordHash), /^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
      assert.ok(!String(doc.passwordHash).includes('correct horse'));
      const indexes = await mongo.db.collection('users').indexes();
      assert.ok(
        indexes.some((i) => i.unique && i.key.username === 1),
        'unique username index',
      );
    } finally {
      await mongo.close();
    }
  });

  it('refuses a taken username with 409 USERNAME_TAKEN', async function () {
    await signupUser(t.url, 'bob');
    const res = await call(t.url, 'POST', '/api/auth/signup', {
      body: { username: 'bob', password: 'another password' },
    });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'USERNAME_TAKEN');
  });

  const badSignups: Array<[string, unknown, string]> = [
    ['a short username', { username: 'ab', password: 'correct horse' }, 'username'],
    ['a long username', { username: 'a'.repeat(33), password: 'correct horse' }, 'username'],
    ['capitals', { username: 'Alice', password: 'correct horse' }, 'username'],
    ['a short password', { username: 'carol', password: 'short' }, 'password'],
    ['a long password', { username: 'carol', password: 'x'.repeat(129) }, 'password'],
    ['a missing password', { username: 'carol' }, 'password'],
    ['a number as username', { username: 12345, password: 'correct horse' }, 'username'],
    ['an operator object', { username: { $ne: null }, password: 'correct horse' }, 'username'],
    ['an unknown field', { username: 'carol', password: 'correct horse', admin: true }, 'admin'],
    [
      'a constructor key',
      { username: 'carol', password: 'correct horse', constructor: {} },
      'constructor',
    ],
  ];
  for (const [what, body, field] of badSignups) {
    it(`refuses ${what} with 400 VALIDATION_FAILED naming ${field}`, async function () {
      const res = await call(t.url, 'POST', '/api/auth/signup', { body });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.match(res.body.error.message, new RegExp(field));
    });
  }

  it('refuses a __proto__ key, malformed JSON and a body over 100 KiB', async function () {
    const proto = await call(t.url, 'POST', '/api/auth/signup', {
      raw: '{"username":"dave","password":"correct horse","__proto__":{"x":1}}',
    });
    assert.equal(proto.status, 400);
    assert.ok(['BAD_JSON', 'VALIDATION_FAILED'].includes(proto.body.error.code));

    const bad = await call(t.url, 'POST', '/api/auth/login', { raw: '{"username":' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BAD_JSON');

    const big = await call(t.url, 'POST', '/api/auth/signup', {
      body: { username: 'dave', password: 'x'.repeat(110 * 1024) },
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
  });

  it('logs in: 200 with the same shape; the token works', async function () {
    const u = await signupUser(t.url, 'erin');
    const res = await call(t.url, 'POST', '/api/auth/login', {
      body: { username: 'erin', password: 'correct horse' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.user, { id: u.id, username: 'erin' });
    const users = await call(t.url, 'GET', '/api/users', { token: res.body.token });
    assert.equal(users.status, 200);
  });

  it('answers 401 INVALID_CREDENTIALS alike for a wrong password and an unknown user', async function () {
    await signupUser(t.url, 'frank');
    const wrong = await call(t.url, 'POST', '/api/auth/login', {
      body: { username: 'frank', password: 'wrong password' },
    });
    const unknown = await call(t.url, 'POST', '/api/auth/login', {
      body: { username: 'nobody_here', password: 'wrong password' },
    });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.body.error.code, 'INVALID_CREDENTIALS');
    assert.deepEqual(unknown.body, wrong.body);
  });

  it('GET /api/users lists the other users only', async function () {
    const me = await signupUser(t.url, 'grace');
    const res = await call(t.url, 'GET', '/api/users', { token: me.token });
    assert.equal(res.status, 200);
    const names = res.body.users.map((u: { username: string }) => u.username);
    assert.ok(names.includes('bob'));
    assert.ok(!names.includes('grace'));
    for (const u of res.body.users) assert.deepEqual(Object.keys(u).sort(), ['id', 'username']);
  });

  describe('tokens', function () {
    let user: { id: string; username: string };
    before(async function () {
      user = await signupUser(t.url, 'henry');
    });

    async function usersWith(token: string | undefined, scheme = 'Bearer') {
      return call(t.url, 'GET', '/api/users', {
        headers: token === undefined ? {} : { authorization: `${scheme} ${token}` },
      });
    }

    it('rejects a missing header or another scheme with 401 UNAUTHORIZED', async function () {
      for (const res of [await usersWith(undefined), await usersWith('abc', 'Basic')]) {
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'UNAUTHORIZED');
      }
    });

    it('rejects expired, alg=none, other-algorithm and wrong-secret tokens', async function () {
      const expired = await new SignJWT({ username: user.username })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.id)
        .setIssuedAt(Math.floor(Date.now() / 1000) - 90000)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
        .sign(key);
      const none = new UnsecuredJWT({ username: user.username })
        .setSubject(user.id)
        .setExpirationTime('1h')
        .encode();
      const hs512 = await new SignJWT({ username: user.username })
        .setProtectedHeader({ alg: 'HS512' })
        .setSubject(user.id)
        .setExpirationTime('1h')
        .sign(key);
      const otherSecret = await new SignJWT({ username: user.username })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.id)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('another-secret-another-secret-0123456789'));
      const good = await new SignJWT({ username: user.username })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.id)
        .setExpirationTime('1h')
        .sign(key);
      for (const token of [expired, none, hs512, otherSecret, 'garbage.token.here']) {
        const res = await usersWith(token);
        assert.equal(res.status, 401, token);
        assert.equal(res.body.error.code, 'UNAUTHORIZED');
      }
      assert.equal((await usersWith(good)).status, 200);
    });

    it('issues tokens with sub = user id, a username claim and a 24 h expiry', async function () {
      const res = await call(t.url, 'POST', '/api/auth/login', {
        body: { username: 'henry', password: 'correct horse' },
      });
      const payload = JSON.parse(
        Buffer.from(String(res.body.token).split('.')[1] ?? '', 'base64url').toString(),
      ) as { sub: string; username: string; exp: number; iat: number };
      const header = JSON.parse(
        Buffer.from(String(res.body.token).split('.')[0] ?? '', 'base64url').toString(),
      ) as { alg: string };
      assert.equal(header.alg, 'HS256');
      assert.equal(payload.sub, user.id);
      assert.equal(payload.username, 'henry');
      assert.equal(payload.exp - payload.iat, 24 * 3600);
    });
  });
});
