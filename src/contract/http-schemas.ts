import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';

/**
 * The shapes of the REST API: every request the routes validate and every body they answer
 * with. The routes and services validate with these very objects (parseInput), and the
 * OpenAPI document (openapi-document.ts) and the ws frames (ws-frames.ts) are built from
 * them, so nothing is written twice. `.meta({ id })` makes a schema a named component of
 * the documents; its `examples` are answers the API really gave.
 *
 * Response bodies are described, not built, by these schemas: the hot paths serialize by
 * hand (`messageJson`, the conversation page), and the tests check the result against them.
 */

/** MongoDB ObjectId in hex: the only id form the API accepts. */
export const OBJECT_ID_RE = /^[0-9a-f]{24}$/;

/** Idempotency keys (the `Idempotency-Key` header or `clientMsgId`). */
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;

export const MAX_CONTENT_LENGTH = 5000;

/** Every error code, in the registry's order. */
export const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

// Ids and timestamps of the examples: one real session (alice writes to bob).
const ALICE_ID = '6b17795be1273f5759a86a01';
const BOB_ID = '6b17795be1273f5759a86a02';
const TOKEN =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VybmFtZSI6ImFsaWNlIiwic3ViIjoiNmIxNzc5NWJlMTI3M2Y1NzU5YTg2YTAxIiwiaWF0IjoxNzk2NzAwNTA3LCJleHAiOjE3OTY3ODY5MDd9.hA7AmDLL9uzP0hE0--J5VsSXv-fSEpd61kd9yYq0yks';

const objectId = (description: string) =>
  z
    .string()
    .regex(OBJECT_ID_RE)
    .meta({ description, examples: [BOB_ID] });

const timestamp = (description: string) =>
  z.iso.datetime().meta({ description, examples: ['2026-12-08T03:28:27.820Z'] });

// ---------------------------------------------------------------------------------------
// Requests

/** Body of `POST /api/auth/signup` and `POST /api/auth/login`. */
export const credentialsSchema = z
  .strictObject({
    username: z
      .string()
      .regex(/^[a-z0-9_]{3,32}$/, 'must be 3 to 32 characters of a-z, 0-9 and _')
      .meta({ description: '3 to 32 characters of a-z, 0-9 and _' }),
    password: z
      .string()
      .min(8, 'must be at least 8 characters')
      .max(128, 'must be at most 128 characters')
      .meta({ description: '8 to 128 characters' }),
  })
  .meta({
    id: 'Credentials',
    description: 'A username and its password. Any other field is refused (400).',
    examples: [{ username: 'alice', password: 'correct horse' }],
  });

export type Credentials = z.output<typeof credentialsSchema>;

const content = z
  .string()
  .max(MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`)
  .refine((s) => s.trim().length > 0, 'must not be empty')
  .meta({
    description: `The text as sent (not trimmed): 1 to ${MAX_CONTENT_LENGTH} characters counted in Unicode code points, not only whitespace`,
  });

const httpUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((s) => {
    if (!URL.canParse(s)) return false;
    const protocol = new URL(s).protocol;
    return protocol === 'http:' || protocol === 'https:';
  }, 'must be an http(s) URL')
  .meta({
    description:
      'An absolute http: or https: URL of at most 2048 characters, stored as given (never fetched)',
  });

/** The fields of a send, before the rule that joins them (see {@link sendMessageSchema}). */
export const sendMessageFields = z.strictObject({
  // Its form is checked after parsing, so a malformed id is INVALID_ID, not VALIDATION_FAILED.
  receiverId: z.string().meta({
    description:
      'The other user: 24 lowercase hex characters (else 400 INVALID_ID), not yourself, an existing user (else 404 USER_NOT_FOUND)',
    examples: [BOB_ID],
  }),
  content: content.nullish(),
  imageUrl: httpUrl.nullish(),
  publicId: z.string().min(1).max(256, 'must be at most 256 characters').nullish().meta({
    description:
      "The client's name for the image (e.g. its id at an image host), 1 to 256 characters",
  }),
  clientMsgId: z
    .string()
    .regex(IDEMPOTENCY_KEY_RE, 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -')
    .optional()
    .meta({
      description:
        'Idempotency key, the same as the Idempotency-Key header: a retry with the same key and body answers the first message; the same key with another body is 409 IDEMPOTENCY_CONFLICT',
    }),
});

/** The rule of a send that no single field carries: `.refine(...contentOrImageRule)`. */
export const contentOrImageRule: [
  check: (b: { content?: string | null; imageUrl?: string | null }) => boolean,
  params: { message: string; path: PropertyKey[] },
] = [
  (b) => b.content != null || b.imageUrl != null,
  { message: 'content or imageUrl is required', path: ['content'] },
];

/** Body of `POST /api/messages/send` (and the fields of the ws `message:send` frame). */
export const sendMessageSchema = sendMessageFields.refine(...contentOrImageRule).meta({
  id: 'SendMessageRequest',
  description:
    'At least one of content and imageUrl given and not null (else 400 VALIDATION_FAILED "content: content or imageUrl is required"). Any other field is refused (400).',
  examples: [
    { receiverId: BOB_ID, content: 'hello bob' },
    {
      receiverId: BOB_ID,
      content: null,
      imageUrl: 'https://images.example.com/cat.png',
      publicId: 'cat-42',
    },
  ],
});

export type SendMessageInput = z.output<typeof sendMessageSchema>;

/** Body of `PATCH /api/messages/item/:messageId`. */
export const editMessageSchema = z.strictObject({ content }).meta({
  id: 'EditMessageRequest',
  description: 'The new text, with the rules of a send; nothing else may be changed.',
  examples: [{ content: 'hello bob (edited)' }],
});

/** Query of `GET /api/messages/:receiverId`. */
export const conversationQuerySchema = z.strictObject({
  before: z.string().optional().meta({
    description:
      'The id of a message of this conversation (a deleted one will do): the page ends just before it (exclusive). Malformed: 400 INVALID_ID; not of this conversation: 404 MESSAGE_NOT_FOUND',
  }),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'))
    .optional()
    .meta({ description: 'Messages per page, 1 to 100 (default 50)', examples: ['50'] }),
});

/** Path of `GET /api/messages/{receiverId}`. */
export const conversationPathSchema = z.strictObject({
  receiverId: objectId('The other user of the conversation (not yourself)'),
});

/** Path of the `/api/messages/item/{messageId}` routes. */
export const messagePathSchema = z.strictObject({
  messageId: objectId('The message').meta({ examples: ['6b17795be1273f5759a86a04'] }),
});

/** Headers of `POST /api/messages/send` besides `Authorization` (the security scheme). */
export const sendHeadersSchema = z.strictObject({
  'Idempotency-Key': z
    .string()
    .regex(IDEMPOTENCY_KEY_RE)
    .optional()
    .meta({
      description:
        "Idempotency key (1 to 64 of A-Z a-z 0-9 _ -), the same as the body's clientMsgId (both given and different: 400). A retry with the same key answers 200 with the first message; the same key with another body 409 IDEMPOTENCY_CONFLICT. Keys are per sender.",
      examples: ['k1'],
    }),
});

/**
 * The files `GET /static/{file}` serves, by extension, with their Content-Type; anything else
 * is a 404 (no source maps of the server, no dotfiles).
 */
export const STATIC_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Path of `GET /static/{file}`. */
export const staticPathSchema = z.strictObject({
  file: z.string().meta({
    description:
      'A file of the pages (js/, style.css, …): .html .css .js .map .json .svg .png .ico .txt; a `..` segment, a dotfile or another extension is 404',
    examples: ['style.css'],
  }),
});

// ---------------------------------------------------------------------------------------
// Responses

/** A message as the API answered it (a real answer), for the documents' examples. */
export const MESSAGE_EXAMPLE = {
  id: '6b17795be1273f5759a86a04',
  senderId: ALICE_ID,
  receiverId: BOB_ID,
  content: 'hello bob',
  imageUrl: null,
  publicId: null,
  createdAt: '2026-12-08T03:28:27.820Z',
};

/** A message as clients see it: REST bodies, ws frames and the Redis cache alike. */
export const messageSchema = z
  .strictObject({
    id: objectId("The message's id, made by the server").meta({
      examples: ['6b17795be1273f5759a86a04'],
    }),
    senderId: objectId("The sender: the token's user, never taken from the body").meta({
      examples: [ALICE_ID],
    }),
    receiverId: objectId('The other user'),
    content: z.string().nullable().meta({
      description: 'The text as sent (not trimmed); null in an image-only message',
    }),
    imageUrl: z.string().nullable().meta({ description: 'An http(s) URL, stored as given' }),
    publicId: z
      .string()
      .nullable()
      .meta({ description: "The client's name for the image, stored as given" }),
    createdAt: timestamp('When the server accepted it: ISO 8601 in UTC with milliseconds'),
    updatedAt: timestamp(
      'The time of the last edit; absent (not null) in a message never edited',
    ).optional(),
  })
  .meta({
    id: 'Message',
    description:
      'A message, with exactly these fields. `clientMsgId` is not one of them (the ws ack echoes it).',
    examples: [
      MESSAGE_EXAMPLE,
      {
        id: '6b17795be1273f5759a86a07',
        senderId: ALICE_ID,
        receiverId: BOB_ID,
        content: null,
        imageUrl: 'https://images.example.com/cat.png',
        publicId: 'cat-42',
        createdAt: '2026-12-08T03:28:27.857Z',
      },
    ],
  });

export type MessageJson = z.output<typeof messageSchema>;

/** What a `message:deleted` event carries: the ids only. */
export const messageRefSchema = messageSchema
  .pick({ id: true, senderId: true, receiverId: true })
  .meta({
    id: 'MessageRef',
    description: 'A deleted message: its id and the two users, nothing else.',
    examples: [{ id: '6b17795be1273f5759a86a07', senderId: ALICE_ID, receiverId: BOB_ID }],
  });

/** A user as other users see it. */
export const publicUserSchema = z
  .strictObject({
    id: objectId("The user's id").meta({ examples: [ALICE_ID] }),
    username: z.string().meta({ examples: ['alice'] }),
  })
  .meta({ id: 'User', examples: [{ id: ALICE_ID, username: 'alice' }] });

export type PublicUserJson = z.output<typeof publicUserSchema>;

/** What signup and login answer. */
export const authResultSchema = z
  .strictObject({
    user: publicUserSchema,
    token: z.string().meta({
      description:
        'An HS256 JWT valid 24 h: send it as `Authorization: Bearer <token>` (ws: or `?token=`)',
    }),
  })
  .meta({
    id: 'AuthResult',
    examples: [{ user: { id: ALICE_ID, username: 'alice' }, token: TOKEN }],
  });

export type AuthResultJson = z.output<typeof authResultSchema>;

/** `GET /api/users`. */
export const usersPageSchema = z
  .strictObject({
    users: z.array(publicUserSchema).meta({ description: 'Every user but the caller' }),
  })
  .meta({ id: 'UserList', examples: [{ users: [{ id: BOB_ID, username: 'bob' }] }] });

/** `POST /api/messages/send`. */
export const sendResultSchema = z
  .strictObject({
    message: messageSchema,
    persisted: z.boolean().meta({
      description:
        'true: in MongoDB before the answer; false: accepted into Redis only (write-behind, or MongoDB down), persisted later by the expiry daemon',
    }),
  })
  .meta({
    id: 'SendResult',
    examples: [
      {
        message: {
          id: '6b17795be1273f5759a86a04',
          senderId: ALICE_ID,
          receiverId: BOB_ID,
          content: 'hello bob',
          imageUrl: null,
          publicId: null,
          createdAt: '2026-12-08T03:28:27.820Z',
        },
        persisted: true,
      },
    ],
  });

/** `GET /api/messages/item/{messageId}` and `PATCH` of it. */
export const messageResultSchema = z.strictObject({ message: messageSchema }).meta({
  id: 'MessageResult',
  examples: [
    {
      message: {
        id: '6b17795be1273f5759a86a04',
        senderId: ALICE_ID,
        receiverId: BOB_ID,
        content: 'hello bob (edited)',
        imageUrl: null,
        publicId: null,
        createdAt: '2026-12-08T03:28:27.820Z',
        updatedAt: '2026-12-08T03:28:28.001Z',
      },
    },
  ],
});

/** `GET /api/messages/{receiverId}`. */
export const conversationPageSchema = z
  .strictObject({
    messages: z.array(messageSchema).meta({
      description:
        'Up to `limit` messages, oldest first (by createdAt, then id); empty: nothing older',
    }),
  })
  .meta({
    id: 'ConversationPage',
    examples: [
      {
        messages: [
          {
            id: '6b17795be1273f5759a86a07',
            senderId: ALICE_ID,
            receiverId: BOB_ID,
            content: null,
            imageUrl: 'https://images.example.com/cat.png',
            publicId: 'cat-42',
            createdAt: '2026-12-08T03:28:27.857Z',
          },
          {
            id: '6b17795be1273f5759a86a08',
            senderId: ALICE_ID,
            receiverId: BOB_ID,
            content: 'four',
            imageUrl: null,
            publicId: null,
            createdAt: '2026-12-08T03:28:27.927Z',
          },
        ],
      },
    ],
  });

/** One dependency in a health report. */
export const componentHealthSchema = z
  .strictObject({
    status: z.enum(['ok', 'down']),
    latencyMs: z.number().optional().meta({ description: 'How long it took to answer (ok only)' }),
    error: z.string().optional().meta({ description: 'Why it is down (down only)' }),
    masters: z.number().int().optional().meta({
      description:
        'Redis Cluster: masters that answered, of those in the slot map (all must answer)',
    }),
  })
  .meta({ id: 'ComponentHealth', examples: [{ status: 'ok', latencyMs: 1.7 }] });

export type ComponentHealthJson = z.output<typeof componentHealthSchema>;

/** `GET /health`. */
export const healthReportSchema = z
  .strictObject({
    status: z.enum(['ok', 'degraded']).meta({
      description: 'ok (200): Redis and MongoDB answer; degraded (503): one of them does not',
    }),
    redis: componentHealthSchema,
    mongo: componentHealthSchema,
  })
  .meta({
    id: 'HealthReport',
    examples: [
      {
        status: 'ok',
        redis: { status: 'ok', latencyMs: 1.7 },
        mongo: { status: 'ok', latencyMs: 2.1 },
      },
    ],
  });

export type HealthReportJson = z.output<typeof healthReportSchema>;

/** `GET /health/ready`. */
export const readinessReportSchema = z
  .strictObject({
    status: z.enum(['ok', 'degraded', 'starting', 'unavailable', 'shutting-down']).meta({
      description:
        'ok: Redis and MongoDB answer. degraded: Redis answers, MongoDB does not (sends are accepted into Redis and persisted later, cached reads answer). unavailable: Redis does not answer. starting: Redis has not yet been set up for this process (key layout checked, ws fan-out subscribed). shutting-down: the instance is draining before it closes. ok and degraded are ready (200), the others not (503).',
    }),
    degraded: z.array(z.literal('mongo')).optional().meta({
      description:
        'With degraded only: the parts that are down but which the instance can do without',
    }),
    redis: componentHealthSchema,
    mongo: componentHealthSchema,
  })
  .meta({
    id: 'ReadinessReport',
    examples: [
      {
        status: 'ok',
        redis: { status: 'ok', latencyMs: 1.3 },
        mongo: { status: 'ok', latencyMs: 1.5 },
      },
    ],
  });

export type ReadinessReportJson = z.output<typeof readinessReportSchema>;

/** `GET /health/live`. */
export const livenessSchema = z
  .strictObject({ status: z.literal('ok') })
  .meta({ id: 'Liveness', examples: [{ status: 'ok' }] });

const count = z.number().int().min(0);

/** `GET /api/stats`. */
export const statsSnapshotSchema = z
  .strictObject({
    at: timestamp('When the figures were read'),
    sends: count.meta({ description: 'Messages sent, over every API process' }),
    cacheHits: count,
    cacheMisses: count,
    hitRate: z.number().nullable().meta({ description: 'hits / (hits + misses); null before any' }),
    wsConnections: count.meta({ description: 'Open ws connections, over every API process' }),
    expirations: z.strictObject({ event: count, poll: count }).meta({
      description: 'Cache expirations the daemons processed, by what found them',
    }),
    persistFailures: count,
    lag: z
      .strictObject({ p50Ms: z.number().nullable(), p99Ms: z.number().nullable() })
      .meta({ description: 'Expiration lag percentiles of the daemons; null when none report' }),
    backlog: count.meta({ description: 'Entries in the expiry due index' }),
    deadLetter: count.meta({ description: 'Expirations in the dead-letter set' }),
    instances: z.strictObject({ api: count, daemon: count }).meta({
      description: 'Processes that reported in the last 10 s',
    }),
  })
  .meta({
    id: 'StatsSnapshot',
    description: 'Cluster-wide aggregates; no message or user data.',
    examples: [
      {
        at: '2026-12-08T03:28:46.201Z',
        sends: 4,
        cacheHits: 2,
        cacheMisses: 3,
        hitRate: 0.4,
        wsConnections: 2,
        expirations: { event: 0, poll: 0 },
        persistFailures: 0,
        lag: { p50Ms: null, p99Ms: null },
        backlog: 2,
        deadLetter: 0,
        instances: { api: 1, daemon: 0 },
      },
    ],
  });

export type StatsSnapshotJson = z.output<typeof statsSnapshotSchema>;

// ---------------------------------------------------------------------------------------
// Errors

/** The stable code of an error (src/errors/error-codes.ts); clients branch on it. */
export const errorCodeSchema = z.enum(ERROR_CODE_NAMES).meta({
  id: 'ErrorCode',
  description: 'The stable code of an error (see the README, Errors); clients branch on it',
});

/** `{ error: { code, message } }` with `code` one of `codes`. */
function errorBodyOf<C extends z.ZodType<ErrorCode>>(code: C) {
  return z.strictObject({
    error: z.strictObject({
      code,
      message: z.string().meta({
        description: 'For people, not for branching: it may change; the code does not',
      }),
    }),
  });
}

/** Every error answer of the REST API (and of the ws upgrade). */
export const errorBodySchema = errorBodyOf(errorCodeSchema).meta({
  id: 'ErrorBody',
  description: 'Every error answer: REST and the ws upgrade alike.',
  examples: [{ error: { code: 'USER_NOT_FOUND', message: 'No such user' } }],
});

/** The error body of an answer that can only carry one of `codes` (one route's status). */
export function errorBodySchemaFor(codes: readonly [ErrorCode, ...ErrorCode[]]) {
  return errorBodyOf(z.enum(codes));
}

/**
 * The message of a real answer with each code, for the examples; a code missing here is
 * answered with its registry message, as many codes always are (every 5xx: their own
 * messages are not shown to clients).
 */
export const ERROR_EXAMPLE_MESSAGES: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'content: content or imageUrl is required',
  INVALID_ID: 'receiverId must be 24 hex characters',
  UNAUTHORIZED: 'Send Authorization: Bearer <token>',
  FORBIDDEN: 'Only the sender may change or delete a message',
  NOT_FOUND: 'No route for GET /api/nowhere',
  METHOD_NOT_ALLOWED: 'PUT is not allowed on /api/auth/signup; allowed: POST',
  PAYLOAD_TOO_LARGE: 'The body is over the 100 KiB limit',
  UNSUPPORTED_MEDIA_TYPE: 'Send the body as Content-Type: application/json (UTF-8)',
  RATE_LIMITED: 'At most 3 messages per 10 s; retry in 10 s',
};

/** The example error body of `code`: a real answer's message, else the registry's. */
export function errorExample(code: ErrorCode): z.output<typeof errorBodySchema> {
  return { error: { code, message: ERROR_EXAMPLE_MESSAGES[code] ?? ERROR_CODES[code].message } };
}
