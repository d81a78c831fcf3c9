import { DeadLetters } from '../expiry/dead-letter.js';
import type { CacheCommand, CommandContext } from './cache-command.js';
import { CliError, EXIT } from './cli-error.js';

/**
 * `dead-letter list | retry <key>|--all | drop <key>|--all`, over every partition. Keys are
 * given as listed (without the prefix and partition), e.g. `message:<id>`. `drop` loses the message for good, so it asks
 * for confirmation unless --yes.
 */
export const deadLetterCommand: CacheCommand = (args) => {
  const [action, target] = args.positionals;
  switch (action) {
    case undefined:
    case 'list':
      return list;
    case 'retry':
      if (!args.all && !target) {
        throw new CliError('dead-letter retry needs a key or --all', EXIT.USAGE);
      }
      return (ctx) => retry(ctx, args.all ? undefined : target);
    case 'drop':
      if (!args.all && !target) {
        throw new CliError('dead-letter drop needs a key or --all', EXIT.USAGE);
      }
      return (ctx) => drop(ctx, args.all ? undefined : target);
    default:
      throw new CliError(
        `unknown dead-letter action ${JSON.stringify(action)}: list, retry or drop`,
        EXIT.USAGE,
      );
  }
};

/** The dead letters of every partition. */
function deadLetters(ctx: CommandContext): DeadLetters {
  return new DeadLetters(ctx.redis, ctx.space);
}

async function list(ctx: CommandContext): Promise<void> {
  const entries = await deadLetters(ctx).list();
  const rows = entries.map((e) => ({
    key: ctx.space.relative(e.key) ?? e.key,
    attempts: e.attempts,
    at: new Date(e.at).toISOString(),
    error: e.error,
    hasShadow: e.shadow !== undefined,
  }));
  ctx.print(
    rows.length === 0
      ? 'no dead letters'
      : rows.map((r) => `${r.key}  attempts=${r.attempts}  at=${r.at}  ${r.error}`).join('\n'),
    { deadLetters: rows },
  );
}

/** Moves `target` (every entry when undefined) back to the due index. */
async function retry(ctx: CommandContext, target: string | undefined): Promise<void> {
  const dead = deadLetters(ctx);
  if (target === undefined) {
    const n = await dead.retryAll();
    ctx.print(`${n} dead letters moved back to the due index`, { retried: n });
    return;
  }
  const key = await dead.find(target);
  if (key === undefined || !(await dead.retry(key))) {
    throw new CliError(`no dead letter ${target}`, EXIT.NOT_FOUND);
  }
  ctx.print(`${target} moved back to the due index`, { retried: 1, key: target });
}

/** Drops `target` (every entry when undefined), once confirmed. */
async function drop(ctx: CommandContext, target: string | undefined): Promise<void> {
  const dead = deadLetters(ctx);
  const keys = target === undefined ? (await dead.list()).map((e) => e.key) : [];
  if (target !== undefined) {
    const key = await dead.find(target);
    if (key === undefined) throw new CliError(`no dead letter ${target}`, EXIT.NOT_FOUND);
    keys.push(key);
  }
  if (!ctx.yes) {
    const ok = await ctx.io.confirm(
      `Drop ${keys.length} dead letter(s)? Messages not yet in MongoDB are lost for good.`,
    );
    if (!ok) throw new CliError('not confirmed; nothing dropped (use --yes)', EXIT.ABORTED);
  }
  let dropped = 0;
  for (const key of keys) if (await dead.drop(key)) dropped++;
  if (target !== undefined && dropped === 0) {
    throw new CliError(`no dead letter ${target}`, EXIT.NOT_FOUND);
  }
  ctx.print(`${dropped} dead letter(s) dropped`, { dropped });
}
