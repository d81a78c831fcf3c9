import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { expandIncludes, LuaScript, type ScriptRunner } from '../../src/redis/lua-script.js';

/** An include reader over in-memory files. */
const filesOf =
  (files: Record<string, string>) =>
  (file: string): string | undefined =>
    files[file];

/** Where each marker first stands in `text` (-1: absent), and how often it stands there. */
const place = (text: string, marker: string) => ({
  at: text.indexOf(marker),
  times: text.split(marker).length - 1,
});

describe('LuaScript', function () {
  const names = readdirSync(new URL('../../src/redis/scripts/', import.meta.url))
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length));

  it('pastes every include of every script, each library once', function () {
    assert.ok(names.length > 10, `found ${names.length} scripts`);
    for (const name of names) {
      const { source } = LuaScript.load(name);
      assert.ok(!source.includes('--!include'), `${name}: an include was left`);
      for (const [, fn] of source.matchAll(/^local function (\w+)/gm)) {
        assert.equal(place(source, `local function ${fn}(`).times, 1, `${name}: ${fn} twice`);
      }
    }
    // due-slots.lua includes chunked-call.lua itself: scripts that include only due-slots
    // get callChunked (slotClaim calls it), before due-slots' code.
    const nack = LuaScript.load('expiry-nack-4').source;
    assert.ok(place(nack, 'local function callChunked(').at >= 0);
    assert.ok(
      place(nack, 'local function callChunked(').at < place(nack, 'local function slotClaim(').at,
    );
    assert.match(LuaScript.load('rate-limit-1').source, /local function countSend\(/);
    assert.match(LuaScript.load('send-message-8').source, /local function countSend\(/);
  });

  it('expands nested includes depth first, each file once, dependencies before their callers', function () {
    const read = filesOf({
      'lib/a.lua': '--!include lib/b.lua\n--!include lib/c.lua\n-- A\n',
      'lib/b.lua': '--!include lib/c.lua\n-- B\n',
      'lib/c.lua': '-- C\n',
    });
    const out = expandIncludes(
      's-1.lua',
      '--!include lib/a.lua\n--!include lib/c.lua\n-- S\n',
      read,
    );
    const order = ['-- C', '-- B', '-- A', '-- S'];
    assert.deepEqual(
      order.map((m) => place(out, m).times),
      [1, 1, 1, 1],
    );
    const at = order.map((m) => place(out, m).at);
    assert.deepEqual(
      [...at].sort((x, y) => x - y),
      at,
      out,
    );
  });

  it('refuses a missing include, naming it and the files that included it', function () {
    const read = filesOf({ 'lib/a.lua': '--!include lib/gone.lua\n' });
    assert.throws(() => expandIncludes('s-1.lua', '--!include lib/a.lua\n', read), {
      message: 'Lua include not found: lib/gone.lua (included by s-1.lua → lib/a.lua)',
    });
    assert.throws(() => LuaScript.inline('inline-test', '--!include lib/nope.lua\nreturn 1'), {
      message: 'Lua include not found: lib/nope.lua (included by inline-test)',
    });
    assert.throws(() => LuaScript.load('no-such-script-1'), /no Lua script no-such-script-1\.lua/);
  });

  it('refuses an include cycle and a malformed include line', function () {
    const read = filesOf({
      'lib/a.lua': '--!include lib/b.lua\n',
      'lib/b.lua': '--!include lib/a.lua\n',
    });
    assert.throws(() => expandIncludes('s-1.lua', '--!include lib/a.lua\n', read), {
      message: 'Lua include cycle: s-1.lua → lib/a.lua → lib/b.lua → lib/a.lua',
    });
    assert.throws(
      () => expandIncludes('s-1.lua', '--!include ../keys.lua\n', read),
      /s-1\.lua: "--!include \.\.\/keys\.lua" is not of the form --!include lib\/<file>\.lua/,
    );
  });

  it('runs a script only with the number of keys its name states', async function () {
    const unreachable: ScriptRunner = {
      evalSha: () => Promise.reject(new Error('not to be called')),
      eval: () => Promise.reject(new Error('not to be called')),
    };
    const script = LuaScript.load('read-cache-1');
    assert.equal(script.keyCount, 1);
    await assert.rejects(script.run(unreachable, ['a', 'b'], []), {
      name: 'TypeError',
      message: 'read-cache-1 takes 1 keys, given 2',
    });
    assert.equal(LuaScript.inline('inline-test', 'return 1').keyCount, undefined);
  });
});
