import { DeadLetters } from '../expiry/dead-letter.js';
import { CliError, EXIT } from './cli-error.js';
import type { CommandContext } from './cache-cli.js';

/**
 * `dead-letter list | retry <key>|--all | drop <key>|--all`. Keys are given as listed
 * (without the prefix), e.g. `message:<id>`. `drop` loses the message for good, so it asks
 * for confirmation unless --yes.
 */
export async function deadLetterCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const [action, target] = args;
  const all = args.includes('--all');
  const dead = new DeadLetters(ctx.redis, ctx.keys);
  const rel = (key: string) => key.slice(ctx.keys.prefix.length);
  const full = (key: string) => `${ctx.keys.prefix}${key}`;
  const out = (human: string, data: unknown) => ctx.io.out(ctx.json ? JSON.stringify(data) : human);

  switch (action) {
    case undefined:
    case 'list': {
      const entries = await dead.list();
      const rows = entries.map((e) => ({
        key: rel(e.key),
        attempts: e.attempts,
        at: new Date(e.at).toISOString(),
        error: e.error,
        hasShadow: e.shadow !== undefined,
      }));
      out(
        rows.length === 0
          ? 'no dead letters'
          : rows.map((r) => `${r.key}  attempts=${r.attempts}  at=${r.at}  ${r.error}`).join('\n'),
        { deadLetters: rows },
      );
      return;
    }
    case 'retry': {
      if (all) {
        const n = await dead.retryAll();
        out(`${n} dead letters moved back to the due index`, { retried: n });
        return;
      }
      if (!target || target === '--all') {
        throw new CliError('dead-letter retry needs a key or --all', EXIT.USAGE);
      }
      if (!(await dead.retry(full(target)))) {
        throw new CliError(`no dead letter ${target}`, EXIT.NOT_FOUND);
      }
      out(`${target} moved back to the due index`, { retried: 1, key: target });
      return;
    }
    case 'drop': {
      const keys = all
        ? (await dead.list()).map((e) => e.key)
        : target && target !== '--all'
          ? [full(target)]
          : [];
      if (keys.length === 0 && !all) {
        throw new CliError('dead-letter drop needs a key or --all', EXIT.USAGE);
      }
      if (!ctx.yes) {
        const ok = await ctx.io.confirm(
          `Drop ${keys.length} dead letter(s)? Messages not yet in MongoDB are lost for good.`,
        );
        if (!ok) throw new CliError('not confirmed; nothing dropped (use --yes)', EXIT.ABORTED);
      }
      let dropped = 0;
      for (const key of keys) if (await dead.drop(key)) dropped++;
      if (!all && dropped === 0) throw new CliError(`no dead letter ${target}`, EXIT.NOT_FOUND);
      out(`${dropped} dead letter(s) dropped`, { dropped });
      return;
    }
    default:
      throw new CliError(
        `unknown dead-letter action ${JSON.stringify(action)}: list, retry or drop`,
        EXIT.USAGE,
      );
  }
}
