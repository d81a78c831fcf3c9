import assert from 'node:assert/strict';
import { call, signupUser, startTestApi, type TestApi } from '../helpers/api-harness.js';
import { createTestContext, TEST_JWT_SECRET, type TestContext } from '../helpers/test-context.js';

/**
 * Rotating JWT_SECRET (README, *Rotating the JWT secret*): an API given the old secret as
 * JWT_PREVIOUS_SECRET still accepts the tokens it signed and signs new ones with the new
 * secret. The APIs share one database and key prefix, as instances of one deployment do.
 */

const OLD_SECRET = TEST_JWT_SECRET;
const NEW_SECRET = 'rotated-secret-rotated-secret-rotated-0123456789';

describe('JWT secret rotation (JWT_PREVIOUS_SECRET)', function () {
  let ctx: TestContext;
  /** JWT_SECRET = old: before the rotation. */
  let before_: TestApi;
  /** JWT_SECRET = new, JWT_PREVIOUS_SECRET = old: during it. */
  let during: TestApi;
  /** JWT_SECRET = new alone: after it. */
  let after_: TestApi;

  before(async function () {
    ctx = createTestContext('jwt_rotation');
    assert.equal(ctx.config.auth.jwtSecret, OLD_SECRET);
    before_ = await startTestApi(ctx.config, ctx.logger);
    during = await startTestApi(
      ctx.configWith({ JWT_SECRET: NEW_SECRET, JWT_PREVIOUS_SECRET: OLD_SECRET }),
      ctx.logger,
    );
    after_ = await startTestApi(ctx.configWith({ JWT_SECRET: NEW_SECRET }), ctx.logger);
  });

  after(async function () {
    for (const t of [before_, during, after_]) await t?.close();
    await ctx?.cleanup();
  });

  /** The status (and error code) of `GET /api/users` with `token` on `t`. */
  async function listUsers(t: TestApi, token: string): Promise<string> {
    const res = await call(t.url, 'GET', '/api/users', { token });
    return res.status === 200 ? '200' : `${res.status} ${res.body?.error?.code}`;
  }

  it('accepts a token signed with the previous secret, and refuses it once that secret is gone', async function () {
    const { token } = await signupUser(before_.url, 'rotation_old');
    assert.equal(await listUsers(before_, token), '200');
    assert.equal(await listUsers(during, token), '200');
    assert.equal(await listUsers(during, token), '200', 'again (cached)');
    assert.equal(await listUsers(after_, token), '401 UNAUTHORIZED');
  });

  it('signs new tokens with the current secret only', async function () {
    const { token } = await signupUser(during.url, 'rotation_new');
    assert.equal(await listUsers(during, token), '200');
    assert.equal(await listUsers(after_, token), '200');
    // An instance not yet given the new secret does not know it.
    assert.equal(await listUsers(before_, token), '401 UNAUTHORIZED');
  });

  it('still refuses a forged token during a rotation', async function () {
    const { token } = await signupUser(before_.url, 'rotation_forged');
    const forged = `${token.slice(0, -2)}${token.endsWith('A') ? 'BB' : 'AA'}`;
    assert.equal(await listUsers(during, forged), '401 UNAUTHORIZED');
  });
});
