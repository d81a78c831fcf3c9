import { createApiServices } from '../app/api-services.js';
import { messagesCollection } from '../messages/message-store.js';
import { connectMongoWithRetry, createMongoClient } from '../mongo/mongo-client.js';
import { CliError, EXIT } from './cli-error.js';
import type { CommandContext } from './cache-cli.js';

/**
 * `warm --since 1h` (the guide's "cache warming"): finds the conversations with a message in
 * the window and reads each once through the message service, which fills the conversation
 * cache on a miss exactly as a client's read would (same generation guard, same merge with
 * messages not yet persisted). A progress bar on a terminal.
 */
export async function warmCommand(ctx: CommandContext, sinceMs: number): Promise<void> {
  const mongo = createMongoClient(ctx.config.mongo, ctx.logger, { appName: 'cache-cli' });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5000);
  try {
    await Promise.race([
      connectMongoWithRetry(mongo, ctx.config.mongo, ctx.logger, abort.signal),
      new Promise((_, reject) =>
        abort.signal.addEventListener('abort', () =>
          reject(new CliError(`MongoDB unreachable at ${ctx.config.mongo.safeUri}`, EXIT.FAILURE)),
        ),
      ),
    ]);
    clearTimeout(timer);
    const services = createApiServices({
      config: ctx.config,
      logger: ctx.logger,
      redis: ctx.redis,
      mongo,
      publisher: { publish: async () => {} },
    });
    const since = new Date(Date.now() - sinceMs);
    const conversations = (await messagesCollection(mongo.db(ctx.config.mongo.db)).distinct(
      'conversationId',
      { createdAt: { $gte: since } },
    )) as string[];

    let warmed = 0;
    let alreadyCached = 0;
    const bar = process.stderr.isTTY && !ctx.json;
    for (const [i, conv] of conversations.entries()) {
      const [a, b] = conv.split(':');
      if (!a || !b) continue;
      const page = await services.messageService.listConversation(a, b);
      if (page.cache === 'HIT') alreadyCached++;
      else warmed++;
      if (bar) {
        const width = 30;
        const done = Math.round(((i + 1) / conversations.length) * width);
        process.stderr.write(
          `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${i + 1}/${conversations.length} conversations`,
        );
      }
    }
    if (bar && conversations.length > 0) process.stderr.write('\n');
    const data = { conversations: conversations.length, warmed, alreadyCached, since };
    ctx.io.out(
      ctx.json
        ? JSON.stringify(data)
        : `Warmed ${warmed} conversation(s) (${alreadyCached} already cached) with messages since ${since.toISOString()}`,
    );
  } finally {
    clearTimeout(timer);
    abort.abort();
    await mongo.close().catch(() => {});
  }
}
