import type { Message } from '../../src/messages/message.js';

/** The first messages of a store, kept in conversations of their own. */
export interface StoreHead {
  messages: number;
  conversations: number;
}

/**
 * The seeded store of the growth and chat-day rows. The first `head.messages` messages go
 * round the first `head.conversations` conversations, the others round the rest, so that the
 * head's conversations hold the same messages at every size past the head: the growth from
 * 10,000 to 1,000,000 messages reads the same pages in a store 100 times larger. Message `i`
 * of a conversation's round `k` is sent by its first user when `k` is even; it is created
 * `i` ms after a fixed start, so a conversation's order is the order of `i`. Conversation
 * `c` is between users `2c` and `2c + 1` of the seeded users.
 */
export class GrowthStore {
  private readonly head: StoreHead;

  constructor(
    /** The users' ids: conversation `c` is between `users[2c]` and `users[2c + 1]`. */
    readonly users: readonly string[],
    readonly conversations: number,
    /** The first hex digits of the messages' ids, which tell stores apart. */
    readonly idPrefix = '6500',
    head: StoreHead = { messages: 0, conversations: 0 },
  ) {
    if (users.length < 2 * conversations) {
      throw new Error(`${conversations} conversations need ${2 * conversations} users`);
    }
    if (head.conversations >= conversations || head.messages > 0 !== head.conversations > 0) {
      throw new Error(`a head of ${head.conversations} of ${conversations} conversations`);
    }
    this.head = { ...head };
  }

  /** What the seeding worker needs to make the same store. */
  get spec(): { users: string[]; conversations: number; idPrefix: string; head: StoreHead } {
    const { conversations, idPrefix, head } = this;
    return { users: [...this.users], conversations, idPrefix, head: { ...head } };
  }

  /** The id of message `i`: derived from `i`, so that any process finds it again. */
  messageId(i: number): string {
    return `${this.idPrefix}${i.toString(16).padStart(24 - this.idPrefix.length, '0')}`;
  }

  /** The two users of conversation `c`. */
  pair(c: number): [string, string] {
    return [this.users[2 * c] as string, this.users[2 * c + 1] as string];
  }

  /** The conversation of message `i`, and its round there (its place, oldest first). */
  place(i: number): { c: number; k: number } {
    const { messages, conversations } = this.head;
    if (i < messages) return { c: i % conversations, k: Math.floor(i / conversations) };
    const rest = this.conversations - conversations;
    const j = i - messages;
    return { c: conversations + (j % rest), k: Math.floor(j / rest) };
  }

  /** Message `i` as the API would have stored it. */
  message(i: number): Message {
    const { c, k } = this.place(i);
    const [a, b] = this.pair(c);
    const fromFirst = k % 2 === 0;
    return {
      id: this.messageId(i),
      senderId: fromFirst ? a : b,
      receiverId: fromFirst ? b : a,
      content: `message ${i} of conversation ${c}: see you at the station at six`,
      imageUrl: null,
      publicId: null,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
    };
  }

  /** How many of the first `stored` messages conversation `c` holds. */
  sizeOf(c: number, stored: number): number {
    const { messages, conversations } = this.head;
    const inHead = c < conversations;
    const n = inHead ? Math.min(stored, messages) : stored - messages;
    const j = inHead ? c : c - conversations;
    const round = inHead ? conversations : this.conversations - conversations;
    return j < n ? Math.floor((n - 1 - j) / round) + 1 : 0;
  }

  /** The index of the oldest message of the latest page of `limit` in conversation `c`. */
  firstOfLatestPage(c: number, stored: number, limit: number): number {
    const size = this.sizeOf(c, stored);
    const k = size - Math.min(limit, size);
    const { messages, conversations } = this.head;
    if (c < conversations) return c + k * conversations;
    return messages + (c - conversations) + k * (this.conversations - conversations);
  }
}

/** Deterministic pseudo-random numbers in [0, 1) (an LCG), so runs at different sizes sample alike. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** An exponentially distributed number of mean `mean`, from a uniform source. */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** Zipf weights (exponent `s`) of ranks 1..n, normalised to sum 1. */
export function zipfWeights(n: number, s: number): Float64Array {
  const w = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    w[r] = 1 / (r + 1) ** s;
    sum += w[r] as number;
  }
  for (let r = 0; r < n; r++) w[r] = (w[r] as number) / sum;
  return w;
}

/** Draws ranks (0-based) with the given weights: binary search in the cumulative sums. */
export function weightedSampler(weights: Float64Array, random: () => number): () => number {
  const cdf = new Float64Array(weights.length);
  let acc = 0;
  for (let r = 0; r < weights.length; r++) {
    acc += weights[r] as number;
    cdf[r] = acc;
  }
  return () => {
    const u = random() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
