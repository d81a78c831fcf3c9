import { WebSocket } from 'ws';
import { CLOSE_TRY_AGAIN_LATER, type ServerFrame } from '../contract/ws-frames.js';
import type { Logger } from '../logging/logger.js';
import type { MessageEvent } from '../messages/message-events.js';
import type { Client, ConnectionRegistry } from './connection-registry.js';

/** Every frame the server sends: the contract's `serverFrameSchema` (src/contract/ws-frames.ts). */
export type { ServerFrame };

// Text also when the data is a Buffer; never compressed (the server does not offer it).
const TEXT_FRAME = Object.freeze({ binary: false, compress: false });

/**
 * Writes frames to clients: answers one at a time, events to every socket of their
 * recipients. A client whose unsent bytes pass `maxBufferedBytes` is closed with 1013.
 */
export class ClientSender {
  /** Clients whose connection the events of this tick corked; `endBatch` uncorks them. */
  private readonly batch: Client[] = [];

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly maxBufferedBytes: number,
    private readonly log: Logger,
  ) {}

  send(client: Client, frame: ServerFrame): void {
    this.sendRaw(client, JSON.stringify(frame));
  }

  /**
   * The bus's handler: sends `frame` (`{"type":…,"message":…}`) to every socket of every
   * recipient connected here, once per socket even if a recipient is listed twice.
   */
  deliver(event: MessageEvent, frame: string): void {
    const { recipients } = event;
    let data: Buffer | undefined;
    for (let i = 0; i < recipients.length; i++) {
      const userId = recipients[i] as string;
      if (recipients.indexOf(userId) !== i) continue;
      const set = this.registry.of(userId);
      if (!set) continue;
      // Encoded once, and only when a recipient is here: ws frames a Buffer without copying
      // it, where a string would be encoded again for every socket.
      data ??= Buffer.from(frame);
      for (const client of set) this.sendRaw(client, data, true);
    }
  }

  /**
   * Sends one text frame, unless the socket is closing or does not keep up.
   * `batched`: as part of this tick's batch of events (see `joinBatch`).
   */
  private sendRaw(client: Client, payload: string | Buffer, batched = false): void {
    const { ws } = client;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (client.corked && ws.bufferedAmount > this.maxBufferedBytes) {
      // What the batch holds back would be in the kernel's buffer without it: write it out
      // before judging the client by what is left.
      client.socket.uncork();
      client.socket.cork();
    }
    if (ws.bufferedAmount > this.maxBufferedBytes) {
      // A client that does not read would make us buffer without bound; ws destroys the
      // socket if the close handshake does not finish within its timeout.
      this.log.warn(
        { userId: client.user.id, bufferedAmount: ws.bufferedAmount },
        'closing a ws client that does not keep up',
      );
      this.registry.forget(client);
      ws.close(CLOSE_TRY_AGAIN_LATER, 'Client too slow');
      return;
    }
    if (batched) this.joinBatch(client);
    ws.send(payload, TEXT_FRAME);
  }

  /**
   * Corks a client's connection until the end of this tick, so that the frames of the
   * events delivered meanwhile leave in one write per socket, not one per frame.
   * `process.nextTick` waits for no I/O or timer; frames keep their order.
   */
  private joinBatch(client: Client): void {
    if (client.corked) return;
    client.corked = true;
    client.socket.cork();
    if (this.batch.push(client) === 1) process.nextTick(() => this.endBatch());
  }

  private endBatch(): void {
    // uncork() of a socket ended or destroyed meanwhile is harmless.
    for (const client of this.batch) {
      client.corked = false;
      client.socket.uncork();
    }
    this.batch.length = 0;
  }
}
