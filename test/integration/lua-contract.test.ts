import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { LuaScript } from '../../src/redis/lua-script.js';
import { createRedisNodeClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import {
  calledFunctions,
  definedFunctions,
  documentedKeys,
  keysRead,
  luaCode,
  readsScriptInput,
} from '../helpers/lua-source.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

const SCRIPTS_DIR = new URL('../../src/redis/scripts/', import.meta.url);
const LIB_DIR = new URL('lib/', SCRIPTS_DIR);
const luaFiles = (dir: URL) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort();

/** Lua's global functions on the test's Redis (its sandbox: the base library, no `require`). */
const GLOBALS_SCRIPT = `local names = {}
for name, value in pairs(_G) do
  if type(value) == 'function' then names[#names + 1] = name end
end
return names`;

/** What is wrong with a script's loaded source against its name and header (empty: nothing). */
function contractErrors(name: string, raw: string, loaded: string, globals: Set<string>): string[] {
  const errors: string[] = [];
  const count = /-(\d+)$/.exec(name)?.[1];
  const code = luaCode(loaded);
  const { indexes, dynamic } = keysRead(code);
  if (count === undefined) errors.push('the name does not end in its number of KEYS');
  if (dynamic) errors.push('KEYS is read other than as KEYS[<number>]');
  const highest = Math.max(0, ...indexes);
  if (count !== undefined && highest !== Number(count)) {
    errors.push(`the name says ${count} KEYS, the source reads up to KEYS[${highest}]`);
  }
  const documented = [...new Set(documentedKeys(raw))].sort((a, b) => a - b);
  const expected = Array.from({ length: highest }, (_, i) => i + 1);
  if (documented.join() !== expected.join()) {
    errors.push(`the header documents KEYS [${documented.join()}], not [${expected.join()}]`);
  }
  const defined = definedFunctions(code);
  for (const { name: fn, at } of calledFunctions(code)) {
    const definedAt = defined.get(fn);
    if (definedAt === undefined && !globals.has(fn)) {
      errors.push(`calls ${fn}(), defined nowhere`);
    } else if (definedAt !== undefined && definedAt > at) {
      errors.push(`calls ${fn}() before it is defined`);
    }
  }
  return errors;
}

/**
 * The contract of every script in src/redis/scripts (the directory is listed, so a new
 * script is covered too), on the test's real Redis: it compiles; its name ends in the
 * number of KEYS it reads, which its header documents; every function it calls is defined
 * in it (its includes pasted) before the call, or is one of Redis's Lua globals. And no
 * library reads KEYS or ARGV: it takes its keys as parameters.
 */
describe('Lua script contracts (every file in src/redis/scripts, real Redis)', function () {
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let globals: Set<string>;

  before(async function () {
    ctx = createTestContext('luacontract');
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test' });
    await redis.connect();
    const names = await redis.eval(GLOBALS_SCRIPT, { keys: [], arguments: [] });
    assert.ok(Array.isArray(names));
    globals = new Set(names.map(String));
    assert.ok(globals.has('tonumber') && !globals.has('callChunked'), [...globals].join());
  });

  after(async function () {
    await redis?.close();
    await ctx?.cleanup();
  });

  const scripts = luaFiles(SCRIPTS_DIR);

  it('finds the scripts', function () {
    assert.ok(scripts.length >= 15, `found ${scripts.join(', ')}`);
  });

  for (const file of scripts) {
    const name = file.slice(0, -'.lua'.length);
    describe(file, function () {
      it('compiles (SCRIPT LOAD), with the SHA-1 EVALSHA uses', async function () {
        const script = LuaScript.load(name);
        assert.equal(await redis.scriptLoad(script.source), script.sha1);
      });

      it('states its KEYS in its name and header, and calls only functions it has', function () {
        const raw = readFileSync(new URL(file, SCRIPTS_DIR), 'utf8');
        const errors = contractErrors(name, raw, LuaScript.load(name).source, globals);
        assert.deepEqual(errors, []);
      });
    });
  }

  it('library functions take their keys as parameters: no lib reads KEYS or ARGV', function () {
    const libs = luaFiles(LIB_DIR);
    assert.ok(libs.length >= 5, libs.join());
    const reading = libs.filter((f) =>
      readsScriptInput(luaCode(readFileSync(new URL(f, LIB_DIR), 'utf8'))),
    );
    assert.deepEqual(reading, []);
  });

  it('the checks catch a script that breaks the contract', function () {
    const raw = `--[[
  Input:
    KEYS[1] a key
]]
-- slotAdd(KEYS[9]) in a comment is not code
local function early() return late() end
local function late() return 1 end
redis.call('SET', KEYS[1], 'x: missing(KEYS[7])')
return helper(KEYS[2], KEYS[#KEYS])`;
    assert.deepEqual(contractErrors('broken-1', raw, raw, globals), [
      'KEYS is read other than as KEYS[<number>]',
      'the name says 1 KEYS, the source reads up to KEYS[2]',
      'the header documents KEYS [1], not [1,2]',
      'calls late() before it is defined',
      'calls helper(), defined nowhere',
    ]);
    assert.deepEqual(contractErrors('unnumbered', '', 'return 1', globals), [
      'the name does not end in its number of KEYS',
    ]);
  });
});
