import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AuthenticatedUser } from './realtime-options.js';

/** One accepted WebSocket and the state the server keeps for it. */
export interface Client {
  ws: WebSocket;
  /** The connection under `ws`, corked while a batch of events is written to it. */
  socket: Duplex;
  user: AuthenticatedUser;
  /** Answered the last ping (or has not been pinged yet). */
  alive: boolean;
  /** Frames are handled one at a time, in order, so a sender's messages keep their order. */
  queue: Promise<void>;
  queued: number;
  /** `socket` is corked by the batch of events of the current tick. */
  corked: boolean;
}

/**
 * Who is connected: the sockets that receive events, by user, every socket until it has
 * closed, and each user's connection slots.
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<Client>>();
  /** Sockets that receive events. */
  private readonly receiving = new Set<Client>();
  /** Every socket until its 'close' event, including those being closed. */
  private readonly open = new Set<WebSocket>();
  /** Slots taken per user, from the accepted upgrade until the connection closes. */
  private readonly slots = new Map<string, number>();

  constructor(private readonly maxPerUser: number) {}

  /**
   * Takes one of the user's slots until `socket` closes; false when none is free. It is
   * synchronous so that concurrent upgrades of one user cannot all pass the limit.
   */
  takeSlot(userId: string, socket: Duplex): boolean {
    const taken = this.slots.get(userId) ?? 0;
    if (taken >= this.maxPerUser) return false;
    this.slots.set(userId, taken + 1);
    // 'close' of the connection comes whatever happens next: a handshake ws aborts, a socket
    // gone before the handshake, or the end of an open WebSocket.
    socket.once('close', () => {
      const left = (this.slots.get(userId) ?? 1) - 1;
      if (left > 0) this.slots.set(userId, left);
      else this.slots.delete(userId);
    });
    return true;
  }

  /** Registers an accepted socket: it receives events from now on. */
  add(client: Client): void {
    this.open.add(client.ws);
    this.receiving.add(client);
    let set = this.byUser.get(client.user.id);
    if (!set) this.byUser.set(client.user.id, (set = new Set()));
    set.add(client);
  }

  /** Removes a socket that emitted 'close'. */
  closed(client: Client): void {
    this.open.delete(client.ws);
    this.forget(client);
  }

  /** Stops sending events to a socket (it stays open until it closes). Idempotent. */
  forget(client: Client): void {
    this.receiving.delete(client);
    const set = this.byUser.get(client.user.id);
    if (set?.delete(client) && set.size === 0) this.byUser.delete(client.user.id);
  }

  /** The user's sockets that receive events; forgetting one while iterating is allowed. */
  of(userId: string): ReadonlySet<Client> | undefined {
    return this.byUser.get(userId);
  }

  /** Sockets that receive events. */
  get size(): number {
    return this.receiving.size;
  }

  /** Whether any user here receives events. */
  anyone(): boolean {
    return this.byUser.size > 0;
  }

  /** A copy of the sockets that receive events. */
  receivers(): Client[] {
    return [...this.receiving];
  }

  /** A copy of every socket not closed yet. */
  sockets(): WebSocket[] {
    return [...this.open];
  }
}
