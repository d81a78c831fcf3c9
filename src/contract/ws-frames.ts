import { z } from 'zod';
import {
  contentOrImageRule,
  errorCodeSchema,
  MESSAGE_EXAMPLE,
  messageRefSchema,
  messageSchema,
  sendMessageFields,
} from './http-schemas.js';

/**
 * The frames of the ws protocol (`/ws`), both ways: parse-client-frame.ts reads the client
 * frames' envelope with these schemas, the server's frames are typed by them
 * ({@link ServerFrame}), and the AsyncAPI document (asyncapi-document.ts) is built from
 * them. A frame type added here is in the document and in the tests' lists at once.
 *
 * Every frame is one JSON object in a text frame with a string `type`.
 */

// Ids of the examples: one real session (alice writes to bob; bob answers over ws).
const ALICE_ID = '6b17795be1273f5759a86a01';
const BOB_ID = '6b17795be1273f5759a86a02';

// ---------------------------------------------------------------------------------------
// Client → server

/**
 * `type` of a client frame: a string (else VALIDATION_FAILED `The frame needs a string
 * "type"`), one of {@link CLIENT_FRAME_TYPES} (else UNKNOWN_TYPE).
 */
export const frameTypeSchema = z.string();

/**
 * `clientMsgId` in a client frame's envelope: when given, a non-empty string, echoed in the
 * answer (`message:ack` or `error`); the message service then checks it as an idempotency key.
 */
export const frameClientMsgIdSchema = z.string().min(1).optional();

/** `{ "type": "ping" }`: answered by `pong` (other fields are ignored). */
export const pingFrameSchema = z.object({ type: z.literal('ping') }).meta({
  id: 'PingFrame',
  description:
    'An application-level ping, answered by `{ "type": "pong" }`. Optional: the server keeps the connection alive with protocol pings, which ws clients and browsers answer by themselves.',
  examples: [{ type: 'ping' }],
});

/** `message:send`: the fields of `POST /api/messages/send`, checked by the same schema. */
export const messageSendFrameSchema = sendMessageFields
  .extend({ type: z.literal('message:send') })
  .refine(...contentOrImageRule)
  .meta({
    id: 'MessageSendFrame',
    description:
      'Sends a message, with the rules of `POST /api/messages/send` (the same validation, rate limit and idempotency: `clientMsgId` is the Idempotency-Key). Answered by `message:ack`, or by `error` with the code a REST send would get; both echo `clientMsgId`.',
    examples: [
      { type: 'message:send', receiverId: ALICE_ID, content: 'hi alice', clientMsgId: 'c-3' },
    ],
  });

/** Every frame a client may send, by `type`. */
export const clientFrameSchema = z.discriminatedUnion('type', [
  pingFrameSchema,
  messageSendFrameSchema,
]);

export type ClientFrameJson = z.input<typeof clientFrameSchema>;
export type ClientFrameType = ClientFrameJson['type'];

/** The `type`s of client frames, from the schemas (what the parser dispatches on). */
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = clientFrameSchema.options.map(
  (o) => o.shape.type.value,
);

// ---------------------------------------------------------------------------------------
// Server → client

/** The answer to a `ping` frame. */
export const pongFrameSchema = z.strictObject({ type: z.literal('pong') }).meta({
  id: 'PongFrame',
  description: 'The answer to `{ "type": "ping" }`.',
  examples: [{ type: 'pong' }],
});

/** A `message:send` accepted. */
export const messageAckFrameSchema = z
  .strictObject({
    type: z.literal('message:ack'),
    clientMsgId: z.string().optional().meta({ description: "The send's clientMsgId, echoed" }),
    message: messageSchema,
    persisted: z.boolean().meta({
      description: 'As in the REST answer: false when accepted into Redis only',
    }),
  })
  .meta({
    id: 'MessageAckFrame',
    description:
      'A `message:send` accepted: the message as stored. The receiver and every connection of the sender also get it as `message:new`.',
    examples: [
      {
        type: 'message:ack',
        clientMsgId: 'c-3',
        message: {
          id: '6b17796c478f308ce289aa65',
          senderId: '6b17796b478f308ce289aa5c',
          receiverId: '6b17796b478f308ce289aa5b',
          content: 'hi alice',
          imageUrl: null,
          publicId: null,
          createdAt: '2026-12-08T03:28:44.702Z',
        },
        persisted: true,
      },
    ],
  });

/** A client frame refused, or a send that failed. */
export const errorFrameSchema = z
  .strictObject({
    type: z.literal('error'),
    code: errorCodeSchema,
    message: z.string().meta({ description: 'For people; the code is what to branch on' }),
    clientMsgId: z
      .string()
      .optional()
      .meta({ description: "The frame's clientMsgId, echoed when it was a non-empty string" }),
    retryAfterSeconds: z.number().int().min(0).optional().meta({
      description:
        "With RATE_LIMITED and IDEMPOTENCY_IN_PROGRESS: the REST answer's Retry-After, in whole seconds",
    }),
  })
  .meta({
    id: 'ErrorFrame',
    description:
      'A frame refused (not JSON: BAD_JSON; a binary frame, not an object, invalid fields: VALIDATION_FAILED; an unknown type: UNKNOWN_TYPE), a send that failed (the code a REST send would get), or too many frames waiting for an answer (RATE_LIMITED). The connection stays open.',
    examples: [
      {
        type: 'error',
        code: 'RATE_LIMITED',
        message: 'At most 3 messages per 10 s; retry in 10 s',
        clientMsgId: 'c-1',
        retryAfterSeconds: 10,
      },
      {
        type: 'error',
        code: 'VALIDATION_FAILED',
        message: 'content: content or imageUrl is required',
        clientMsgId: 'c-2',
      },
      { type: 'error', code: 'UNKNOWN_TYPE', message: 'Unknown frame type "nope"' },
      { type: 'error', code: 'BAD_JSON', message: 'The frame is not valid JSON' },
    ],
  });

const eventExample = MESSAGE_EXAMPLE;

/** A message sent to or by the user (from any API process, over Redis pub/sub). */
export const messageNewFrameSchema = z
  .strictObject({ type: z.literal('message:new'), message: messageSchema })
  .meta({
    id: 'MessageNewFrame',
    description:
      'A message sent to or by this user, on every connection of the receiver and of the sender, whichever API process they are on.',
    examples: [{ type: 'message:new', message: eventExample }],
  });

/** A message of the user edited by its sender. */
export const messageUpdatedFrameSchema = z
  .strictObject({ type: z.literal('message:updated'), message: messageSchema })
  .meta({
    id: 'MessageUpdatedFrame',
    description: 'A message edited by its sender: the whole message, with `updatedAt`.',
    examples: [
      {
        type: 'message:updated',
        message: {
          ...eventExample,
          content: 'hello bob (edited)',
          updatedAt: '2026-12-08T03:28:28.001Z',
        },
      },
    ],
  });

/** A message of the user deleted by its sender. */
export const messageDeletedFrameSchema = z
  .strictObject({ type: z.literal('message:deleted'), message: messageRefSchema })
  .meta({
    id: 'MessageDeletedFrame',
    description: 'A message deleted by its sender: its id and the two users only.',
    examples: [
      {
        type: 'message:deleted',
        message: { id: '6b17795be1273f5759a86a07', senderId: ALICE_ID, receiverId: BOB_ID },
      },
    ],
  });

/** The frames of the message events (what the event buses fan out). */
export const messageEventFrameSchema = z.discriminatedUnion('type', [
  messageNewFrameSchema,
  messageUpdatedFrameSchema,
  messageDeletedFrameSchema,
]);

export type MessageEventFrame = z.output<typeof messageEventFrameSchema>;
export type MessageEventType = MessageEventFrame['type'];

/** The `type`s of the message events. */
export const MESSAGE_EVENT_TYPES = messageEventFrameSchema.options.map(
  (o) => o.shape.type.value,
) as [MessageEventType, ...MessageEventType[]];

/** Every frame the server sends, by `type`. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  pongFrameSchema,
  messageAckFrameSchema,
  errorFrameSchema,
  messageNewFrameSchema,
  messageUpdatedFrameSchema,
  messageDeletedFrameSchema,
]);

/** Every frame the server sends (what ClientSender writes). */
export type ServerFrame = z.output<typeof serverFrameSchema>;
export type ServerFrameType = ServerFrame['type'];

/** The `type`s of server frames. */
export const SERVER_FRAME_TYPES: readonly ServerFrameType[] = serverFrameSchema.options.map(
  (o) => o.shape.type.value,
);

// ---------------------------------------------------------------------------------------
// Close codes the server chooses (RFC 6455 §7.4, IANA registry); ws itself closes with
// 1002, 1007 and 1009 (see the AsyncAPI document for all of them).

/** The server is shutting down: reconnect (to another instance). */
export const CLOSE_GOING_AWAY = 1001;

/** The client does not read its frames fast enough. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
