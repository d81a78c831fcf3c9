import type { RawData } from 'ws';
import {
  CLIENT_FRAME_TYPES,
  frameClientMsgIdSchema,
  frameTypeSchema,
  type ClientFrameType,
} from '../contract/ws-frames.js';
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

/** The frame types of the contract (src/contract/ws-frames.ts), for the dispatch below. */
const KNOWN_TYPES: ReadonlySet<string> = new Set(CLIENT_FRAME_TYPES);

/**
 * Reads one ws frame. Only the envelope is checked here, with the contract's schemas (JSON
 * object, known `type`, `clientMsgId` a non-empty string); the message fields are the message
 * service's to validate, so REST and ws accept exactly the same input.
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
  const id = frameClientMsgIdSchema.safeParse(clientMsgId);
  const echo = id.success ? id.data : undefined;
  const typed = frameTypeSchema.safeParse(type);
  if (!typed.success) {
    return fail(new AppError('VALIDATION_FAILED', 'The frame needs a string "type"'), echo);
  }
  if (!KNOWN_TYPES.has(typed.data)) {
    return fail(
      new AppError('UNKNOWN_TYPE', `Unknown frame type ${JSON.stringify(typed.data.slice(0, 64))}`),
      echo,
    );
  }
  const known = typed.data as ClientFrameType;
  switch (known) {
    case 'ping':
      return { ok: true, frame: { type: known } };
    case 'message:send':
      if (!id.success) {
        return fail(new AppError('VALIDATION_FAILED', '"clientMsgId" must be a non-empty string'));
      }
      return {
        ok: true,
        frame:
          echo === undefined
            ? { type: known, input: rest }
            : { type: known, clientMsgId: echo, input: rest },
      };
    default:
      // A frame type added to the contract must be handled above: this fails to compile.
      return unhandled(known);
  }
}

function unhandled(type: never): never {
  throw new Error(`unhandled client frame type ${String(type)}`);
}

function fail(error: AppError, clientMsgId?: string): ParsedClientFrame {
  return clientMsgId === undefined ? { ok: false, error } : { ok: false, error, clientMsgId };
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
