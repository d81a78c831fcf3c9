/**
 * Static reading of Lua source as text, for the scripts' contract test: what it uses of
 * KEYS, which functions it defines and calls. Comments and strings are blanked first, so
 * only code is read.
 */

/** Comments (long, then line) and strings (long, quoted), in the order Lua's lexer sees them. */
const COMMENT_OR_STRING =
  /--\[(=*)\[[\s\S]*?\]\1\]|--[^\n]*|\[(=*)\[[\s\S]*?\]\2\]|'(?:\\[\s\S]|[^'\\\n])*'|"(?:\\[\s\S]|[^"\\\n])*"/g;

const KEYWORDS = new Set(
  'and break do else elseif end false for function if in local nil not or repeat return then true until while'.split(
    ' ',
  ),
);

/** `source` with every comment blanked and every string emptied; offsets and lines kept. */
export function luaCode(source: string): string {
  return source.replace(COMMENT_OR_STRING, (m) =>
    m.startsWith('--') ? m.replace(/[^\n]/g, ' ') : `''${m.slice(2).replace(/[^\n]/g, ' ')}`,
  );
}

/** The n of every `KEYS[n]` in `code`; `dynamic` when KEYS is used otherwise (`#KEYS`, `KEYS[i]`). */
export function keysRead(code: string): { indexes: number[]; dynamic: boolean } {
  const indexes: number[] = [];
  let dynamic = false;
  for (const m of code.matchAll(/\bKEYS\b(?:\s*\[\s*(\d+)\s*\])?/g)) {
    if (m[1] === undefined) dynamic = true;
    else indexes.push(Number(m[1]));
  }
  return { indexes, dynamic };
}

/** Whether `code` uses KEYS or ARGV at all. */
export function readsScriptInput(code: string): boolean {
  return /\b(?:KEYS|ARGV)\b/.test(code);
}

/** The functions `code` defines by name (`local function f`, `function f`, `local f = function`), at their offset. */
export function definedFunctions(code: string): Map<string, number> {
  const defined = new Map<string, number>();
  const patterns = [
    /\bfunction\s+([A-Za-z_]\w*)\s*\(/g,
    /\blocal\s+([A-Za-z_]\w*)\s*=\s*function\b/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) {
      const name = m[1] ?? '';
      if (!defined.has(name)) defined.set(name, m.index);
    }
  }
  return defined;
}

/**
 * The plain function calls of `code` (`f(…)`, not `t.f(…)` or `o:f(…)`), with their offsets;
 * definitions and keywords before a parenthesis are not calls.
 */
export function calledFunctions(code: string): Array<{ name: string; at: number }> {
  const calls: Array<{ name: string; at: number }> = [];
  for (const m of code.matchAll(/(?<![.:\w])([A-Za-z_]\w*)\s*\(/g)) {
    const name = m[1] ?? '';
    const before = code.slice(Math.max(0, m.index - 30), m.index);
    if (KEYWORDS.has(name) || /\bfunction\s+$/.test(before)) continue;
    calls.push({ name, at: m.index });
  }
  return calls;
}

/** The `KEYS[n]` documented in a script's header (its first `--[[ … ]]` block). */
export function documentedKeys(source: string): number[] {
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(source)?.[1] ?? '';
  return [...header.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1]));
}
