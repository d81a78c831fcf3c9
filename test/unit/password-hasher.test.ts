import assert from 'node:assert/strict';
import { hashPassword, verifyPassword } from '../../src/auth/password-hasher.js';

describe('password hashing (scrypt)', function () {
  it('stores scrypt$N$r$p$salt$hash with N=16384, r=8, p=1 and a random salt', async function () {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    assert.match(a, /^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.notEqual(a, b, 'a fresh salt each time');
    assert.ok(!a.includes('correct horse'));
  });

  it('verifies the right password and refuses a wrong one', async function () {
    const h = await hashPassword('correct horse');
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horsf', h), false);
    assert.equal(await verifyPassword('', h), false);
  });

  it('treats a malformed stored hash as no match, without throwing', async function () {
    for (const stored of [
      '',
      'plain',
      'scrypt$1$1$1$$',
      'bcrypt$16384$8$1$abc$def',
      'scrypt$x$8$1$abc$def',
    ]) {
      assert.equal(await verifyPassword('anything', stored), false, stored);
    }
  });
});
