import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONTRACT_TYPES_FILE, generateContractTypes } from '../../scripts/generate-client-types.js';

describe('the typed client’s contract types (client/contract.gen.ts)', function () {
  this.timeout(60000);

  it('are what openapi-typescript makes of the OpenAPI document now', async function () {
    const committed = readFileSync(CONTRACT_TYPES_FILE, 'utf8');
    const fresh = await generateContractTypes();
    // Not a deepEqual of 2,000 lines: the first line that differs says enough.
    const a = committed.split('\n');
    const b = fresh.split('\n');
    let at = 0;
    while (at < Math.max(a.length, b.length) && a[at] === b[at]) at++;
    assert.ok(
      committed === fresh,
      `client/contract.gen.ts is out of date with src/contract/ (line ${at + 1}: ${JSON.stringify(a[at])} should be ${JSON.stringify(b[at])}): run npm run contract:types`,
    );
  });
});
