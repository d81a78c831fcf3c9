// PM2 ecosystem: the API (cluster mode) and the expiry daemon (fork mode), plus local
// Redis and MongoDB-protocol servers when none is configured.
//
//   npm start                           foreground, via pm2-runtime (Ctrl-C stops all)
//   npm run start:prod                  the same without building (no devDependencies)
//   pm2 start ecosystem.config.js       background, the usual PM2 way (pm2 ls / logs / monit)
//
// Run `npm run build` first (npm start does): PM2 on Node 20 runs the compiled dist/ JS,
// and this file reads its configuration through dist/config, as every process does: the
// environment, then .env, then config/<NODE_ENV>.env, validated by the same rules.
// Local servers (each independently, never with NODE_ENV=production unless
// ALLOW_LOCAL_SERVERS=true):
//   - Redis, when none of REDIS_URL, REDIS_HOST, REDIS_PORT and REDIS_CLUSTER_NODES is set:
//     `redis-server ./redis.conf` on 127.0.0.1:6379, unless a Redis already answers there
//     (then it is reused).
//   - MongoDB, when MONGODB_URI is unset: `mongod` if on PATH, otherwise the embedded
//     FerretDB (.bin/ferretdb-local, built by `npm run prepare:local`), on 127.0.0.1:27017,
//     data under ./data/, unless a server already answers there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// PM2 loads this file synchronously: the compiled modules are required (they have no
// top-level await), and the "does a server already answer?" probe runs in a child process.
if (!existsSync(path.join(root, 'dist', 'config', 'config.js'))) {
  console.error('dist/ is missing: run `npm run build` first (npm start does).');
  process.exit(1);
}
const { CONFIG_EXIT_CODE, ConfigError, loadConfig } = require('./dist/config/config.js');
const { readEnvFiles } = require('./dist/config/load-env.js');
const { findMongod } = require('./dist/local/ferretdb-binary.js');

// The files are merged into a copy: PM2 hands its own environment to the apps, which read
// the same files themselves.
const env = { ...readEnvFiles(root), ...process.env };
let config;
try {
  config = loadConfig(env, 'all');
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // A process stopped by a bad variable exits with this code; restarting it would only
  // print the same line again. `npm start` meets the same check first (prepare-local).
  console.error(err.message);
  process.exit(CONFIG_EXIT_CODE);
}

function answers(port) {
  const probe = `const s=require('net').connect(${port},'127.0.0.1');s.setTimeout(400,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 2000 }).status === 0;
}

const apps = [];

if (config.redis.isLocalDefault && !answers(6379)) {
  apps.push({
    name: 'redis',
    script: 'redis-server',
    args: [path.join(root, 'redis.conf')],
    interpreter: 'none',
    cwd: root,
    autorestart: true,
    kill_timeout: 10000,
  });
}

if (config.mongo.isLocalDefault && !answers(27017)) {
  const mongod = findMongod();
  apps.push(
    mongod
      ? {
          name: 'mongo',
          script: mongod,
          args: ['--bind_ip', '127.0.0.1', '--port', '27017', '--dbpath', 'data/mongo'],
          interpreter: 'none',
          cwd: root,
          kill_timeout: 10000,
        }
      : {
          name: 'mongo',
          script: path.join(root, '.bin', 'ferretdb-local'),
          args: [
            '-listen',
            '127.0.0.1:27017',
            '-sqlite-dir',
            'data/ferretdb',
            '-log-level',
            'error',
          ],
          interpreter: 'none',
          cwd: root,
          kill_timeout: 10000,
        },
  );
}

apps.push(
  {
    name: 'api',
    script: path.join(root, 'dist', 'bin', 'api.js'),
    cwd: root,
    exec_mode: 'cluster',
    instances: config.pm2.apiInstances,
    // SIGINT first: the API turns /health/ready 503, keeps serving for SHUTDOWN_DELAY_MS,
    // then stops accepting and finishes in-flight requests (src/bin/api.ts gives itself
    // the delay + 10 s; PM2 waits 2 s more before SIGKILL).
    kill_timeout: config.shutdownDelayMs + 12000,
    stop_exit_codes: [CONFIG_EXIT_CODE],
    // PM2's injected copy of its agent prints an OpenTelemetry error at every start; the
    // process's own @pm2/io (src/metrics/pm2-metrics.ts) serves the metrics and triggers.
    pmx: false,
    env: { NODE_ENV: config.env },
  },
  {
    name: 'expiry-daemon',
    script: path.join(root, 'dist', 'bin', 'daemon.js'),
    cwd: root,
    exec_mode: 'fork',
    instances: config.pm2.daemonInstances,
    // Each instance needs its own metrics port: the first uses DAEMON_METRICS_PORT,
    // the next ones DAEMON_METRICS_PORT + NODE_APP_INSTANCE (see src/bin/daemon.ts).
    instance_var: 'NODE_APP_INSTANCE',
    kill_timeout: 12000,
    stop_exit_codes: [CONFIG_EXIT_CODE],
    pmx: false,
    env: { NODE_ENV: config.env },
  },
);

const ecosystem = { apps };
export { ecosystem as 'module.exports' };
