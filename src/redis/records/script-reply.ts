/**
 * Checks of Lua script replies (RESP2 as node-redis gives them: a Lua number is a number,
 * a string a string, nil and false are null, a table an array). A reply of another shape
 * means a script and its caller disagree, so it is a TypeError naming the script.
 */

export function replyArray(reply: unknown, script: string): unknown[] {
  if (!Array.isArray(reply)) throw unexpected(reply, script);
  return reply;
}

export function replyInteger(reply: unknown, script: string): number {
  if (typeof reply !== 'number' || !Number.isInteger(reply)) throw unexpected(reply, script);
  return reply;
}

/** A reply of 1 (true) or 0 (false). */
export function replyFlag(reply: unknown, script: string): boolean {
  if (reply !== 0 && reply !== 1) throw unexpected(reply, script);
  return reply === 1;
}

/** A string, or null for Lua's nil/false. */
export function replyText(reply: unknown, script: string): string | null {
  if (reply !== null && typeof reply !== 'string') throw unexpected(reply, script);
  return reply;
}

/** The error for a reply of the wrong shape. */
export function unexpected(reply: unknown, script: string): TypeError {
  const shown = JSON.stringify(reply) ?? String(reply);
  return new TypeError(`unexpected reply of ${script}: ${shown.slice(0, 200)}`);
}
