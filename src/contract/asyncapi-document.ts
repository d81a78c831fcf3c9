import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';
import { REALTIME_DEFAULTS } from '../realtime/realtime-options.js';
import { HTTP_ROUTES, routeErrorCodes } from './http-routes.js';
import {
  errorBodySchema,
  errorCodeSchema,
  messageRefSchema,
  messageSchema,
} from './http-schemas.js';
import { apiVersion } from './openapi-document.js';
import {
  CLOSE_GOING_AWAY,
  CLOSE_TRY_AGAIN_LATER,
  clientFrameSchema,
  serverFrameSchema,
  type ClientFrameType,
  type ServerFrameType,
} from './ws-frames.js';

/** The AsyncAPI document, as JSON. */
export type AsyncApiDocument = Record<string, unknown>;

/** Where the channel lives. */
const WS_PATH = REALTIME_DEFAULTS.path;

/** One way the server refuses an upgrade: an HTTP answer instead of the 101. */
export interface WsHandshakeRefusal {
  status: number;
  /**
   * The code of the `{ error: { code, message } }` body; absent when the refusal is the ws
   * library's own, a plain-text answer (`Content-Type: text/html`) whose body is the reason.
   */
  code?: ErrorCode;
  when: string;
  /** Headers the refusal always carries. */
  headers?: Readonly<Record<string, string>>;
}

/** A refusal of the upgrade gate, with the status of its code. */
function refusal(code: ErrorCode, when: string, headers?: Record<string, string>) {
  return { status: ERROR_CODES[code].status, code, when, ...(headers ? { headers } : {}) };
}

/**
 * How the server refuses an upgrade, in the order it checks: the upgrade gate's JSON answers
 * (src/realtime/upgrade-gate.ts), then ws's own checks of the handshake, in plain text.
 */
export const WS_HANDSHAKE_REFUSALS: readonly WsHandshakeRefusal[] = [
  refusal(
    'NOT_FOUND',
    `an upgrade of a path other than ${WS_PATH}, or of ${WS_PATH} once the server has stopped taking upgrades as it shuts down`,
  ),
  refusal(
    'SERVICE_UNAVAILABLE',
    "the server is shutting down, or the token's user cannot be checked (Redis and MongoDB unreachable): keep the token and retry",
  ),
  refusal(
    'FORBIDDEN',
    "a browser's `Origin` that is neither the API's own (`http(s)://` + `Host`) nor listed in ALLOWED_ORIGINS; a client that sends no `Origin` (not a browser) is not checked",
  ),
  refusal(
    'UNAUTHORIZED',
    'no token, a malformed `Authorization` header (it wins over `?token=`), or a token that is forged, expired, without `exp` or of a user that does not exist',
    { 'WWW-Authenticate': 'Bearer' },
  ),
  refusal(
    'TOO_MANY_CONNECTIONS',
    `the user already holds WS_MAX_CONNECTIONS_PER_USER (default ${REALTIME_DEFAULTS.maxConnectionsPerUser}) open connections on this API process; open connections are never closed to make room`,
  ),
  refusal('INTERNAL', 'an unexpected failure'),
  {
    status: 405,
    when: 'ws: a method other than GET (body "Invalid HTTP method")',
  },
  {
    status: 400,
    when: 'ws: a malformed handshake: an `Upgrade` other than websocket, a missing or invalid `Sec-WebSocket-Key`, a `Sec-WebSocket-Version` other than 13 or 8 (with `Sec-WebSocket-Version: 13, 8`), an invalid `Sec-WebSocket-Protocol` (the body names it, e.g. "Missing or invalid Sec-WebSocket-Key header")',
  },
];

/** The close codes a client can see, and why (RFC 6455 §7.4). */
export const WS_CLOSE_CODES: ReadonlyArray<{ code: number; name: string; when: string }> = [
  {
    code: 1000,
    name: 'Normal Closure',
    when: 'the client closed the connection (the server echoes its code)',
  },
  {
    code: CLOSE_GOING_AWAY,
    name: 'Going Away',
    when: 'the server is shutting down (reason "Server shutting down"): reconnect, and refetch what may have been missed',
  },
  {
    code: 1002,
    name: 'Protocol Error',
    when: 'a frame that breaks RFC 6455 (e.g. not masked, an unknown opcode, reserved bits set)',
  },
  {
    code: 1006,
    name: 'Abnormal Closure',
    when: 'never sent: what a client sees when the server drops the connection without a close frame, as it does to a socket that missed a heartbeat, or that did not finish the closing handshake in time',
  },
  {
    code: 1007,
    name: 'Invalid Frame Payload Data',
    when: 'a text frame that is not valid UTF-8 (RFC 6455 requires the close)',
  },
  {
    code: 1009,
    name: 'Message Too Big',
    when: `a frame over ${REALTIME_DEFAULTS.maxPayload} bytes (${REALTIME_DEFAULTS.maxPayload / 1024} KiB)`,
  },
  {
    code: CLOSE_TRY_AGAIN_LATER,
    name: 'Try Again Later',
    when: `a slow reader: more than ${REALTIME_DEFAULTS.maxBufferedBytes / (1024 * 1024)} MiB of frames wait to be sent to it (reason "Client too slow")`,
  },
];

/** The server frames that answer each client frame (an `error` when it is refused). */
const REPLIES: Readonly<Record<ClientFrameType, readonly ServerFrameType[]>> = {
  ping: ['pong', 'error'],
  'message:send': ['message:ack', 'error'],
};

/**
 * The codes of an `error` frame: the envelope's (BAD_JSON, VALIDATION_FAILED, UNKNOWN_TYPE),
 * RATE_LIMITED for too many frames waiting, and those of a REST send but its transport's.
 */
export function wsErrorCodes(): ErrorCode[] {
  const send = HTTP_ROUTES.find((r) => r.operationId === 'sendMessage');
  if (!send) throw new Error('the route table has no sendMessage');
  const restOnly = new Set<ErrorCode>([
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
    'UNAUTHORIZED',
  ]);
  const codes = new Set<ErrorCode>([
    'BAD_JSON',
    'VALIDATION_FAILED',
    'UNKNOWN_TYPE',
    'RATE_LIMITED',
  ]);
  for (const code of routeErrorCodes(send)) if (!restOnly.has(code)) codes.add(code);
  return [...codes];
}

const heartbeatSeconds = REALTIME_DEFAULTS.heartbeatMs / 1000;

const DESCRIPTION = `The ws protocol of chat-cache at \`${WS_PATH}\`, next to the REST API (\`/openapi.json\`).

**Handshake.** An HTTP upgrade (\`GET ${WS_PATH}\`) checked before the 101: the token as \`Authorization: Bearer <token>\` or, for browsers, \`?token=<token>\` (the header wins when both are given); a browser's \`Origin\` must be the API's own or listed in ALLOWED_ORIGINS. A refusal is a plain HTTP answer with the \`{ "error": { "code", "message" } }\` body, except the ws library's own checks of the handshake, which answer in plain text:
${WS_HANDSHAKE_REFUSALS.map((r) => `- ${r.status} ${r.code ?? '(plain text)'}: ${r.when}`).join('\n')}

**Frames.** One JSON object per text frame, with a string \`type\`. A bad frame (not JSON, a binary frame, not an object, an unknown type, invalid fields) gets an \`error\` frame and the connection stays open. At most ${REALTIME_DEFAULTS.maxQueuedFrames} frames of one connection wait for an answer; more get \`error\` RATE_LIMITED. Events (\`message:new\`, \`message:updated\`, \`message:deleted\`) reach every connection of the receiver and of the sender, whichever API process they are on; events published while a connection is down are not replayed: refetch over REST on reconnect.

**Heartbeat.** The server sends a protocol ping every ${heartbeatSeconds} s; a connection that has not answered the previous one with a pong is dropped (the client sees 1006). ws clients and browsers answer pings by themselves. \`{ "type": "ping" }\` is an application ping a client may send to check the connection; it is answered by \`{ "type": "pong" }\`.

**Close codes.**
${WS_CLOSE_CODES.map((c) => `- ${c.code} ${c.name}: ${c.when}`).join('\n')}`;

/** Builds the AsyncAPI 3.0 document of the ws protocol from the frame schemas. */
export function buildAsyncApiDocument(): AsyncApiDocument {
  const frames = [
    ...clientFrameSchema.options.map((schema) => ({ schema, from: 'client' as const })),
    ...serverFrameSchema.options.map((schema) => ({ schema, from: 'server' as const })),
  ];
  const schemas = componentSchemas([
    ...frames.map((f) => f.schema),
    messageSchema,
    messageRefSchema,
    errorCodeSchema,
    errorBodySchema,
  ]);

  const messages: Record<string, unknown> = {};
  const keyOf = new Map<string, string>();
  for (const { schema, from } of frames) {
    const type = schema.shape.type.value;
    const meta = metaOf(schema);
    const key = messageKey(type);
    keyOf.set(type, key);
    messages[key] = {
      name: type,
      title: meta.id,
      summary: `${from === 'client' ? 'Client → server' : 'Server → client'}: ${type}`,
      description: meta.description,
      payload: { $ref: `#/components/schemas/${meta.id}` },
      ...(meta.examples?.length
        ? { examples: meta.examples.map((payload, i) => ({ name: `${key}${i + 1}`, payload })) }
        : {}),
      ...(type === 'error' ? { 'x-error-codes': wsErrorCodes() } : {}),
    };
  }

  const channelRef = { $ref: '#/channels/chat' };
  const ref = (type: string) => ({ $ref: `#/channels/chat/messages/${keyOf.get(type)}` });
  const operations: Record<string, unknown> = {};
  for (const option of clientFrameSchema.options) {
    const type = option.shape.type.value;
    operations[`send${pascal(type)}`] = {
      action: 'send',
      channel: channelRef,
      summary: `Send a ${type} frame`,
      messages: [ref(type)],
      reply: { channel: channelRef, messages: REPLIES[type].map(ref) },
    };
  }
  const replied = new Set(Object.values(REPLIES).flat());
  for (const option of serverFrameSchema.options) {
    const type = option.shape.type.value;
    if (replied.has(type)) continue;
    operations[`receive${pascal(type)}`] = {
      action: 'receive',
      channel: channelRef,
      summary: `Receive ${type} events`,
      messages: [ref(type)],
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'chat-cache realtime API',
      version: apiVersion(),
      description: DESCRIPTION,
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      api: {
        host: '{host}',
        protocol: 'ws',
        description:
          'The API itself: ws:// where its REST API is http:// (wss:// behind a TLS proxy, as with deploy/nginx)',
        variables: {
          host: {
            default: 'localhost:3000',
            description: 'HOST:PORT of the API, or of the proxy in front of it',
          },
        },
        security: [
          { $ref: '#/components/securitySchemes/bearerHeader' },
          { $ref: '#/components/securitySchemes/tokenQuery' },
        ],
      },
    },
    channels: {
      chat: {
        address: WS_PATH,
        title: 'The chat connection',
        description:
          "One connection per client and tab; the user is the token's. See the document's description for the handshake, the heartbeat and the close codes.",
        servers: [{ $ref: '#/servers/api' }],
        messages: Object.fromEntries(
          [...keyOf.values()].map((key) => [key, { $ref: `#/components/messages/${key}` }]),
        ),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: {
                  type: 'string',
                  description:
                    'The token, for browsers (which cannot set headers on a WebSocket); ignored when an Authorization header is sent',
                },
              },
            },
            headers: {
              type: 'object',
              properties: {
                Authorization: {
                  type: 'string',
                  pattern: '^[Bb][Ee][Aa][Rr][Ee][Rr] +\\S+ *$',
                  description:
                    'Bearer <token>: the token of POST /api/auth/signup or /api/auth/login',
                },
                Origin: {
                  type: 'string',
                  description:
                    "Sent by browsers: the API's own origin or one of ALLOWED_ORIGINS, else 403",
                },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
        'x-handshake-refusals': WS_HANDSHAKE_REFUSALS.map((r) => ({
          status: r.status,
          ...(r.code ? { code: r.code } : {}),
          when: r.when,
          body: r.code
            ? { $ref: '#/components/schemas/ErrorBody' }
            : { type: 'string', description: 'The reason, as text (Content-Type: text/html)' },
          ...(r.headers ? { headers: r.headers } : {}),
        })),
        'x-close-codes': WS_CLOSE_CODES,
        'x-heartbeat': {
          pingIntervalMs: REALTIME_DEFAULTS.heartbeatMs,
          description: `A protocol ping every ${heartbeatSeconds} s to every connection; one that has not answered the previous ping with a pong is dropped.`,
        },
      },
    },
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        bearerHeader: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Authorization: Bearer <token> on the upgrade request',
        },
        tokenQuery: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: `${WS_PATH}?token=<token>, for browsers`,
        },
      },
    },
  };
}

interface FrameMeta {
  id: string;
  description?: string;
  examples?: unknown[];
}

function metaOf(schema: z.ZodType): FrameMeta {
  const meta = schema.meta();
  if (typeof meta?.id !== 'string') throw new Error('every frame schema needs a meta id');
  return meta as FrameMeta;
}

/**
 * The schemas as JSON Schema draft 7 (AsyncAPI's schema format), each under its meta id,
 * referring to one another as `#/components/schemas/<id>`.
 */
function componentSchemas(list: readonly z.ZodType[]): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const schema of list) registry.add(schema, { id: metaOf(schema).id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-7',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  if ('__shared' in schemas) {
    throw new Error(`schemas not listed: ${Object.keys(schemas.__shared?.definitions ?? {})}`);
  }
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      // Each is a component of the document, not a schema document of its own.
      const rest: Record<string, unknown> = { ...schema };
      delete rest.$schema;
      delete rest.$id;
      return [id, rest];
    }),
  );
}

/** `message:new` → `messageNew`. */
function messageKey(type: string): string {
  return type.replace(/[:_-](\w)/g, (_m, c: string) => c.toUpperCase());
}

/** `message:new` → `MessageNew`. */
function pascal(type: string): string {
  const key = messageKey(type);
  return key.charAt(0).toUpperCase() + key.slice(1);
}
