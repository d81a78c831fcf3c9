import type { RawData } from 'ws';
import { AppError } from '../errors/app-error.js';

/** A client frame the server understands, after {@link parseClientFrame}. */
export type ClientFrame =
  | { type: 'ping' }
  | {
      type: 'message:send';
      /** The sender's idempotency key, echoed in the ack or error. */
      clientMsgId?: string;
      /** The frame without `type` and `clientMsgId`: what the message service validates. */
      input: Record<string, unknown>;
    };

/** The result of {@link parseClientFrame}: a frame, or the error to answer with. */
export type ParsedClientFrame =
  | { ok: true; frame: ClientFrame }
  | {
      ok: false;
      error: AppError;
      /** Echoed so that the client can tell which of its sends failed, when it is known. */
      clientMsgId?: string;
    };

/**
 * Reads one ws frame. Only the envelope is checked here (JSON object, known `type`,
 * `clientMsgId` a string); the message fields are the message service's to validate, so
 * REST and ws accept exactly the same input.
 */
export function parseClientFrame(data: RawData, isBinary: boolean): ParsedClientFrame {
  if (isBinary) {
    return fail(
      new AppError('VALIDATION_FAILED', 'Binary frames are not supported; send JSON text'),
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(rawToString(data));
  } catch {
    return fail(new AppError('BAD_JSON', 'The frame is not valid JSON'));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(new AppError('VALIDATION_FAILED', 'The frame must be a JSON object'));
  }
  const { type, clientMsgId, ...rest } = value as Record<string, unknown>;
  const echo = typeof clientMsgId === 'string' && clientMsgId !== '' ? clientMsgId : undefined;
  if (typeof type !== 'string') {
    return fail(new AppError('VALIDATION_FAILED', 'The frame needs a string "type"'), echo);
  }
  switch (type) {
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    case 'message:send':
      if (clientMsgId !== undefined && echo === undefined) {
        return fail(new AppError('VALIDATION_FAILED', '"clientMsgId" must be a non-empty string'));
      }
      return {
        ok: true,
        frame:
          echo === undefined ? { type, input: rest } : { type, clientMsgId: echo, input: rest },
      };
    default:
      return fail(
        new AppError('UNKNOWN_TYPE', `Unknown frame type ${JSON.stringify(type.slice(0, 64))}`),
        echo,
      );
  }
}

function fail(error: AppError, clientMsgId?: string): ParsedClientFrame {
  return clientMsgId === undefined ? { ok: false, error } : { ok: false, error, clientMsgId };
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
