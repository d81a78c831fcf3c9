import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';
import { DOCS_ASSETS } from '../http/routes/docs-routes.js';
import {
  authResultSchema,
  conversationPageSchema,
  conversationPathSchema,
  conversationQuerySchema,
  credentialsSchema,
  editMessageSchema,
  errorBodySchemaFor,
  healthReportSchema,
  livenessSchema,
  messagePathSchema,
  messageResultSchema,
  readinessReportSchema,
  sendHeadersSchema,
  sendMessageSchema,
  sendResultSchema,
  STATIC_CONTENT_TYPES,
  staticPathSchema,
  statsSnapshotSchema,
  usersPageSchema,
} from './http-schemas.js';

/**
 * Every route of the REST API, in one table: the OpenAPI document (openapi-document.ts) is
 * built from it, and test/unit/openapi-document.test.ts checks that it lists exactly the
 * routes the API's routers register (a route added without an entry here fails the suite).
 */

/** The methods the routes use (HEAD is answered for every GET). */
export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

/** One answer of a route other than an error. */
export interface ResponseSpec {
  description: string;
  /** The body by media type; absent: no body. */
  content?: Readonly<Record<string, z.ZodType>>;
  /** The response headers that matter (an optional one is not always sent). */
  headers?: z.ZodObject;
}

/** One route. */
export interface RouteSpec {
  /** How clients and the documents name the call. */
  operationId: string;
  method: HttpMethod;
  /** In OpenAPI form: `/api/messages/item/{messageId}`. */
  path: string;
  summary: string;
  description?: string;
  tag: RouteTag;
  /** `bearer`: `Authorization: Bearer <token>`, checked before anything else of the route. */
  auth: 'bearer' | 'none';
  request?: {
    path?: z.ZodObject;
    query?: z.ZodObject;
    headers?: z.ZodObject;
    body?: z.ZodType;
  };
  /** The answers other than errors, by status. */
  responses: Readonly<Record<number, ResponseSpec>>;
  /**
   * The error codes of the route itself; those every route of its kind may answer are added
   * by {@link routeErrorCodes} (UNAUTHORIZED with a token, the body checks of a POST or
   * PATCH, INTERNAL).
   */
  errors: readonly ErrorCode[];
}

export const ROUTE_TAGS = {
  auth: 'Sign-up and login: a token for the other routes',
  users: 'Whom to write to',
  messages: 'Sending, reading, editing and deleting messages',
  stats: 'Cluster-wide figures of the dashboard',
  health: 'Probes for load balancers, orchestrators and alerts',
  pages: 'The browser pages and their files',
  contract: 'The API documents themselves',
} as const;

export type RouteTag = keyof typeof ROUTE_TAGS;

/**
 * The codes a POST, PUT or PATCH may get from the body reader, before routing and
 * authentication (src/http/middleware/json-body.ts).
 */
export const BODY_ERROR_CODES = [
  'BAD_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
] as const satisfies readonly ErrorCode[];

/**
 * How an error code carries `Retry-After`: always, or only sometimes (SERVICE_UNAVAILABLE
 * has it when the request ran out of time, not when a backing service is down).
 */
export const RETRY_AFTER: Readonly<Partial<Record<ErrorCode, 'always' | 'sometimes'>>> = {
  RATE_LIMITED: 'always',
  IDEMPOTENCY_IN_PROGRESS: 'always',
  SERVICE_UNAVAILABLE: 'sometimes',
};

/** The error codes `route` can answer with. */
export function routeErrorCodes(route: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>(route.errors);
  if (route.method === 'post' || route.method === 'patch') {
    for (const code of BODY_ERROR_CODES) codes.add(code);
  }
  if (route.auth === 'bearer') codes.add('UNAUTHORIZED');
  codes.add('INTERNAL');
  return [...codes];
}

const json = (schema: z.ZodType) => ({ 'application/json': schema });

/** Why a request may wait for a backing service: the 503 of the request deadline. */
const DEADLINE: ErrorCode = 'SERVICE_UNAVAILABLE';

const etagHeaders = z.strictObject({
  ETag: z.string().meta({
    description: 'Send it back as If-None-Match: 304 when nothing changed',
    examples: ['W/"a3c-19af04c2e10"'],
  }),
  'Cache-Control': z.literal('no-cache').meta({ description: 'Revalidate every time' }),
});

const notModified: ResponseSpec = {
  description: 'Not modified since the ETag given in If-None-Match',
  headers: etagHeaders.pick({ ETag: true }),
};

const page = (what: string): ResponseSpec => ({
  description: `${what} (with a strict Content-Security-Policy)`,
  content: { 'text/html': z.string() },
  headers: etagHeaders,
});

/** The media types of /static, from the static routes' own table. */
const staticContent = Object.fromEntries(
  [...new Set(Object.values(STATIC_CONTENT_TYPES).map((t) => t.split(';')[0]!.trim()))].map((t) => [
    t,
    z.string(),
  ]),
);

/** The Swagger UI files of the docs page, by name. */
const docsAssetPathSchema = z.strictObject({
  file: z.enum(DOCS_ASSETS).meta({
    description: 'A file of the installed swagger-ui-dist package; any other name is 404',
    examples: ['swagger-ui-bundle.js'],
  }),
});

const apiDocument = (what: string): ResponseSpec => ({
  description: what,
  content: json(z.record(z.string(), z.unknown())),
  headers: etagHeaders,
});

/** Every route of the API. */
export const HTTP_ROUTES: readonly RouteSpec[] = [
  {
    operationId: 'signup',
    method: 'post',
    path: '/api/auth/signup',
    summary: 'Create a user and get a token',
    description:
      'Throttled per username (failed attempts) and per client address (every attempt) across all API processes: 429 RATE_LIMITED with Retry-After, the same answers whether the username exists or not. A body refused by validation is not counted.',
    tag: 'auth',
    auth: 'none',
    request: { body: credentialsSchema },
    responses: {
      201: { description: 'Created: the user and a token', content: json(authResultSchema) },
    },
    errors: ['VALIDATION_FAILED', 'USERNAME_TAKEN', 'RATE_LIMITED', DEADLINE],
  },
  {
    operationId: 'login',
    method: 'post',
    path: '/api/auth/login',
    summary: 'Get a token',
    description:
      'Wrong credentials are 401 INVALID_CREDENTIALS, the same answer whether the user exists or not. Throttled as sign-up is.',
    tag: 'auth',
    auth: 'none',
    request: { body: credentialsSchema },
    responses: { 200: { description: 'The user and a token', content: json(authResultSchema) } },
    errors: ['VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'RATE_LIMITED', DEADLINE],
  },
  {
    operationId: 'listUsers',
    method: 'get',
    path: '/api/users',
    summary: 'The other users',
    tag: 'users',
    auth: 'bearer',
    responses: {
      200: { description: 'Every user but the caller', content: json(usersPageSchema) },
    },
    errors: [DEADLINE],
  },
  {
    operationId: 'sendMessage',
    method: 'post',
    path: '/api/messages/send',
    summary: 'Send a message',
    description:
      'Rate-limited per user across all API processes, REST and ws together (429 RATE_LIMITED with Retry-After). A refused send stores nothing. The receiver and every connection of the sender get it over ws as `message:new`.',
    tag: 'messages',
    auth: 'bearer',
    request: { headers: sendHeadersSchema, body: sendMessageSchema },
    responses: {
      200: {
        description:
          'A retry with the same idempotency key (Idempotency-Key or clientMsgId) and body: the first message, not stored again',
        content: json(sendResultSchema),
      },
      201: {
        description:
          'Stored: persisted true (write-through, in MongoDB before the answer), or persisted false (write-behind: in Redis, persisted by the expiry daemon)',
        content: json(sendResultSchema),
      },
      202: {
        description:
          'Accepted while MongoDB is down in write-through mode (persisted false): kept in Redis, persisted by the expiry daemon',
        content: json(sendResultSchema),
      },
    },
    errors: [
      'VALIDATION_FAILED',
      'INVALID_ID',
      'USER_NOT_FOUND',
      'IDEMPOTENCY_CONFLICT',
      'IDEMPOTENCY_IN_PROGRESS',
      'RATE_LIMITED',
      DEADLINE,
      'NOT_REPLICATED',
    ],
  },
  {
    operationId: 'getConversation',
    method: 'get',
    path: '/api/messages/{receiverId}',
    summary: 'A page of a conversation, oldest first',
    description:
      'Without `before`, the newest page; with it, the `limit` messages just older than that message. Deleted messages never appear. Any other query parameter, a repeated one, or a limit outside 1–100 is 400 VALIDATION_FAILED.',
    tag: 'messages',
    auth: 'bearer',
    request: { path: conversationPathSchema, query: conversationQuerySchema },
    responses: {
      200: {
        description: 'The page',
        content: json(conversationPageSchema),
        headers: z.strictObject({
          'X-Cache': z.enum(['HIT', 'MISS']).meta({
            description:
              'HIT: from the conversation cache in Redis; MISS: from MongoDB and the messages not yet persisted, then cached',
          }),
        }),
      },
    },
    errors: ['VALIDATION_FAILED', 'INVALID_ID', 'USER_NOT_FOUND', 'MESSAGE_NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getMessage',
    method: 'get',
    path: '/api/messages/item/{messageId}',
    summary: 'One message',
    description:
      'Read through its cache entry; only for its sender and receiver (anyone else: 404 MESSAGE_NOT_FOUND).',
    tag: 'messages',
    auth: 'bearer',
    request: { path: messagePathSchema },
    responses: { 200: { description: 'The message', content: json(messageResultSchema) } },
    errors: ['INVALID_ID', 'MESSAGE_NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'editMessage',
    method: 'patch',
    path: '/api/messages/item/{messageId}',
    summary: 'Edit the content of a message you sent',
    description:
      'Sender only (the receiver: 403 FORBIDDEN; anyone else: 404). Every cached copy is dropped before the answer; both users get `message:updated` over ws.',
    tag: 'messages',
    auth: 'bearer',
    request: { path: messagePathSchema, body: editMessageSchema },
    responses: { 200: { description: 'The edited message', content: json(messageResultSchema) } },
    errors: ['VALIDATION_FAILED', 'INVALID_ID', 'FORBIDDEN', 'MESSAGE_NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'deleteMessage',
    method: 'delete',
    path: '/api/messages/item/{messageId}',
    summary: 'Delete a message you sent',
    description:
      'Sender only (the receiver: 403 FORBIDDEN; anyone else: 404). A soft delete (a tombstone), so a late write-behind persist cannot bring it back; both users get `message:deleted` over ws.',
    tag: 'messages',
    auth: 'bearer',
    request: { path: messagePathSchema },
    responses: { 204: { description: 'Deleted' } },
    errors: ['INVALID_ID', 'FORBIDDEN', 'MESSAGE_NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getStats',
    method: 'get',
    path: '/api/stats',
    summary: 'Cluster-wide figures',
    description:
      'Sends, cache hit rate, expirations by source, lag, backlog and dead letters, over every API and daemon process (what the dashboard charts).',
    tag: 'stats',
    auth: 'bearer',
    responses: {
      200: {
        description: 'The figures',
        content: json(statsSnapshotSchema),
        headers: z.strictObject({ 'Cache-Control': z.literal('no-store') }),
      },
    },
    errors: [DEADLINE],
  },
  {
    operationId: 'getHealth',
    method: 'get',
    path: '/health',
    summary: 'The dependency report',
    description: 'For dashboards and alerts: whether Redis and MongoDB answer (1 s each).',
    tag: 'health',
    auth: 'none',
    responses: {
      200: {
        description: 'Redis and MongoDB answer (status ok)',
        content: json(healthReportSchema),
      },
      503: {
        description: 'Redis or MongoDB does not (status degraded; the one down has status down)',
        content: json(healthReportSchema),
      },
    },
    errors: [DEADLINE],
  },
  {
    operationId: 'getLiveness',
    method: 'get',
    path: '/health/live',
    summary: 'Liveness',
    description:
      'Whenever the process serves HTTP (also while it shuts down, until its listener closes); checks nothing else.',
    tag: 'health',
    auth: 'none',
    responses: { 200: { description: 'Alive', content: json(livenessSchema) } },
    errors: [],
  },
  {
    operationId: 'getReadiness',
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness: whether this instance accepts sends',
    tag: 'health',
    auth: 'none',
    responses: {
      200: {
        description: 'Ready: status ok, or degraded with degraded: ["mongo"] (sends go to Redis)',
        content: json(readinessReportSchema),
      },
      503: {
        description:
          'Not ready: status unavailable (no Redis), starting (Redis not set up yet for this process) or shutting-down',
        content: json(readinessReportSchema),
      },
    },
    errors: [DEADLINE],
  },
  {
    operationId: 'getChatPage',
    method: 'get',
    path: '/',
    summary: 'The chat page',
    tag: 'pages',
    auth: 'none',
    responses: { 200: page('The chat client'), 304: notModified },
    errors: ['NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getDashboardPage',
    method: 'get',
    path: '/dashboard',
    summary: 'The dashboard page',
    tag: 'pages',
    auth: 'none',
    responses: { 200: page('Live charts of GET /api/stats'), 304: notModified },
    errors: ['NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getDocsPage',
    method: 'get',
    path: '/docs',
    summary: 'The docs page',
    description:
      'This document in Swagger UI and the ws protocol (`/asyncapi.json`) rendered by the page itself; Swagger UI comes from `/docs/assets`, no CDN.',
    tag: 'pages',
    auth: 'none',
    responses: { 200: page('The OpenAPI and AsyncAPI documents'), 304: notModified },
    errors: ['NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getDocsAsset',
    method: 'get',
    path: '/docs/assets/{file}',
    summary: 'A Swagger UI file of the docs page',
    description: 'From the installed swagger-ui-dist package: its script and its stylesheet.',
    tag: 'pages',
    auth: 'none',
    request: { path: docsAssetPathSchema },
    responses: {
      200: {
        description: 'The file',
        content: { 'text/javascript': z.string(), 'text/css': z.string() },
        headers: etagHeaders,
      },
      304: notModified,
    },
    errors: ['NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getStaticFile',
    method: 'get',
    path: '/static/{file}',
    summary: 'A file of the pages (their scripts, styles and images)',
    description: '`file` may hold `/` (e.g. `js/web/chat.js`).',
    tag: 'pages',
    auth: 'none',
    request: { path: staticPathSchema },
    responses: {
      200: { description: 'The file', content: staticContent, headers: etagHeaders },
      304: notModified,
    },
    errors: ['NOT_FOUND', DEADLINE],
  },
  {
    operationId: 'getOpenApiDocument',
    method: 'get',
    path: '/openapi.json',
    summary: 'This document: the REST API in OpenAPI 3.1',
    tag: 'contract',
    auth: 'none',
    responses: { 200: apiDocument('The OpenAPI 3.1 document'), 304: notModified },
    errors: [],
  },
  {
    operationId: 'getAsyncApiDocument',
    method: 'get',
    path: '/asyncapi.json',
    summary: 'The ws protocol at /ws in AsyncAPI 3.0',
    tag: 'contract',
    auth: 'none',
    responses: { 200: apiDocument('The AsyncAPI 3.0 document'), 304: notModified },
    errors: [],
  },
];

/** One status a route answers with: its own answer, its error codes, or both. */
export interface ResolvedResponse {
  description: string;
  /** The body by media type; absent: no body. */
  content?: Readonly<Record<string, z.ZodType>>;
  headers?: z.ZodObject;
  /** The error codes answered with this status (their body is `{ error: { code, message } }`). */
  errorCodes: ErrorCode[];
}

/**
 * Every status `route` answers with: its {@link RouteSpec.responses} and, grouped by status,
 * the codes of {@link routeErrorCodes} with their error body (merged with the route's own
 * answer when both share a status, as the 503 of `/health`).
 */
export function resolvedResponses(route: RouteSpec): Map<number, ResolvedResponse> {
  const out = new Map<number, ResolvedResponse>();
  for (const [status, spec] of Object.entries(route.responses)) {
    out.set(Number(status), { ...spec, errorCodes: [] });
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrorCodes(route)) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    const body = errorBodySchemaFor(codes as [ErrorCode, ...ErrorCode[]]);
    const own = out.get(status);
    const described = codes.map((c) => `${c}: ${ERROR_CODES[c].message}`).join('; ');
    const retry = codes.map((c) => RETRY_AFTER[c]);
    const retryAfter = retry.some((r) => r !== undefined)
      ? { 'Retry-After': retryAfterHeader(retry.every((r) => r === 'always') && !own) }
      : undefined;
    const headers =
      own?.headers && retryAfter
        ? own.headers.extend(retryAfter)
        : (own?.headers ?? (retryAfter && z.strictObject(retryAfter)));
    const ownJson = own?.content?.['application/json'];
    out.set(status, {
      description: own ? `${own.description}; or an error: ${described}` : described,
      content: { 'application/json': ownJson ? z.union([ownJson, body]) : body },
      ...(headers ? { headers } : {}),
      errorCodes: codes,
    });
  }
  return new Map([...out].sort(([a], [b]) => a - b));
}

function retryAfterHeader(always: boolean) {
  const header = z
    .string()
    .regex(/^\d+$/)
    .meta({
      description:
        'Whole seconds to wait before retrying: until the rate-limit window ends (RATE_LIMITED), 1 (IDEMPOTENCY_IN_PROGRESS, and SERVICE_UNAVAILABLE when the request ran out of time; absent when a backing service is down)',
      examples: ['10'],
    });
  return always ? header : header.optional();
}
