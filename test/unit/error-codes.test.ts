import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors/error-codes.js';

describe('error codes', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  for (const [code, def] of Object.entries(ERROR_CODES)) {
    it(`${code} is documented in README.md with its status ${def.status}`, () => {
      assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${def.status} \\|`));
    });
  }

  it('codes are UPPER_SNAKE_CASE and statuses are 4xx/5xx', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^[A-Z][A-Z_]+$/);
      assert.ok(def.status >= 400 && def.status < 600);
    }
  });
});
