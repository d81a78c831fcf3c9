/**
 * The typed client of the chat-cache API: REST ({@link ChatClient}) and ws
 * ({@link RealtimeConnection}), typed from the API's contract (contract.gen.ts, generated
 * from `/openapi.json` by `npm run contract:types`). ESM, no dependency beyond `fetch` and
 * `WebSocket`: it runs in browsers and in Node ≥ 20 (pass the `ws` package's WebSocket there).
 */
export * from './api-types.js';
export { backoffDelay, retryAfterMs, type BackoffOptions } from './backoff.js';
export { ChatApiError, ChatNetworkError } from './chat-api-error.js';
export {
  ChatClient,
  type CallOptions,
  type ChatClientOptions,
  type Conversation,
  type FetchLike,
  type SendOptions,
  type SendOutcome,
} from './chat-client.js';
export { newIdempotencyKey } from './idempotency-key.js';
export {
  RealtimeConnection,
  type CloseInfo,
  type RealtimeEvents,
  type RealtimeOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './realtime.js';
