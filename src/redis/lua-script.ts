import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);

/** Anything that can run EVALSHA/EVAL: a client or a MULTI. */
export interface ScriptRunner {
  evalSha(sha: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * A Lua script loaded once from `src/redis/scripts/<name>.lua`, run by EVALSHA with a
 * fallback to EVAL when the server does not know it yet (after a restart or SCRIPT FLUSH).
 * This is what node-redis's `defineScript` does; a small class of our own keeps the
 * client type free of per-script generics, so that any module can run any script.
 */
export class LuaScript {
  readonly sha1: string;
  readonly source: string;

  constructor(
    readonly name: string,
    source: string,
  ) {
    this.source = source;
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Loads `scripts/<name>.lua` next to this module (in src/ or dist/). A line
   * `--!include lib/<file>.lua` is replaced by that file (Redis runs each script alone, so a
   * piece of logic two scripts share is pasted into both at load time).
   */
  static load(name: string): LuaScript {
    return LuaScript.inline(name, readFileSync(new URL(`${name}.lua`, SCRIPTS_DIR), 'utf8'));
  }

  /**
   * A script given as text, its `--!include lib/<file>.lua` lines pasted as {@link load}
   * does (benchmark seeders and tests that write the project's records their own way).
   */
  static inline(name: string, source: string): LuaScript {
    return new LuaScript(
      name,
      source.replace(/^--!include (lib\/[\w-]+\.lua)$/gm, (_line, file: string) =>
        readFileSync(new URL(file, SCRIPTS_DIR), 'utf8'),
      ),
    );
  }

  async run(client: ScriptRunner, keys: string[], args: Array<string | number>): Promise<unknown> {
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
