import { ConversationCache } from '../messages/conversation-cache.js';
import { loadConversation } from '../messages/conversation-loader.js';
import { DEFAULT_PAGE } from '../messages/message-service.js';
import { MessageStore } from '../messages/message-store.js';
import { connectMongoWithRetry, createMongoClient } from '../mongo/mongo-client.js';
import type { CacheCommand, CommandContext } from './cache-command.js';
import { parseDuration } from './cli-args.js';
import { CliError, EXIT } from './cli-error.js';

/**
 * `warm --since 1h` (the guide's "cache warming"): finds the conversations with a message in
 * the window and reads each once as a client's first page read would, filling the
 * conversation cache on a miss (same generation guard, same merge with messages not yet
 * persisted). A progress bar on a terminal.
 */
export const warmCommand: CacheCommand = (args) => {
  const sinceMs = parseDuration(args.since);
  return (ctx) => warm(ctx, sinceMs);
};

async function warm(ctx: CommandContext, sinceMs: number): Promise<void> {
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
    const messages = MessageStore.fromDb(mongo.db(ctx.config.mongo.db));
    const { ttlSeconds, conversationSize } = ctx.config.cache;
    const conversations = new ConversationCache({
      redis: ctx.redis,
      space: ctx.space,
      ttlSeconds,
      size: conversationSize,
    });
    const since = new Date(Date.now() - sinceMs);
    const ids = await messages.conversationsSince(since);

    let warmed = 0;
    let alreadyCached = 0;
    const bar = process.stderr.isTTY && !ctx.json;
    for (const [i, conv] of ids.entries()) {
      const [a, b] = conv.split(':');
      if (!a || !b) continue;
      // A hit as the API's first page read (DEFAULT_PAGE messages) would count it.
      if (await conversations.readLatest(a, b, DEFAULT_PAGE)) alreadyCached++;
      else {
        await loadConversation(
          conversations,
          messages,
          a,
          b,
          Math.max(DEFAULT_PAGE, conversationSize),
        );
        warmed++;
      }
      if (bar) {
        const width = 30;
        const done = Math.round(((i + 1) / ids.length) * width);
        process.stderr.write(
          `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${i + 1}/${ids.length} conversations`,
        );
      }
    }
    if (bar && ids.length > 0) process.stderr.write('\n');
    const data = { conversations: ids.length, warmed, alreadyCached, since };
    ctx.print(
      `Warmed ${warmed} conversation(s) (${alreadyCached} already cached) with messages since ${since.toISOString()}`,
      data,
    );
  } finally {
    clearTimeout(timer);
    abort.abort();
    await mongo.close().catch(() => {});
  }
}
