import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Most Redis partitions a deployment may have (a message id carries its partition). */
export const MAX_REDIS_PARTITIONS = 1024;

/** How a sent message reaches MongoDB. */
export type PersistenceMode = 'write-through' | 'write-behind';

/**
 * Which process the configuration is for: each validates only the variables it uses (the
 * daemon and the CLI never need `JWT_SECRET`); `all` validates every one (`npm start` checks
 * the whole configuration this way before it starts anything).
 */
export type ProcessRole = 'api' | 'daemon' | 'cli' | 'all';

/** Exit code of a process stopped by a bad configuration; PM2 does not restart on it (EX_CONFIG). */
export const CONFIG_EXIT_CODE = 78;

/**
 * The validated, frozen configuration every process is built from.
 * Read once at start by {@link loadConfig}; passed down, never read from `process.env` again.
 */
export interface Config {
  readonly env: 'development' | 'production' | 'test';
  /** HTTP port of the API (and its ws endpoint). @defaultValue 3000 */
  readonly port: number;
  /** Interface the API binds. @defaultValue '127.0.0.1' */
  readonly host: string;
  /** A request not answered within this is answered 503 (a stalled backend). @defaultValue 10000 */
  readonly requestTimeoutMs: number;
  /**
   * At shutdown, how long the API keeps serving after `/health/ready` turns 503, so that a
   * load balancer polling it stops sending before the listener closes. @defaultValue 0
   */
  readonly shutdownDelayMs: number;
  readonly http: {
    /** A client must have sent all request headers within this. @defaultValue 10000 */
    readonly headersTimeoutMs: number;
    /** A client must have sent the whole request (headers and body) within this. @defaultValue 15000 */
    readonly receiveTimeoutMs: number;
    /**
     * Reverse proxies in front of the API that append to `X-Forwarded-For` (Koa's
     * `maxIpsCount`): the client address is the entry this many from the right, the one the
     * client-facing proxy appended; 0 = the socket's address, the header ignored.
     * @defaultValue 0
     */
    readonly trustProxyHops: number;
  };
  /** The API's Prometheus endpoint, on its own listener (instance n: port + n). */
  readonly metrics: {
    /** @defaultValue '127.0.0.1' */
    readonly host: string;
    /** Instance n listens on port + n, below the daemon's 9465. @defaultValue 9400 */
    readonly port: number;
  };
  readonly realtime: {
    /** Open ws connections per user on one API process; the next upgrade is refused with 429. @defaultValue 16 */
    readonly maxConnectionsPerUser: number;
    /**
     * Origins (`scheme://host[:port]`) whose pages may open a ws connection, beside the API's
     * own origin; `['*']` allows any. A request without `Origin` (not a browser) is allowed.
     */
    readonly allowedOrigins: readonly string[];
  };
  readonly redis: {
    /** Connection URL without the password (safe to log); on a cluster, the first seed node. */
    readonly url: string;
    /** Password, kept apart so that `url` can be logged. */
    readonly password: string | undefined;
    readonly username: string | undefined;
    /** Logical database; the daemon subscribes to `__keyevent@<db>__:expired`. @defaultValue 0 */
    readonly db: number;
    /** Prefix of every key this application writes. @defaultValue '' */
    readonly keyPrefix: string;
    /** Partitions of the conversations' keys (src/redis/key-space.ts). @defaultValue 1; 16 on a cluster */
    readonly partitions: number;
    /** Seed nodes (`redis[s]://host:port`) of a Redis Cluster; undefined = one node at `url`. */
    readonly clusterNodes: readonly string[] | undefined;
    /**
     * A send acknowledged while its message is only in Redis waits until `count` replicas
     * have it (`WAIT count timeoutMs`); 0 = no wait. @defaultValue { count: 0, timeoutMs: 1000 }
     */
    readonly waitReplicas: { readonly count: number; readonly timeoutMs: number };
    /**
     * True when none of REDIS_URL, REDIS_HOST, REDIS_PORT and REDIS_CLUSTER_NODES was set:
     * `npm start` runs (or reuses) a local Redis on 127.0.0.1:6379.
     */
    readonly isLocalDefault: boolean;
  };
  readonly mongo: {
    /** Connection URI with any password masked (safe to log). */
    readonly safeUri: string;
    readonly uri: string;
    readonly db: string;
    /** True when MONGODB_URI was not set: `npm start` runs (or reuses) a local server. */
    readonly isLocalDefault: boolean;
  };
  readonly cache: {
    /** Default TTL of cache entries. @defaultValue 5 */
    readonly ttlSeconds: number;
    /** Messages kept in a conversation cache list. @defaultValue 100 */
    readonly conversationSize: number;
  };
  readonly persistenceMode: PersistenceMode;
  readonly expiry: {
    /** Fallback poll interval of the daemon. @defaultValue 1000 */
    readonly pollIntervalMs: number;
    /** Entries claimed per round trip. @defaultValue 500 */
    readonly batchSize: number;
    /** Attempts before an expiration moves to the dead-letter set. @defaultValue 8 */
    readonly maxAttempts: number;
    /** How long a claim is held before another daemon may take it over. @defaultValue 30000 */
    readonly leaseMs: number;
    readonly metricsPort: number;
    readonly metricsHost: string;
  };
  readonly auth: {
    readonly jwtSecret: string;
    /** True when JWT_SECRET was not given and a throwaway one was generated. */
    readonly jwtSecretGenerated: boolean;
    /**
     * The secret before the last rotation: tokens it signed are still accepted (new ones are
     * signed with `jwtSecret`) until they expire. @defaultValue undefined
     */
    readonly previousJwtSecret: string | undefined;
  };
  readonly rateLimit: {
    /** Sends allowed per user per window (REST and ws together). @defaultValue 30 */
    readonly sends: number;
    readonly windowSeconds: number;
  };
  /** Login and sign-up throttling, counted across API processes. */
  readonly authRateLimit: {
    /** Failed logins and sign-ups naming one username, per window. @defaultValue 10 */
    readonly perUsername: number;
    /** Logins and sign-ups from one client address, per window. @defaultValue 100 */
    readonly perAddress: number;
    /** @defaultValue 900 */
    readonly windowSeconds: number;
  };
  readonly logLevel: string;
  /** Instances ecosystem.config.js starts (`role` 'all' only; 1 otherwise). */
  readonly pm2: {
    /** @defaultValue 1 */
    readonly apiInstances: number;
    /** @defaultValue 1 */
    readonly daemonInstances: number;
  };
}

/**
 * Thrown by {@link loadConfig}; `message` is the one line printed before exit code
 * {@link CONFIG_EXIT_CODE}: `Invalid configuration: NAME = "value": what is allowed`.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  /**
   * @param variable the variable at fault
   * @param shownValue its value as it may be shown (quoted, or described when long); omitted
   *   for secrets
   */
  constructor(
    readonly variable: string,
    detail: string,
    shownValue?: string,
  ) {
    super(
      `Invalid configuration: ${variable}${shownValue === undefined ? '' : ` = ${shownValue}`}: ${detail}`,
    );
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function intVar(min: number, max: number, what: string) {
  const message = `must be a whole number ${what} from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, message)
    .transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message));
}

function booleanVar() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['true', 'false', '1', '0'], { message: 'must be true or false' }))
    .transform((v) => v === 'true' || v === '1');
}

const CLUSTER_NODES_MESSAGE =
  'must be a comma-separated list of host:port (or redis:// / rediss:// URLs) of cluster nodes';

const clusterNodesVar = z
  .string()
  .trim()
  .transform((v) => v.split(',').map((s) => s.trim()))
  .pipe(
    z
      .array(
        z
          .string()
          .refine((s) => clusterNodeUrl(s) !== undefined, { message: CLUSTER_NODES_MESSAGE }),
      )
      .min(1, CLUSTER_NODES_MESSAGE),
  );

/** `host:port` or a `redis://`/`rediss://` URL of a cluster node, as a URL; undefined if neither. */
function clusterNodeUrl(node: string): string | undefined {
  const url = /^rediss?:\/\//.test(node) ? node : `redis://${node}`;
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  if (!u.hostname || !/^\d+$/.test(u.port) || (u.pathname !== '' && u.pathname !== '/')) {
    return undefined;
  }
  return `${u.protocol}//${u.host}`;
}

/** Partitions when REDIS_PARTITIONS is unset: enough to spread a cluster's slots. */
const DEFAULT_CLUSTER_PARTITIONS = 16;

const ORIGINS_MESSAGE =
  'must be * or a comma-separated list of origins such as https://chat.example.com';

/** `*`, or origins exactly as browsers send them (`scheme://host[:port]`, no path). */
const originsVar = z
  .string()
  .trim()
  .transform((v) =>
    v
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== ''),
  )
  .refine(
    (list) =>
      (list.length === 1 && list[0] === '*') ||
      list.every((o) => URL.canParse(o) && new URL(o).origin === o.toLowerCase()),
    { message: ORIGINS_MESSAGE },
  )
  .transform((list) => list.map((o) => o.toLowerCase()));

// One schema entry per variable, so that a failure names exactly one variable.
const vars = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: intVar(0, 65535, 'port').default(3000),
  HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  REQUEST_TIMEOUT_MS: intVar(100, 600000, 'of milliseconds').default(10000),
  HEADERS_TIMEOUT_MS: intVar(1000, 600000, 'of milliseconds').default(10000),
  RECEIVE_TIMEOUT_MS: intVar(1000, 600000, 'of milliseconds').default(15000),
  SHUTDOWN_DELAY_MS: intVar(0, 60000, 'of milliseconds').default(0),
  TRUST_PROXY_HOPS: intVar(0, 10, 'of proxy hops').optional(),
  // The older switch, kept as an alias: true = 1 hop, false = 0.
  TRUST_PROXY: booleanVar().optional(),
  METRICS_HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  METRICS_PORT: intVar(0, 65535, 'port').default(9400),
  WS_MAX_CONNECTIONS_PER_USER: intVar(1, 10000, 'of connections').default(16),
  ALLOWED_ORIGINS: originsVar.default([]),
  REDIS_URL: z
    .string()
    .trim()
    .refine((v) => /^rediss?:\/\//.test(v) && URL.canParse(v), {
      message: 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379',
    })
    .optional(),
  REDIS_HOST: z.string().trim().min(1, 'must not be empty').optional(),
  REDIS_PORT: intVar(1, 65535, 'port').default(6379),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_DB: intVar(0, 15, 'database index').optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]*$/, 'may hold only letters, digits and _ : . -')
    .default(''),
  REDIS_PARTITIONS: intVar(1, MAX_REDIS_PARTITIONS, 'of partitions').optional(),
  REDIS_CLUSTER_NODES: clusterNodesVar.optional(),
  REDIS_WAIT_REPLICAS: intVar(0, 16, 'of replicas').default(0),
  REDIS_WAIT_TIMEOUT_MS: intVar(10, 60000, 'of milliseconds').default(1000),
  MONGODB_URI: z
    .string()
    .trim()
    .refine((v) => /^mongodb(\+srv)?:\/\//.test(v) && URL.canParse(v), {
      message: 'must be a mongodb:// or mongodb+srv:// URI, e.g. mongodb://127.0.0.1:27017',
    })
    .optional(),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, _ or -')
    .default('chat'),
  CACHE_TTL_SECONDS: intVar(1, 86400, 'of seconds').default(5),
  CONVERSATION_CACHE_SIZE: intVar(1, 1000, 'of messages').default(100),
  POLL_INTERVAL_MS: intVar(10, 60000, 'of milliseconds').default(1000),
  EXPIRY_BATCH_SIZE: intVar(1, 10000, 'of entries').default(500),
  EXPIRY_MAX_ATTEMPTS: intVar(1, 100, 'of attempts').default(8),
  EXPIRY_LEASE_MS: intVar(1000, 600000, 'of milliseconds').default(30000),
  ALLOW_LOCAL_SERVERS: booleanVar().default(false),
  PERSISTENCE_MODE: z
    .enum(['write-through', 'write-behind'], {
      message: 'must be write-through or write-behind',
    })
    .default('write-through'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_PREVIOUS_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  DAEMON_METRICS_PORT: intVar(0, 65535, 'port').default(9465),
  DAEMON_METRICS_HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  RATE_LIMIT_SENDS: intVar(1, 100000, 'of sends').default(30),
  RATE_LIMIT_WINDOW_SECONDS: intVar(1, 3600, 'of seconds').default(10),
  AUTH_RATE_LIMIT_ATTEMPTS: intVar(1, 100000, 'of attempts').default(10),
  AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: intVar(1, 1000000, 'of attempts').default(100),
  AUTH_RATE_LIMIT_WINDOW_SECONDS: intVar(1, 86400, 'of seconds').default(900),
  API_INSTANCES: intVar(1, 64, 'of instances').default(1),
  DAEMON_INSTANCES: intVar(1, 64, 'of instances').default(1),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
} as const;

type VarName = keyof typeof vars;
type Parsed = { [K in VarName]: z.output<(typeof vars)[K]> };

/** Variables only the API process reads. */
const API_ONLY: readonly VarName[] = [
  'PORT',
  'HOST',
  'REQUEST_TIMEOUT_MS',
  'HEADERS_TIMEOUT_MS',
  'RECEIVE_TIMEOUT_MS',
  'SHUTDOWN_DELAY_MS',
  'TRUST_PROXY_HOPS',
  'TRUST_PROXY',
  'METRICS_HOST',
  'METRICS_PORT',
  'WS_MAX_CONNECTIONS_PER_USER',
  'ALLOWED_ORIGINS',
  'JWT_SECRET',
  'JWT_PREVIOUS_SECRET',
  'RATE_LIMIT_SENDS',
  'RATE_LIMIT_WINDOW_SECONDS',
  'AUTH_RATE_LIMIT_ATTEMPTS',
  'AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS',
  'AUTH_RATE_LIMIT_WINDOW_SECONDS',
  'REDIS_WAIT_REPLICAS',
  'REDIS_WAIT_TIMEOUT_MS',
];
/** Variables only the expiry daemon reads. */
const DAEMON_ONLY: readonly VarName[] = ['DAEMON_METRICS_PORT', 'DAEMON_METRICS_HOST'];

/** Variables only ecosystem.config.js reads (PM2 instance counts), checked by `npm start`. */
const PM2_ONLY: readonly VarName[] = ['API_INSTANCES', 'DAEMON_INSTANCES'];

function readBy(role: ProcessRole, name: VarName): boolean {
  if (role === 'all') return true;
  if (PM2_ONLY.includes(name)) return false;
  if (API_ONLY.includes(name)) return role === 'api';
  if (DAEMON_ONLY.includes(name)) return role === 'daemon';
  return true;
}

/** Variables whose value is never shown in an error. */
const SECRET_VARS: readonly VarName[] = ['JWT_SECRET', 'JWT_PREVIOUS_SECRET', 'REDIS_PASSWORD'];

function describe(value: string | undefined): string {
  if (value === undefined) return 'is required';
  // Never echo a value that might be a secret.
  return value.length > 40 ? `(${value.length} characters)` : JSON.stringify(value);
}

/** Masks the password of a URL so it can be logged. */
export function maskUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Validates `env` (normally `process.env` after dotenv) into a frozen {@link Config}.
 * Variables the `role` does not read keep their defaults and are not validated.
 * @throws ConfigError naming the first variable at fault.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  role: ProcessRole = 'all',
): Config {
  const out: Partial<Record<VarName, unknown>> = {};
  for (const name of Object.keys(vars) as VarName[]) {
    const given = readBy(role, name) ? env[name] : undefined;
    const raw = given === '' && name !== 'REDIS_PASSWORD' ? undefined : given;
    const result = vars[name].safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0];
      const secret = SECRET_VARS.includes(name);
      const shown = secret ? undefined : describe(raw);
      throw new ConfigError(name, issue?.message ?? 'is invalid', shown);
    }
    out[name] = result.data;
  }
  const v = out as Parsed;

  // Redis: REDIS_URL wins; otherwise REDIS_HOST/PORT/PASSWORD as in the guide.
  let redisUrl: URL;
  if (v.REDIS_URL) {
    redisUrl = new URL(v.REDIS_URL);
  } else {
    redisUrl = new URL(`redis://${v.REDIS_HOST ?? '127.0.0.1'}:${v.REDIS_PORT}`);
  }
  const password =
    decodeURIComponent(redisUrl.password) || (v.REDIS_PASSWORD ? v.REDIS_PASSWORD : undefined);
  const username = decodeURIComponent(redisUrl.username) || undefined;
  const urlDbText = redisUrl.pathname.replace(/^\//, '');
  let urlDb: number | undefined;
  if (urlDbText !== '') {
    if (!/^\d+$/.test(urlDbText) || Number(urlDbText) > 15) {
      throw new ConfigError('REDIS_URL', `has database path "/${urlDbText}"; use 0 to 15`);
    }
    urlDb = Number(urlDbText);
  }
  if (urlDb !== undefined && v.REDIS_DB !== undefined && urlDb !== v.REDIS_DB) {
    throw new ConfigError(
      'REDIS_DB',
      `(${v.REDIS_DB}) contradicts the database /${urlDb} in REDIS_URL; set only one`,
    );
  }
  redisUrl.password = '';
  redisUrl.username = '';
  redisUrl.pathname = '';
  const clusterNodes = v.REDIS_CLUSTER_NODES?.map((n) => clusterNodeUrl(n)!);
  if (clusterNodes) {
    const other = ['REDIS_URL', 'REDIS_HOST'].find((name) => env[name]?.trim());
    if (other) {
      throw new ConfigError(
        'REDIS_CLUSTER_NODES',
        `and ${other} are both set; set only one (a cluster, or one node)`,
      );
    }
    if ((v.REDIS_DB ?? 0) !== 0) {
      throw new ConfigError(
        'REDIS_DB',
        'must be 0 on a cluster (Redis Cluster has database 0 only)',
      );
    }
  }

  if (v.HEADERS_TIMEOUT_MS > v.RECEIVE_TIMEOUT_MS) {
    throw new ConfigError(
      'HEADERS_TIMEOUT_MS',
      `(${v.HEADERS_TIMEOUT_MS}) must not exceed RECEIVE_TIMEOUT_MS (${v.RECEIVE_TIMEOUT_MS})`,
    );
  }

  // TRUST_PROXY is the older name for 0 or 1 hop: both set must say the same.
  const aliasHops = v.TRUST_PROXY === undefined ? undefined : Number(v.TRUST_PROXY);
  if (
    v.TRUST_PROXY_HOPS !== undefined &&
    aliasHops !== undefined &&
    v.TRUST_PROXY_HOPS !== aliasHops
  ) {
    throw new ConfigError(
      'TRUST_PROXY_HOPS',
      `(${v.TRUST_PROXY_HOPS}) contradicts TRUST_PROXY=${v.TRUST_PROXY} (${aliasHops} hop${aliasHops === 1 ? '' : 's'}); set only TRUST_PROXY_HOPS`,
    );
  }
  const trustProxyHops = v.TRUST_PROXY_HOPS ?? aliasHops ?? 0;

  const env_ = v.NODE_ENV;
  const redisIsLocalDefault =
    !v.REDIS_URL && !v.REDIS_HOST && !env.REDIS_PORT?.trim() && !clusterNodes;
  const mongoIsLocalDefault = !v.MONGODB_URI;
  // Before JWT_SECRET: a production start without its servers is told that first.
  if (env_ === 'production' && !v.ALLOW_LOCAL_SERVERS) {
    const missing = [
      ...(redisIsLocalDefault
        ? ['REDIS_URL (or REDIS_HOST, REDIS_PORT, REDIS_CLUSTER_NODES)']
        : []),
      ...(mongoIsLocalDefault ? ['MONGODB_URI'] : []),
    ];
    if (missing.length > 0) {
      throw new ConfigError(
        missing.join(' and '),
        `${missing.length > 1 ? 'are' : 'is'} required when NODE_ENV=production (or set ` +
          'ALLOW_LOCAL_SERVERS=true to run local servers on 127.0.0.1)',
      );
    }
  }

  let jwtSecret = v.JWT_SECRET;
  let jwtSecretGenerated = false;
  if (!jwtSecret) {
    if (env_ === 'production' && readBy(role, 'JWT_SECRET')) {
      throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production');
    }
    jwtSecret = randomBytes(32).toString('hex');
    jwtSecretGenerated = true;
  }

  if (v.JWT_PREVIOUS_SECRET !== undefined && v.JWT_PREVIOUS_SECRET === jwtSecret) {
    throw new ConfigError(
      'JWT_PREVIOUS_SECRET',
      'equals JWT_SECRET; set it to the secret being replaced, or leave it unset',
    );
  }

  const mongoUri = v.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';
  const logLevel = v.LOG_LEVEL ?? (env_ === 'test' ? 'warn' : 'info');

  return deepFreeze<Config>({
    env: env_,
    port: v.PORT,
    host: v.HOST,
    requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
    shutdownDelayMs: v.SHUTDOWN_DELAY_MS,
    http: {
      headersTimeoutMs: v.HEADERS_TIMEOUT_MS,
      receiveTimeoutMs: v.RECEIVE_TIMEOUT_MS,
      trustProxyHops,
    },
    metrics: { host: v.METRICS_HOST, port: v.METRICS_PORT },
    realtime: {
      maxConnectionsPerUser: v.WS_MAX_CONNECTIONS_PER_USER,
      allowedOrigins: v.ALLOWED_ORIGINS,
    },
    redis: {
      url: clusterNodes?.[0] ?? redisUrl.toString().replace(/\/$/, ''),
      password,
      username,
      db: v.REDIS_DB ?? urlDb ?? 0,
      keyPrefix: v.REDIS_KEY_PREFIX,
      partitions: v.REDIS_PARTITIONS ?? (clusterNodes ? DEFAULT_CLUSTER_PARTITIONS : 1),
      clusterNodes,
      waitReplicas: { count: v.REDIS_WAIT_REPLICAS, timeoutMs: v.REDIS_WAIT_TIMEOUT_MS },
      isLocalDefault: redisIsLocalDefault,
    },
    mongo: {
      uri: mongoUri,
      safeUri: maskUrl(mongoUri),
      db: v.MONGODB_DB,
      isLocalDefault: mongoIsLocalDefault,
    },
    cache: { ttlSeconds: v.CACHE_TTL_SECONDS, conversationSize: v.CONVERSATION_CACHE_SIZE },
    persistenceMode: v.PERSISTENCE_MODE,
    expiry: {
      pollIntervalMs: v.POLL_INTERVAL_MS,
      batchSize: v.EXPIRY_BATCH_SIZE,
      maxAttempts: v.EXPIRY_MAX_ATTEMPTS,
      leaseMs: v.EXPIRY_LEASE_MS,
      metricsPort: v.DAEMON_METRICS_PORT,
      metricsHost: v.DAEMON_METRICS_HOST,
    },
    auth: { jwtSecret, jwtSecretGenerated, previousJwtSecret: v.JWT_PREVIOUS_SECRET },
    rateLimit: { sends: v.RATE_LIMIT_SENDS, windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS },
    authRateLimit: {
      perUsername: v.AUTH_RATE_LIMIT_ATTEMPTS,
      perAddress: v.AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS,
      windowSeconds: v.AUTH_RATE_LIMIT_WINDOW_SECONDS,
    },
    logLevel,
    pm2: { apiInstances: v.API_INSTANCES, daemonInstances: v.DAEMON_INSTANCES },
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}

/** Names of every variable {@link loadConfig} reads, for documentation tests. */
export const CONFIG_VARIABLES = Object.keys(vars) as readonly string[];
