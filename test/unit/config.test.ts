import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  CONFIG_EXIT_CODE,
  ConfigError,
  CONFIG_VARIABLES,
  loadConfig,
} from '../../src/config/config.js';

const SECRET = 'x'.repeat(40);

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be refused`);
}

describe('config', () => {
  it('gives the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.port, 3000);
    assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(c.redis.db, 0);
    assert.equal(c.redis.isLocalDefault, true);
    assert.equal(c.mongo.uri, 'mongodb://127.0.0.1:27017');
    assert.equal(c.mongo.isLocalDefault, true);
    assert.equal(c.cache.ttlSeconds, 5);
    assert.equal(c.expiry.pollIntervalMs, 1000);
    assert.equal(c.persistenceMode, 'write-through');
    assert.equal(c.expiry.metricsPort, 9465);
    assert.equal(c.auth.jwtSecretGenerated, true);
    assert.equal(c.auth.jwtSecret.length, 64);
    assert.equal(c.shutdownDelayMs, 0);
    assert.equal(loadConfig({ SHUTDOWN_DELAY_MS: '5000' }).shutdownDelayMs, 5000);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.redis));
  });

  // Every variable, one bad value each: the error names the variable and what is allowed.
  const bad: Array<[string, string, RegExp]> = [
    ['NODE_ENV', 'staging', /NODE_ENV = "staging"/],
    ['PORT', '70000', /PORT = "70000": must be a whole number port from 0 to 65535/],
    ['PORT', 'http', /PORT = "http": must be a whole number port/],
    ['HOST', '   ', /HOST/],
    [
      'REQUEST_TIMEOUT_MS',
      '50',
      /REQUEST_TIMEOUT_MS = "50": must be a whole number of milliseconds from 100 to 600000/,
    ],
    ['REDIS_URL', 'localhost:6379', /REDIS_URL = "localhost:6379": must be a redis:\/\//],
    ['REDIS_HOST', ' ', /REDIS_HOST/],
    ['REDIS_PORT', '0', /REDIS_PORT = "0": must be a whole number port from 1 to 65535/],
    ['REDIS_DB', '16', /REDIS_DB = "16": must be a whole number database index from 0 to 15/],
    ['REDIS_KEY_PREFIX', 'a b', /REDIS_KEY_PREFIX = "a b": may hold only/],
    ['REDIS_KEY_PREFIX', 'a{b}', /REDIS_KEY_PREFIX = "a\{b\}": may hold only/],
    [
      'REDIS_PARTITIONS',
      '0',
      /REDIS_PARTITIONS = "0": must be a whole number of partitions from 1 to 1024/,
    ],
    [
      'REDIS_WAIT_REPLICAS',
      '17',
      /REDIS_WAIT_REPLICAS = "17": must be a whole number of replicas from 0 to 16/,
    ],
    [
      'REDIS_WAIT_TIMEOUT_MS',
      '5',
      /REDIS_WAIT_TIMEOUT_MS = "5": must be a whole number of milliseconds/,
    ],
    ['REDIS_CLUSTER_NODES', '127.0.0.1', /REDIS_CLUSTER_NODES = "127.0.0.1": must be a comma/],
    ['REDIS_CLUSTER_NODES', 'a:1,,b:2', /REDIS_CLUSTER_NODES = "a:1,,b:2": must be a comma/],
    ['REDIS_CLUSTER_NODES', 'redis://a:1/2', /REDIS_CLUSTER_NODES/],
    ['MONGODB_URI', 'postgres://x', /MONGODB_URI = "postgres:\/\/x": must be a mongodb:\/\//],
    ['ALLOW_LOCAL_SERVERS', 'yes', /ALLOW_LOCAL_SERVERS = "yes": must be true or false/],
    ['MONGODB_DB', 'a/b', /MONGODB_DB = "a\/b"/],
    [
      'CACHE_TTL_SECONDS',
      'abc',
      /CACHE_TTL_SECONDS = "abc": must be a whole number of seconds from 1 to 86400/,
    ],
    [
      'CACHE_TTL_SECONDS',
      '0',
      /CACHE_TTL_SECONDS = "0": must be a whole number of seconds from 1 to 86400/,
    ],
    ['CACHE_TTL_SECONDS', '1.5', /CACHE_TTL_SECONDS = "1.5"/],
    ['CONVERSATION_CACHE_SIZE', '0', /CONVERSATION_CACHE_SIZE/],
    [
      'POLL_INTERVAL_MS',
      '5',
      /POLL_INTERVAL_MS = "5": must be a whole number of milliseconds from 10 to 60000/,
    ],
    ['EXPIRY_BATCH_SIZE', '-1', /EXPIRY_BATCH_SIZE/],
    ['EXPIRY_MAX_ATTEMPTS', '0', /EXPIRY_MAX_ATTEMPTS/],
    ['EXPIRY_LEASE_MS', '10', /EXPIRY_LEASE_MS/],
    [
      'PERSISTENCE_MODE',
      'lazy',
      /PERSISTENCE_MODE = "lazy": must be write-through or write-behind/,
    ],
    ['JWT_SECRET', 'short', /JWT_SECRET: must be at least 32 characters/],
    ['JWT_PREVIOUS_SECRET', 'short', /JWT_PREVIOUS_SECRET: must be at least 32 characters/],
    ['DAEMON_METRICS_PORT', 'x', /DAEMON_METRICS_PORT = "x"/],
    ['DAEMON_METRICS_HOST', ' ', /DAEMON_METRICS_HOST/],
    ['RATE_LIMIT_SENDS', '0', /RATE_LIMIT_SENDS/],
    ['RATE_LIMIT_WINDOW_SECONDS', '0', /RATE_LIMIT_WINDOW_SECONDS/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL = "loud": must be one of fatal, error/],
    ['HEADERS_TIMEOUT_MS', '10', /HEADERS_TIMEOUT_MS = "10": must be a whole number of milli/],
    ['RECEIVE_TIMEOUT_MS', 'x', /RECEIVE_TIMEOUT_MS = "x"/],
    [
      'SHUTDOWN_DELAY_MS',
      '60001',
      /SHUTDOWN_DELAY_MS = "60001": must be a whole number of milliseconds from 0 to 60000/,
    ],
    ['TRUST_PROXY', 'yes', /TRUST_PROXY = "yes": must be true or false/],
    [
      'TRUST_PROXY_HOPS',
      '11',
      /TRUST_PROXY_HOPS = "11": must be a whole number of proxy hops from 0 to 10/,
    ],
    ['TRUST_PROXY_HOPS', '-1', /TRUST_PROXY_HOPS = "-1"/],
    ['METRICS_HOST', ' ', /METRICS_HOST/],
    ['METRICS_PORT', '-1', /METRICS_PORT = "-1"/],
    ['WS_MAX_CONNECTIONS_PER_USER', '0', /WS_MAX_CONNECTIONS_PER_USER = "0"/],
    ['ALLOWED_ORIGINS', 'example.com', /ALLOWED_ORIGINS = "example.com": must be \* or a comma/],
    ['ALLOWED_ORIGINS', 'https://a.example/path', /ALLOWED_ORIGINS/],
    ['AUTH_RATE_LIMIT_ATTEMPTS', '0', /AUTH_RATE_LIMIT_ATTEMPTS/],
    ['AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS', '1.5', /AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS/],
    ['AUTH_RATE_LIMIT_WINDOW_SECONDS', '0', /AUTH_RATE_LIMIT_WINDOW_SECONDS/],
    [
      'API_INSTANCES',
      'abc',
      /API_INSTANCES = "abc": must be a whole number of instances from 1 to 64/,
    ],
    ['DAEMON_INSTANCES', '0', /DAEMON_INSTANCES = "0"/],
  ];
  for (const [name, value, pattern] of bad) {
    it(`refuses ${name}=${JSON.stringify(value)} naming the variable`, () => {
      const err = failure({ [name]: value });
      assert.match(err.message, pattern);
      assert.match(err.message, /^Invalid configuration: /);
      assert.ok(!err.message.includes('\n'), 'one line');
    });
  }

  it('tests a bad value for every variable it reads', () => {
    const tested = new Set(bad.map(([name]) => name));
    // REDIS_PASSWORD accepts any string, so it has no bad value.
    const untested = CONFIG_VARIABLES.filter((v) => !tested.has(v) && v !== 'REDIS_PASSWORD');
    assert.deepEqual(untested, []);
  });

  it('names the variable at fault in `variable`', () => {
    assert.equal(failure({ PORT: 'http' }).variable, 'PORT');
    assert.equal(failure({ REDIS_URL: 'redis://h:1/2', REDIS_DB: '3' }).variable, 'REDIS_DB');
  });

  it('never echoes a secret in the error', () => {
    const err = failure({ JWT_SECRET: 'hunter2-secret' });
    assert.ok(!err.message.includes('hunter2'));
  });

  it('reads the hardening variables', () => {
    const c = loadConfig({
      ALLOWED_ORIGINS: 'https://Chat.example.com, http://localhost:8080',
      TRUST_PROXY: 'true',
      WS_MAX_CONNECTIONS_PER_USER: '4',
    });
    assert.deepEqual(c.realtime.allowedOrigins, [
      'https://chat.example.com',
      'http://localhost:8080',
    ]);
    assert.equal(c.realtime.maxConnectionsPerUser, 4);
    assert.equal(c.http.trustProxyHops, 1);
    assert.deepEqual(loadConfig({ ALLOWED_ORIGINS: '*' }).realtime.allowedOrigins, ['*']);
    const d = loadConfig({});
    assert.deepEqual(d.realtime.allowedOrigins, []);
    assert.equal(d.realtime.maxConnectionsPerUser, 16);
    assert.deepEqual(d.metrics, { host: '127.0.0.1', port: 9400 });
    assert.deepEqual(d.http, {
      headersTimeoutMs: 10000,
      receiveTimeoutMs: 15000,
      trustProxyHops: 0,
    });
    assert.match(
      failure({ HEADERS_TIMEOUT_MS: '20000', RECEIVE_TIMEOUT_MS: '15000' }).message,
      /HEADERS_TIMEOUT_MS: \(20000\) must not exceed RECEIVE_TIMEOUT_MS/,
    );
  });

  it('reads TRUST_PROXY_HOPS, with TRUST_PROXY as its alias for 0 or 1 hop', () => {
    const hops = (env: Record<string, string>) => loadConfig(env).http.trustProxyHops;
    assert.equal(hops({}), 0);
    assert.equal(hops({ TRUST_PROXY_HOPS: '2' }), 2);
    assert.equal(hops({ TRUST_PROXY_HOPS: '0' }), 0);
    assert.equal(hops({ TRUST_PROXY: 'true' }), 1);
    assert.equal(hops({ TRUST_PROXY: 'false' }), 0);
    assert.equal(hops({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '1' }), 1);
    assert.equal(hops({ TRUST_PROXY: 'false', TRUST_PROXY_HOPS: '0' }), 0);
    for (const [alias, n] of [
      ['true', '2'],
      ['true', '0'],
      ['false', '1'],
    ]) {
      const err = failure({ TRUST_PROXY: alias!, TRUST_PROXY_HOPS: n! });
      assert.equal(err.variable, 'TRUST_PROXY_HOPS');
      assert.match(
        err.message,
        new RegExp(
          `^Invalid configuration: TRUST_PROXY_HOPS: \\(${n}\\) contradicts TRUST_PROXY=${alias} .*; set only TRUST_PROXY_HOPS$`,
        ),
      );
    }
    // The daemon and the CLI do not read them.
    assert.doesNotThrow(() => loadConfig({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }, 'daemon'));
  });

  it('reads JWT_PREVIOUS_SECRET, never echoing it', () => {
    const previous = 'p'.repeat(40);
    const c = loadConfig({ JWT_SECRET: SECRET, JWT_PREVIOUS_SECRET: previous });
    assert.equal(c.auth.previousJwtSecret, previous);
    assert.equal(loadConfig({ JWT_SECRET: SECRET }).auth.previousJwtSecret, undefined);
    const same = failure({ JWT_SECRET: SECRET, JWT_PREVIOUS_SECRET: SECRET });
    assert.equal(same.variable, 'JWT_PREVIOUS_SECRET');
    assert.match(same.message, /^Invalid configuration: JWT_PREVIOUS_SECRET: equals JWT_SECRET/);
    assert.ok(!same.message.includes(SECRET));
    const short = failure({ JWT_PREVIOUS_SECRET: 'hunter2-previous' });
    assert.ok(!short.message.includes('hunter2'));
    // The daemon and the CLI do not read it.
    assert.doesNotThrow(() => loadConfig({ JWT_PREVIOUS_SECRET: 'short' }, 'daemon'));
    assert.doesNotThrow(() => loadConfig({ JWT_PREVIOUS_SECRET: 'short' }, 'cli'));
  });

  /** The servers a production configuration must name. */
  const SERVERS = { REDIS_URL: 'redis://cache:6379', MONGODB_URI: 'mongodb://db:27017' };

  it('validates only what the process reads', () => {
    const env = {
      JWT_SECRET: 'short',
      DAEMON_METRICS_PORT: 'x',
      NODE_ENV: 'production',
      ...SERVERS,
    };
    assert.doesNotThrow(() =>
      loadConfig({ JWT_SECRET: 'short', NODE_ENV: 'production', ...SERVERS }, 'daemon'),
    );
    assert.doesNotThrow(() => loadConfig({ JWT_SECRET: 'short' }, 'cli'));
    assert.throws(() => loadConfig(env, 'api'), /JWT_SECRET: must be at least 32/);
    assert.throws(() => loadConfig(env, 'daemon'), /DAEMON_METRICS_PORT = "x"/);
    assert.throws(() => loadConfig({ CACHE_TTL_SECONDS: '0' }, 'cli'), /CACHE_TTL_SECONDS/);
  });

  it('requires JWT_SECRET in production', () => {
    assert.match(
      failure({ NODE_ENV: 'production', ...SERVERS }).message,
      /JWT_SECRET: is required/,
    );
    assert.equal(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...SERVERS }).auth.jwtSecret,
      SECRET,
    );
  });

  it('in production, runs no local server unless told to: Redis and MongoDB must be named', () => {
    const prod = { NODE_ENV: 'production', JWT_SECRET: SECRET };
    assert.equal(
      failure(prod).message,
      'Invalid configuration: REDIS_URL (or REDIS_HOST, REDIS_PORT, REDIS_CLUSTER_NODES) and ' +
        'MONGODB_URI: are required when NODE_ENV=production (or set ALLOW_LOCAL_SERVERS=true to ' +
        'run local servers on 127.0.0.1)',
    );
    // The servers are named before a missing JWT_SECRET: where the data lives comes first.
    assert.match(
      failure({ NODE_ENV: 'production', REDIS_URL: SERVERS.REDIS_URL }).message,
      /^Invalid configuration: MONGODB_URI: is required when NODE_ENV=production/,
    );
    assert.match(
      failure({ ...prod, REDIS_URL: SERVERS.REDIS_URL }).message,
      /^Invalid configuration: MONGODB_URI: is required when NODE_ENV=production/,
    );
    assert.match(
      failure({ ...prod, MONGODB_URI: SERVERS.MONGODB_URI, REDIS_URL: '' }).message,
      /^Invalid configuration: REDIS_URL \(or REDIS_HOST, REDIS_PORT, REDIS_CLUSTER_NODES\): is required/,
    );
    for (const redis of [
      { REDIS_HOST: 'cache' },
      { REDIS_PORT: '6380' },
      { REDIS_CLUSTER_NODES: 'cache:7000' },
    ]) {
      const c = loadConfig({ ...prod, ...redis, MONGODB_URI: SERVERS.MONGODB_URI });
      assert.equal(c.redis.isLocalDefault, false, JSON.stringify(redis));
    }
    const local = loadConfig({ ...prod, ALLOW_LOCAL_SERVERS: 'true' });
    assert.equal(local.redis.isLocalDefault, true);
    assert.equal(local.mongo.isLocalDefault, true);
    // Development is unchanged: local servers by default.
    assert.equal(loadConfig({}).mongo.isLocalDefault, true);
  });

  it('takes REDIS_PORT alone as "use that Redis": no local one is started', () => {
    const c = loadConfig({ REDIS_PORT: '6380' });
    assert.equal(c.redis.url, 'redis://127.0.0.1:6380');
    assert.equal(c.redis.isLocalDefault, false);
    assert.equal(loadConfig({ REDIS_PORT: '' }).redis.isLocalDefault, true);
  });

  it('builds the Redis URL from REDIS_HOST/PORT/PASSWORD as in the guide, REDIS_URL winning', () => {
    const c = loadConfig({ REDIS_HOST: 'cache.local', REDIS_PORT: '6380', REDIS_PASSWORD: 'pw' });
    assert.equal(c.redis.url, 'redis://cache.local:6380');
    assert.equal(c.redis.password, 'pw');
    assert.equal(c.redis.isLocalDefault, false);
    const u = loadConfig({ REDIS_URL: 'redis://:s3cret@h:1/2', REDIS_HOST: 'ignored' });
    assert.equal(u.redis.url, 'redis://h:1', 'password and db are kept out of the loggable URL');
    assert.equal(u.redis.password, 's3cret');
    assert.equal(u.redis.db, 2);
  });

  it('refuses a REDIS_DB that contradicts the database in REDIS_URL', () => {
    assert.match(
      failure({ REDIS_URL: 'redis://h:1/2', REDIS_DB: '3' }).message,
      /REDIS_DB: \(3\) contradicts the database \/2 in REDIS_URL/,
    );
    assert.equal(loadConfig({ REDIS_URL: 'redis://h:1/2', REDIS_DB: '2' }).redis.db, 2);
  });

  it('runs on a cluster with REDIS_CLUSTER_NODES: 16 partitions, database 0, no local Redis', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000 , rediss://10.0.0.2:7001 ' });
    assert.deepEqual(c.redis.clusterNodes, ['redis://10.0.0.1:7000', 'rediss://10.0.0.2:7001']);
    assert.equal(c.redis.url, 'redis://10.0.0.1:7000', 'the first seed, for the logs');
    assert.equal(c.redis.partitions, 16);
    assert.equal(c.redis.isLocalDefault, false);
    assert.equal(
      loadConfig({ REDIS_CLUSTER_NODES: 'h:1', REDIS_PARTITIONS: '4' }).redis.partitions,
      4,
    );
    assert.equal(loadConfig({}).redis.partitions, 1);
    assert.equal(loadConfig({}).redis.clusterNodes, undefined);
    assert.match(
      failure({ REDIS_CLUSTER_NODES: 'h:1', REDIS_URL: 'redis://h:2' }).message,
      /^Invalid configuration: REDIS_CLUSTER_NODES: and REDIS_URL are both set; set only one/,
    );
    assert.match(
      failure({ REDIS_CLUSTER_NODES: 'h:1', REDIS_DB: '2' }).message,
      /REDIS_DB: must be 0 on a cluster/,
    );
  });

  it('masks the MongoDB password for logs', () => {
    const c = loadConfig({ MONGODB_URI: 'mongodb://u:topsecret@db:27017/x' });
    assert.ok(!c.mongo.safeUri.includes('topsecret'));
    assert.equal(c.mongo.isLocalDefault, false);
  });

  it('documents every variable in README.md', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const name of CONFIG_VARIABLES)
      assert.ok(readme.includes(`\`${name}\``), `${name} missing`);
  });

  /** Runs an entry point from the sources with `env` on top of this process's environment. */
  function runEntry(file: string, env: Record<string, string>) {
    return spawnSync(process.execPath, ['--import', 'tsx', file], {
      env: { ...process.env, NODE_ENV: 'test', ...env },
      encoding: 'utf8',
      timeout: 25000,
    });
  }

  it(`an entry point given a bad value prints one line and exits with code ${CONFIG_EXIT_CODE}`, function () {
    this.timeout(30000);
    const r = runEntry('src/bin/api.ts', { CACHE_TTL_SECONDS: 'abc' });
    assert.equal(r.status, 78, r.stderr);
    assert.equal(
      r.stderr.trim(),
      'Invalid configuration: CACHE_TTL_SECONDS = "abc": must be a whole number of seconds from 1 to 86400',
    );
  });

  it('each entry point validates only what it reads: JWT_SECRET stops the API, not the daemon or the CLI', function () {
    this.timeout(60000);
    // LOG_LEVEL comes after JWT_SECRET in the checks, so naming it shows JWT_SECRET was passed over.
    const env = { NODE_ENV: 'production', JWT_SECRET: 'short', LOG_LEVEL: 'loud' };
    const api = runEntry('src/bin/api.ts', env);
    assert.equal(api.status, 78, api.stderr);
    assert.equal(
      api.stderr.trim(),
      'Invalid configuration: JWT_SECRET: must be at least 32 characters',
    );
    for (const file of ['src/bin/daemon.ts', 'src/bin/cache.ts']) {
      const r = runEntry(file, env);
      assert.equal(r.status, 78, `${file}: ${r.stderr}`);
      assert.match(r.stderr.trim(), /^Invalid configuration: LOG_LEVEL = "loud": must be one of /);
    }
  });

  it(`npm start's prepare step checks the whole configuration first: one line, exit code ${CONFIG_EXIT_CODE}`, function () {
    this.timeout(30000);
    const r = runEntry('src/bin/prepare-local.ts', { JWT_SECRET: 'short' });
    assert.equal(r.status, 78, r.stderr);
    assert.equal(
      r.stderr.trim(),
      'Invalid configuration: JWT_SECRET: must be at least 32 characters',
    );
    const daemonOnly = runEntry('src/bin/prepare-local.ts', { DAEMON_METRICS_PORT: 'x' });
    assert.equal(daemonOnly.status, 78, daemonOnly.stderr);
    assert.match(daemonOnly.stderr, /^Invalid configuration: DAEMON_METRICS_PORT = "x"/);
  });

  it("npm start's prepare step starts or reuses no local Redis for a cluster", function () {
    this.timeout(30000);
    // Port 1 refuses at once: the layout check skips a cluster it cannot reach.
    const prepare = (clusterNodes: string) =>
      runEntry('src/bin/prepare-local.ts', {
        REDIS_URL: '',
        REDIS_HOST: '',
        REDIS_CLUSTER_NODES: clusterNodes,
        MONGODB_URI: 'mongodb://127.0.0.1:1',
      });
    const cluster = prepare('127.0.0.1:1');
    assert.equal(cluster.status, 0, cluster.stderr);
    assert.doesNotMatch(cluster.stderr, /Redis|redis-server/);
    const single = prepare('');
    assert.equal(single.status, 0, single.stderr);
    assert.match(single.stderr, /(Reusing the Redis|Starting a local redis-server)/);
  });
});
