import { conversationId } from '../redis/keys.js';
import { uniqueSorted, type ConversationCache } from './conversation-cache.js';
import type { MessageStore } from './message-store.js';
import type { Message } from './message.js';

/**
 * A conversation read through its cache on a miss: the latest `limit` messages from MongoDB
 * merged with those still pending, cached as the conversation's list unless a send wrote
 * the conversation meanwhile.
 * @returns the messages (oldest first, the pending ones included) and whether they were cached.
 */
export async function loadConversation(
  conversations: ConversationCache,
  messages: MessageStore,
  a: string,
  b: string,
  limit: number,
): Promise<{ messages: Message[]; filled: boolean }> {
  // Generation and pending first: see ConversationCache.fill and .pending.
  const generation = await conversations.generation(a, b);
  const pending = await conversations.pending(a, b);
  const stored = await messages.findConversation(conversationId(a, b), limit);
  const all = uniqueSorted(pending, stored);
  const filled = await conversations.fill(a, b, generation, all);
  return { messages: all, filled };
}
