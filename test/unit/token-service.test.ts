import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { TokenService } from '../../src/auth/token-service.js';
import { AppError } from '../../src/errors/app-error.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123';
const USER = { id: '0123456789abcdef01234567', username: 'ann' };

describe('TokenService', () => {
  it('verifies its own tokens, again and again (cached), and refuses a forged one', async () => {
    const tokens = new TokenService({ secret: SECRET });
    const token = await tokens.issueToken(USER);
    assert.deepEqual(await tokens.verifyToken(token), USER);
    assert.deepEqual(await tokens.verifyToken(token), USER);
    const forged = `${token.slice(0, -2)}${token.endsWith('A') ? 'BB' : 'AA'}`;
    await assert.rejects(tokens.verifyToken(forged), (e) => e instanceof AppError);
    const other = new TokenService({ secret: `${SECRET}-other` });
    await assert.rejects(other.verifyToken(token), (e) => e instanceof AppError);
  });

  it('refuses a correctly signed token without exp (it would never expire)', async () => {
    const tokens = new TokenService({ secret: SECRET });
    const noExp = await new SignJWT({ username: USER.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(USER.id)
      .setIssuedAt()
      .sign(new TextEncoder().encode(SECRET));
    await assert.rejects(
      tokens.verifyToken(noExp),
      (e) => e instanceof AppError && e.code === 'UNAUTHORIZED',
    );
    // Refused again: nothing about it was cached.
    await assert.rejects(tokens.verifyToken(noExp), (e) => e instanceof AppError);
  });

  describe('during a secret rotation (previousSecret)', () => {
    const PREVIOUS = 'previous-secret-previous-secret-0123';

    it('accepts a token signed with the previous secret', async () => {
      const old = await new TokenService({ secret: PREVIOUS }).issueToken(USER);
      const rotated = new TokenService({ secret: SECRET, previousSecret: PREVIOUS });
      assert.deepEqual(await rotated.verifyToken(old), USER);
      assert.deepEqual(await rotated.verifyToken(old), USER); // cached
    });

    it('refuses it without the previous secret', async () => {
      const old = await new TokenService({ secret: PREVIOUS }).issueToken(USER);
      await assert.rejects(
        new TokenService({ secret: SECRET }).verifyToken(old),
        (e) => e instanceof AppError && e.code === 'UNAUTHORIZED',
      );
    });

    it('signs new tokens with the current secret only', async () => {
      const rotated = new TokenService({ secret: SECRET, previousSecret: PREVIOUS });
      const fresh = await rotated.issueToken(USER);
      assert.deepEqual(await new TokenService({ secret: SECRET }).verifyToken(fresh), USER);
      await assert.rejects(
        new TokenService({ secret: PREVIOUS }).verifyToken(fresh),
        (e) => e instanceof AppError && e.code === 'UNAUTHORIZED',
      );
    });

    it('refuses a token of a third secret, and an expired one of the previous as expired', async () => {
      const rotated = new TokenService({ secret: SECRET, previousSecret: PREVIOUS });
      const third = await new TokenService({ secret: `${SECRET}-third` }).issueToken(USER);
      await assert.rejects(rotated.verifyToken(third), /not valid/);
      const expired = await new SignJWT({ username: USER.username })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(USER.id)
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
        .sign(new TextEncoder().encode(PREVIOUS));
      await assert.rejects(rotated.verifyToken(expired), /expired/);
    });

    it('refuses a previous secret under 32 characters', () => {
      assert.throws(() => new TokenService({ secret: SECRET, previousSecret: 'short' }), TypeError);
    });
  });

  it('stops accepting a cached token once it has expired', async () => {
    let skewMs = 0;
    const tokens = new TokenService({
      secret: SECRET,
      expiresIn: '1s',
      now: () => Date.now() + skewMs,
    });
    const token = await tokens.issueToken(USER);
    assert.deepEqual(await tokens.verifyToken(token), USER); // now cached
    skewMs = 2100; // past `exp`, without waiting for it
    await assert.rejects(tokens.verifyToken(token), /expired/);
  });
});
