import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { slotRouted } from './slot-routed-scripts.js';

const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);

/** What follows `--!include` on an include line. */
const INCLUDE_TARGET = /^ (lib\/[\w-]+\.lua)$/;
/** A script's name ends in its number of KEYS: `send-message-8`. */
const KEY_COUNT = /-(\d+)$/;

/** Anything that can run EVALSHA/EVAL: a client or a MULTI. */
export interface ScriptRunner {
  evalSha(sha: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The text of an included file (`lib/<file>.lua`), or undefined when there is none. */
export type IncludeReader = (file: string) => string | undefined;

/**
 * A Lua script loaded once from `src/redis/scripts/<name>.lua`, run by EVALSHA with a
 * fallback to EVAL when the server does not know it yet (after a restart or SCRIPT FLUSH).
 * This is what node-redis's `defineScript` does; a small class of our own keeps the
 * client type free of per-script generics, so that any module can run any script.
 */
export class LuaScript {
  readonly sha1: string;
  readonly source: string;
  /** The KEYS every call passes: the number the name ends in (none for an inline script). */
  readonly keyCount: number | undefined;

  constructor(
    readonly name: string,
    source: string,
  ) {
    this.source = source;
    this.sha1 = createHash('sha1').update(source).digest('hex');
    const count = KEY_COUNT.exec(name)?.[1];
    this.keyCount = count === undefined ? undefined : Number(count);
  }

  /** Loads `scripts/<name>.lua` next to this module (in src/ or dist/), its includes pasted. */
  static load(name: string): LuaScript {
    const file = `${name}.lua`;
    const source = readScriptFile(file);
    if (source === undefined) throw new Error(`no Lua script ${file} in ${SCRIPTS_DIR.pathname}`);
    return new LuaScript(name, expandIncludes(file, source, readScriptFile));
  }

  /**
   * A script given as text, its includes pasted as {@link load} does (tests of a library
   * itself). Its name ends in no key count, so its calls are not checked against one.
   */
  static inline(name: string, source: string): LuaScript {
    return new LuaScript(name, expandIncludes(name, source, readScriptFile));
  }

  /** Runs the script on `runner` (on a cluster client: straight to its slot's master). */
  async run(runner: ScriptRunner, keys: string[], args: Array<string | number>): Promise<unknown> {
    if (this.keyCount !== undefined && keys.length !== this.keyCount) {
      throw new TypeError(`${this.name} takes ${this.keyCount} keys, given ${keys.length}`);
    }
    const client = slotRouted(runner);
    const opts = { keys, arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha1, opts);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, opts);
      }
      throw err;
    }
  }
}

/**
 * `source` (of `origin`, a script's file name) with every `--!include lib/<file>.lua` line
 * replaced by that file, whose own includes are replaced first, so a library comes before
 * the code that calls it. Redis runs each script alone, so what scripts share is pasted
 * into each of them; a file already pasted into this script is not pasted again.
 * @throws Error for an include that does not exist (naming it and who included it), a
 *   malformed include line, or an include cycle.
 */
export function expandIncludes(origin: string, source: string, read: IncludeReader): string {
  const pasted = new Set<string>();
  const expand = (chain: string[], text: string): string =>
    text.replace(/^--!include\b(.*)$/gm, (line, rest: string) => {
      const file = INCLUDE_TARGET.exec(rest)?.[1];
      const from = chain.join(' → ');
      if (file === undefined) {
        throw new Error(`${from}: "${line}" is not of the form --!include lib/<file>.lua`);
      }
      if (chain.includes(file)) throw new Error(`Lua include cycle: ${from} → ${file}`);
      if (pasted.has(file)) return '';
      const included = read(file);
      if (included === undefined) {
        throw new Error(`Lua include not found: ${file} (included by ${from})`);
      }
      pasted.add(file);
      return expand([...chain, file], included);
    });
  return expand([origin], source);
}

function readScriptFile(file: string): string | undefined {
  try {
    return readFileSync(new URL(file, SCRIPTS_DIR), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
