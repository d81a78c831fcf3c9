// Named types of the API, all taken from the generated contract (contract.gen.ts): a field
// renamed in src/contract/ changes them at the next `npm run contract:types`, and every
// use of it in the client, the pages and the tests fails to compile until it is followed.
import type { components, operations, paths } from './contract.gen.js';

type Schemas = components['schemas'];

/** A message as the API and the ws events carry it. */
export type Message = Schemas['Message'];
/** What a `message:deleted` event carries: the ids only. */
export type MessageRef = Schemas['MessageRef'];
/** A user as other users see it. */
export type User = Schemas['User'];
/** What sign-up and login answer: the user and its token. */
export type AuthResult = Schemas['AuthResult'];
/** Body of sign-up and login. */
export type Credentials = Schemas['Credentials'];
/** Body of `POST /api/messages/send` (and the fields of the ws `message:send` frame). */
export type SendMessageInput = Schemas['SendMessageRequest'];
/** Answer of `POST /api/messages/send`. */
export type SendResult = Schemas['SendResult'];
/** A page of a conversation, oldest first. */
export type ConversationPage = Schemas['ConversationPage'];
/** `GET /api/stats`: cluster-wide counters and gauges. */
export type StatsSnapshot = Schemas['StatsSnapshot'];
/** `GET /health`. */
export type HealthReport = Schemas['HealthReport'];
/** `GET /health/ready`. */
export type ReadinessReport = Schemas['ReadinessReport'];
/** `GET /health/live`. */
export type Liveness = Schemas['Liveness'];
/** The stable code of an API error; what callers branch on. */
export type ErrorCode = Schemas['ErrorCode'];

/** `X-Cache` of a conversation page: from the Redis cache (`HIT`) or from MongoDB (`MISS`). */
export type CacheStatus = operations['getConversation']['responses'][200]['headers']['X-Cache'];

/** Query of `GET /api/messages/{receiverId}`, with `limit` as a number (sent as text). */
export type ConversationQuery = Omit<
  NonNullable<operations['getConversation']['parameters']['query']>,
  'limit'
> & { limit?: number };

/** Every frame a client may send on `/ws`. */
export type ClientFrame = Schemas['ClientFrame'];
/** Every frame the server sends on `/ws`. */
export type ServerFrame = Schemas['ServerFrame'];
/** The server frame of `type` T. */
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
/** A `message:send` frame. */
export type MessageSendFrame = Schemas['MessageSendFrame'];
/** The answer to an accepted `message:send`. */
export type MessageAckFrame = Schemas['MessageAckFrame'];
/** A frame refused, or a send that failed. */
export type ErrorFrame = Schemas['ErrorFrame'];
/** `message:new`, `message:updated` and `message:deleted`. */
export type MessageEventFrame = ServerFrameOf<
  'message:new' | 'message:updated' | 'message:deleted'
>;

// ---- what the client's request core needs to type a route from the contract ----

/** The methods the API's routes use. */
export type Method = 'get' | 'post' | 'patch' | 'delete';

/** The operation of `method` on `path`, as the contract has it. */
export type OperationOf<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;

/** The statuses other than errors that an operation answers (2xx). */
type SuccessStatus = 200 | 201 | 202 | 204;

/** The JSON body of the operation's answers other than errors (2xx), or `undefined` (204). */
export type SuccessBody<O> = O extends { responses: infer R }
  ? {
      [S in keyof R & SuccessStatus]: S extends 204 ? undefined : JsonOf<R[S]>;
    }[keyof R & SuccessStatus]
  : never;

/** The JSON request body of the operation, or `never` when it takes none. */
export type RequestBodyOf<O> = O extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? B
    : never;

/** The path parameters of the operation, or `never` when it has none. */
export type PathParamsOf<O> = O extends { parameters: { path: infer P } } ? P : never;
