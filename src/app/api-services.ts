import type { MongoClient } from 'mongodb';
import { AuthService } from '../auth/auth-service.js';
import { AuthThrottle } from '../auth/auth-throttle.js';
import { TokenService, type AuthUser } from '../auth/token-service.js';
import { UserStore } from '../auth/user-store.js';
import { CacheService } from '../cache/cache-service.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { ConversationCache } from '../messages/conversation-cache.js';
import type { EventPublisher } from '../messages/message-events.js';
import { MessageService, type MessageObserver } from '../messages/message-service.js';
import { MessageStore } from '../messages/message-store.js';
import { SendIdempotency } from '../messages/send-idempotency.js';
import { SendRateLimiter } from '../messages/send-rate-limiter.js';
import { keySpaceOf, type KeySpace } from '../redis/key-space.js';
import { ReplicaWait } from '../redis/replica-wait.js';
import type { RedisClient } from '../redis/redis-client.js';

export interface ApiServiceDeps {
  config: Config;
  logger: Logger;
  /** The API's command connection (not a subscriber). */
  redis: RedisClient;
  /**
   * With REDIS_WAIT_REPLICAS: the connection of the sends that wait for replicas (WAIT
   * blocks it while it waits).
   */
  durableRedis?: RedisClient;
  mongo: MongoClient;
  /** Fans message events out to ws clients on every API process. */
  publisher: EventPublisher;
  /** Metrics hooks of the message service. */
  observer?: MessageObserver;
}

/** The domain services of an API process, shared by the REST routes and the ws server. */
export interface ApiServices {
  space: KeySpace;
  cache: CacheService;
  users: UserStore;
  tokens: TokenService;
  auth: AuthService;
  /** Send / read / edit / delete; the rate limit and idempotency are inside `send`. */
  messageService: MessageService;
  rateLimiter: SendRateLimiter;
  /**
   * Bearer token → user, who must exist; throws AppError UNAUTHORIZED (or
   * SERVICE_UNAVAILABLE when that cannot be told). For the ws upgrade too.
   */
  verifyToken(token: string): Promise<AuthUser>;
  /** Creates the MongoDB indexes (users: unique username; messages: conversation order). */
  ensureIndexes(): Promise<void>;
}

/** Builds the services from the clients (no connecting, no listening). */
export function createApiServices(deps: ApiServiceDeps): ApiServices {
  const { config, logger, redis, mongo, publisher } = deps;
  const space = keySpaceOf(config.redis);
  const keys = space.shared;
  const db = mongo.db(config.mongo.db);
  const cache = new CacheService({
    redis,
    space,
    logger,
    defaultTtlSeconds: config.cache.ttlSeconds,
  });
  const users = UserStore.fromDb(db, {
    shared: { redis, key: (id) => space.forUser(id).knownUsers },
  });
  const tokens = new TokenService({
    secret: config.auth.jwtSecret,
    previousSecret: config.auth.previousJwtSecret,
  });
  const throttle = new AuthThrottle({
    redis,
    keys,
    perUsername: config.authRateLimit.perUsername,
    perAddress: config.authRateLimit.perAddress,
    windowSeconds: config.authRateLimit.windowSeconds,
  });
  const auth = new AuthService(users, tokens, throttle);
  const rateLimiter = new SendRateLimiter({
    redis,
    keys,
    limit: config.rateLimit.sends,
    windowSeconds: config.rateLimit.windowSeconds,
  });
  const messageService = new MessageService({
    redis,
    space,
    logger,
    messages: MessageStore.fromDb(db),
    users,
    cache,
    conversations: new ConversationCache({
      redis,
      space,
      ttlSeconds: config.cache.ttlSeconds,
      size: config.cache.conversationSize,
    }),
    publisher,
    rateLimiter,
    idempotency: new SendIdempotency({ redis, keys }),
    persistenceMode: config.persistenceMode,
    ttlSeconds: config.cache.ttlSeconds,
    conversationSize: config.cache.conversationSize,
    observer: deps.observer,
    replicaWait: deps.durableRedis
      ? new ReplicaWait(
          deps.durableRedis,
          config.redis.waitReplicas.count,
          config.redis.waitReplicas.timeoutMs,
        )
      : undefined,
  });
  return {
    space,
    cache,
    users,
    tokens,
    auth,
    messageService,
    rateLimiter,
    verifyToken: auth.verifyToken,
    async ensureIndexes() {
      await Promise.all([users.ensureIndexes(), messageService.ensureIndexes()]);
    },
  };
}
