import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { LuaScript } from '../../src/redis/lua-script.js';

describe('LuaScript.load', function () {
  const names = readdirSync(new URL('../../src/redis/scripts/', import.meta.url))
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length));

  it('pastes every `--!include lib/…` line, in every script', function () {
    assert.ok(names.length > 10, `found ${names.length} scripts`);
    for (const name of names) {
      const script = LuaScript.load(name);
      assert.ok(!script.source.includes('--!include'), `${name}: an include was left`);
    }
    const rateLimit = LuaScript.load('rate-limit-1').source;
    assert.match(rateLimit, /local function countSend\(/);
    assert.match(LuaScript.load('send-message-7').source, /local function countSend\(/);
  });
});
