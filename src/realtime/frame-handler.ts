import type { RawData } from 'ws';
import { clientMessage, isAppError } from '../errors/app-error.js';
import { ERROR_CODES } from '../errors/error-codes.js';
import type { Logger } from '../logging/logger.js';
import type { ClientSender, ServerFrame } from './client-sender.js';
import type { Client } from './connection-registry.js';
import { parseClientFrame } from './parse-client-frame.js';
import type { SendMessage } from './realtime-options.js';

/**
 * Handles client frames: one socket's frames one at a time, in order; `message:send` through
 * the injected `sendMessage`, `ping` with `pong`; every failure answered with an error frame.
 */
export class FrameHandler {
  constructor(
    private readonly sender: ClientSender,
    private readonly sendMessage: SendMessage,
    /** Frames of one socket waiting to be handled; more are answered with `RATE_LIMITED`. */
    private readonly maxQueuedFrames: number,
    private readonly log: Logger,
  ) {}

  /** Queues a frame behind the socket's earlier ones, or refuses it when too many wait. */
  enqueue(client: Client, data: RawData, isBinary: boolean): void {
    if (client.queued >= this.maxQueuedFrames) {
      // Answering instead of buffering keeps a flooding client from growing our memory.
      const parsed = parseClientFrame(data, isBinary);
      const clientMsgId = !parsed.ok
        ? parsed.clientMsgId
        : parsed.frame.type === 'message:send'
          ? parsed.frame.clientMsgId
          : undefined;
      this.sender.send(client, {
        type: 'error',
        code: 'RATE_LIMITED',
        message: 'Too many frames waiting for an answer; wait for the acks',
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
      });
      return;
    }
    client.queued++;
    client.queue = client.queue
      .then(() => this.handle(client, data, isBinary))
      .catch((err: unknown) => this.log.error({ err }, 'ws frame handling failed'))
      .finally(() => {
        client.queued--;
      });
  }

  private async handle(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    const parsed = parseClientFrame(data, isBinary);
    if (!parsed.ok) {
      this.sendError(client, parsed.error, parsed.clientMsgId);
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'ping') {
      this.sender.send(client, { type: 'pong' });
      return;
    }
    const { clientMsgId } = frame;
    try {
      const { message, persisted } = await this.sendMessage(
        client.user.id,
        frame.input,
        clientMsgId === undefined ? {} : { clientMsgId },
      );
      this.sender.send(client, {
        type: 'message:ack',
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
        message,
        persisted,
      });
    } catch (err) {
      this.sendError(client, err, clientMsgId);
    }
  }

  private sendError(client: Client, err: unknown, clientMsgId: string | undefined): void {
    if (!isAppError(err) || err.status >= 500) {
      this.log.error({ err, userId: client.user.id }, 'ws send failed');
    }
    this.sender.send(client, errorFrame(err, clientMsgId));
  }
}

/**
 * The error frame a client gets for `err`: an `AppError`'s code, its client message and
 * `Retry-After` as `retryAfterSeconds`; anything else is `INTERNAL`, with no detail.
 */
export function errorFrame(err: unknown, clientMsgId: string | undefined): ServerFrame {
  const extra = clientMsgId === undefined ? {} : { clientMsgId };
  if (!isAppError(err)) {
    return { type: 'error', code: 'INTERNAL', message: ERROR_CODES.INTERNAL.message, ...extra };
  }
  const retryAfter = Number(err.headers['Retry-After']);
  return {
    type: 'error',
    code: err.code,
    message: clientMessage(err),
    ...extra,
    ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
  };
}
