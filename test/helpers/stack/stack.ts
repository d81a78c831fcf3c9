import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { createClient } from 'redis';
import type { StartOptions } from 'pm2';
import { loadConfig, type PersistenceMode } from '../../../src/config/config.js';
import { sleep } from '../../../src/lifecycle/wait.js';
import { createLogger } from '../../../src/logging/logger.js';
import { freePort } from '../../../src/local/port-probe.js';
import { keySpaceOf, KeySpace } from '../../../src/redis/key-space.js';
import { RedisKeys } from '../../../src/redis/keys.js';
import { createRedisClient, type RedisClient } from '../../../src/redis/redis-client.js';
import {
  startThrowawayCluster,
  startThrowawayMongo,
  startThrowawayRedis,
  type ThrowawayCluster,
  type ThrowawayMongo,
  type ThrowawayRedis,
} from '../servers.js';
import { waitForDrain } from '../load/verify.js';
import { loadEcosystemApps, type EcosystemApps } from './ecosystem-apps.js';
import { Pm2Control, type Pm2Process } from './pm2-control.js';
import { TcpProxy } from './tcp-proxy.js';

/** How a {@link ChaosStack} is configured. */
export interface StackOptions {
  /** @defaultValue 2 */
  apiInstances?: number;
  /** @defaultValue 2 */
  daemonInstances?: number;
  /** @defaultValue 'write-through' */
  persistenceMode?: PersistenceMode;
  /** Extra redis-server arguments, e.g. `['--appendfsync', 'always']`. */
  redisExtraArgs?: string[];
  /** RATE_LIMIT_SENDS: high, so that the load is not throttled. @defaultValue 100000 */
  rateLimitSends?: number;
  /** @defaultValue 1 */
  cacheTtlSeconds?: number;
  /** More variables for both apps. */
  env?: Record<string, string>;
  /**
   * Run on a throwaway Redis Cluster (3 masters + 3 replicas, cluster-node-timeout 1000,
   * persistence off) through REDIS_CLUSTER_NODES instead of one redis-server. There is no
   * proxy then (the cluster client finds every node by itself), so the daemon↔Redis cut
   * and the Redis crash scenarios do not apply. @defaultValue false
   */
  cluster?: boolean;
}

/** A plain client of the stack's Redis (directly, not through the proxy). */
export type InspectRedis = ReturnType<typeof createClient>;

/**
 * The whole production stack on throwaway servers: a `redis-server` with the project's
 * redis.conf and AOF on, the MongoDB-protocol server, and the PM2 ecosystem's `api`
 * (cluster) and `expiry-daemon` apps running the compiled dist/, started with PM2's
 * programmatic API on a private PM2 daemon. The daemons reach Redis through a
 * {@link TcpProxy}, so the network between them and Redis can be cut. With
 * {@link StackOptions.cluster} a throwaway Redis Cluster takes the place of the
 * redis-server and the proxy.
 *
 * Everything lives in one temporary directory (Redis data, PM2 logs; a cluster's nodes in
 * one of their own) removed by {@link close}, which also stops every process, even after a
 * failed start.
 */
export class ChaosStack {
  readonly id = randomBytes(4).toString('hex');
  readonly prefix = `chaos:${this.id}:`;
  readonly dbName = `chaos_${this.id}`;
  readonly jwtSecret = randomBytes(32).toString('hex');
  /** The keys of a single node (the one untagged partition); on a cluster see {@link space}. */
  readonly keys = new RedisKeys(this.prefix);
  /** Where the apps put each key: {@link keys} on one node, tagged partitions on a cluster. */
  space: KeySpace = KeySpace.single(this.prefix);
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'chat-chaos-'));
  readonly logDir = path.join(this.dir, 'logs');
  port = 0;
  redis: ThrowawayRedis | undefined;
  /** Set instead of {@link redis} (and {@link proxy}) on a cluster stack. */
  cluster: ThrowawayCluster | undefined;
  mongo: ThrowawayMongo | undefined;
  proxy: TcpProxy | undefined;
  pm2: Pm2Control | undefined;
  inspectRedis: InspectRedis | undefined;
  /** The cluster stack's inspecting client (a cluster client); {@link inspectRedis} on one node. */
  inspectCluster: RedisClient | undefined;
  private mongoClient: MongoClient | undefined;
  private apps: EcosystemApps | undefined;
  readonly options: Required<Omit<StackOptions, 'env' | 'redisExtraArgs' | 'cluster'>> &
    Pick<StackOptions, 'env' | 'redisExtraArgs' | 'cluster'>;

  private constructor(opts: StackOptions) {
    this.options = {
      apiInstances: 2,
      daemonInstances: 2,
      persistenceMode: 'write-through',
      rateLimitSends: 100000,
      cacheTtlSeconds: 1,
      ...opts,
    };
  }

  /**
   * Starts the servers, the proxy and the PM2 apps, and waits until the API answers
   * `/health` 200 and every instance is online. On failure everything started is stopped.
   */
  static async start(opts: StackOptions = {}): Promise<ChaosStack> {
    const stack = new ChaosStack(opts);
    try {
      await stack.boot();
      return stack;
    } catch (err) {
      await stack.close();
      throw err;
    }
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** The test database (the `messages` and `users` collections). */
  get db(): Db {
    if (!this.mongoClient) throw new Error('stack not started');
    return this.mongoClient.db(this.dbName);
  }

  private async boot(): Promise<void> {
    if (this.options.cluster) return this.bootOnCluster();
    const redisDir = path.join(this.dir, 'redis');
    const mongoDir = path.join(this.dir, 'mongo');
    [this.redis, this.mongo, this.port] = await Promise.all([
      startThrowawayRedis({
        persistence: true,
        dir: redisDir,
        extraArgs: this.options.redisExtraArgs,
      }),
      startThrowawayMongo({ dir: mongoDir }),
      freePort(),
    ]);
    this.proxy = await TcpProxy.start({ host: '127.0.0.1', port: this.redis.port });
    this.inspectRedis = createClient({
      url: this.redis.url,
      socket: { reconnectStrategy: () => 100 },
    });
    // The inspecting client lives through Redis restarts; its errors are expected then.
    this.inspectRedis.on('error', () => {});
    await this.inspectRedis.connect();
    await this.startApps(this.redis.url);
  }

  /** {@link boot} on a cluster: the same apps, every process on REDIS_CLUSTER_NODES. */
  private async bootOnCluster(): Promise<void> {
    [this.cluster, this.mongo, this.port] = await Promise.all([
      startThrowawayCluster(),
      startThrowawayMongo({ dir: path.join(this.dir, 'mongo') }),
      freePort(),
    ]);
    const config = loadConfig(this.appEnv());
    this.space = keySpaceOf(config.redis);
    const silent = createLogger({ level: 'silent', name: 'chaos-inspect' });
    this.inspectCluster = createRedisClient(config.redis, silent, { name: 'chaos-inspect' });
    await this.inspectCluster.connect();
    // Only so that the ecosystem file adds no local redis-server of its own.
    await this.startApps(`redis://${this.cluster.nodes[0]!.host}:${this.cluster.nodes[0]!.port}`);
  }

  /** Connects to MongoDB, starts the PM2 apps and waits until they serve. */
  private async startApps(redisUrl: string): Promise<void> {
    if (!this.mongo) throw new Error('stack not started');
    this.mongoClient = new MongoClient(this.mongo.uri, { serverSelectionTimeoutMS: 15000 });
    await this.mongoClient.connect();
    this.apps = loadEcosystemApps({
      apiInstances: this.options.apiInstances,
      daemonInstances: this.options.daemonInstances,
      redisUrl,
      mongoUri: this.mongo.uri,
    });
    this.pm2 = await Pm2Control.connect();
    await this.startApi();
    await this.startDaemons();
    await this.waitReady(60000);
  }

  /** Environment of both apps; `overrides` win. */
  appEnv(overrides: Record<string, string> = {}): Record<string, string> {
    const redisVar: Record<string, string> | undefined = this.cluster
      ? { REDIS_CLUSTER_NODES: this.cluster.seeds }
      : this.redis && { REDIS_URL: this.redis.url };
    if (!redisVar || !this.mongo) throw new Error('stack not started');
    return {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(this.port),
      ...redisVar,
      MONGODB_URI: this.mongo.uri,
      MONGODB_DB: this.dbName,
      REDIS_KEY_PREFIX: this.prefix,
      // Shared by every API instance: a token issued by one is checked by the other.
      JWT_SECRET: this.jwtSecret,
      CACHE_TTL_SECONDS: String(this.options.cacheTtlSeconds),
      PERSISTENCE_MODE: this.options.persistenceMode,
      RATE_LIMIT_SENDS: String(this.options.rateLimitSends),
      RATE_LIMIT_WINDOW_SECONDS: '10',
      // The senders all sign up (and retry) from 127.0.0.1.
      AUTH_RATE_LIMIT_ATTEMPTS: '1000',
      AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '100000',
      // Each daemon instance takes any free metrics port (see src/bin/daemon.ts).
      DAEMON_METRICS_PORT: '0',
      // Likewise each API instance's metrics listener.
      METRICS_PORT: '0',
      // A claim of a daemon killed with -9 is taken over after this lease: short, so that
      // the test drains within seconds (the default is 30 s).
      EXPIRY_LEASE_MS: '3000',
      ...this.options.env,
      ...overrides,
    };
  }

  private appDef(base: StartOptions, file: string, env: Record<string, string>): StartOptions {
    return {
      ...base,
      env: { ...base.env, ...env },
      output: path.join(this.logDir, `${file}.out.log`),
      error: path.join(this.logDir, `${file}.err.log`),
      merge_logs: true,
      autorestart: true,
      // Repeated kill -9 must not make PM2 give up on the app.
      max_restarts: 1000,
      min_uptime: 500,
    };
  }

  /** Starts the `api` app (cluster) with `overrides` on top of {@link appEnv}. */
  async startApi(overrides: Record<string, string> = {}): Promise<void> {
    if (!this.apps || !this.pm2) throw new Error('stack not started');
    await this.pm2.start({
      ...this.appDef(this.apps.api, 'api', this.appEnv(overrides)),
      instances: this.options.apiInstances,
    });
  }

  /** Starts the `expiry-daemon` app, reaching Redis through the proxy (on one node). */
  async startDaemons(overrides: Record<string, string> = {}): Promise<void> {
    if (!this.apps || !this.pm2 || (!this.proxy && !this.cluster)) {
      throw new Error('stack not started');
    }
    const viaProxy: Record<string, string> = this.proxy
      ? { REDIS_URL: `redis://127.0.0.1:${this.proxy.port}` }
      : {};
    const env = this.appEnv({ ...viaProxy, ...overrides });
    await this.pm2.start({
      ...this.appDef(this.apps.daemon, 'expiry-daemon', env),
      instances: this.options.daemonInstances,
    });
  }

  /** Replaces the `api` app with one started with other variables (e.g. a low rate limit). */
  async restartApi(overrides: Record<string, string>): Promise<void> {
    await this.pm2?.delete('api');
    await this.startApi(overrides);
    await this.waitReady(30000);
  }

  /** The PM2 processes of `name`. */
  async processes(name: 'api' | 'expiry-daemon'): Promise<Pm2Process[]> {
    if (!this.pm2) throw new Error('stack not started');
    return (await this.pm2.list()).filter((p) => p.name === name);
  }

  /**
   * `kill -9` one instance of `name` and waits until PM2 has restarted it (a new pid,
   * online). Returns when it was killed and when it was back.
   */
  async killInstance(
    name: 'api' | 'expiry-daemon',
    index = 0,
  ): Promise<{ killedAt: number; backAt: number }> {
    const before = (await this.processes(name)).filter((p) => p.status === 'online');
    const victim = before[index % Math.max(1, before.length)];
    if (!victim || victim.pid <= 0) throw new Error(`no online ${name} instance to kill`);
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = Date.now();
    const deadline = killedAt + 30000;
    while (Date.now() < deadline) {
      const now = (await this.processes(name)).find((p) => p.pmId === victim.pmId);
      if (now && now.status === 'online' && now.pid > 0 && now.pid !== victim.pid) {
        return { killedAt, backAt: Date.now() };
      }
      await sleep(100);
    }
    throw new Error(`PM2 did not restart ${name} (pm_id ${victim.pmId}) within 30 s`);
  }

  /**
   * Waits until `/health` answers 200 several times in a row (so both API instances
   * answer: PM2's cluster master spreads connections over them) and every instance is
   * online.
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let streak = 0;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
        last = `${res.status} ${await res.text()}`;
        streak = res.status === 200 ? streak + 1 : 0;
      } catch (err) {
        last = (err as Error).message;
        streak = 0;
      }
      if (streak >= 2 * this.options.apiInstances) {
        const procs = await this.pm2?.list();
        const online = procs?.filter((p) => p.status === 'online').length ?? 0;
        if (online >= this.options.apiInstances + this.options.daemonInstances) return;
      }
      await sleep(100);
    }
    throw new Error(`the stack was not ready within ${timeoutMs} ms (last /health: ${last})`);
  }

  /**
   * Waits until the daemons have processed every expiration (the due index and the
   * inflight set of every partition empty). Returns how long it took.
   */
  async waitForDrain(timeoutMs: number): Promise<number> {
    const redis = this.inspectRedis ?? this.inspectCluster;
    if (!redis) throw new Error('stack not started');
    return waitForDrain(redis, this.space, timeoutMs);
  }

  /** SIGKILL to redis-server: a crash, losing what was not yet written to the AOF. */
  async crashRedis(): Promise<void> {
    await this.redis?.process?.kill();
  }

  /** Starts redis-server again on the same port and data directory (AOF replayed). */
  async restartRedis(extraArgs = this.options.redisExtraArgs): Promise<void> {
    if (!this.redis) throw new Error('stack not started');
    const { port, dir } = this.redis;
    await this.redis.stop();
    this.redis = await startThrowawayRedis({ persistence: true, port, dir, extraArgs });
  }

  /** Stops the MongoDB-protocol server (SIGTERM). */
  async stopMongo(): Promise<void> {
    await this.mongo?.stop();
  }

  /** Starts it again on the same port and data directory. */
  async startMongo(): Promise<void> {
    if (!this.mongo) throw new Error('stack not started');
    this.mongo = await this.mongo.restart();
  }

  /** Stops every process (PM2 apps and daemon, servers, proxy) and removes the directory. */
  async close(): Promise<void> {
    await this.pm2?.close().catch(() => undefined);
    await this.proxy?.close().catch(() => undefined);
    await this.inspectRedis?.close().catch(() => this.inspectRedis?.destroy());
    await this.inspectCluster?.close().catch(() => this.inspectCluster?.destroy());
    await this.mongoClient?.close().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
    await this.cluster?.dispose().catch(() => undefined);
    await this.mongo?.stop().catch(() => undefined);
    // CHAOS_KEEP_DIR=1 keeps the PM2 logs (logs/*.log) for a look after a failed run.
    if (!process.env.CHAOS_KEEP_DIR) rmSync(this.dir, { recursive: true, force: true });
  }
}
