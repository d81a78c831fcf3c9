// PM2 ecosystem: the API (cluster mode) and the expiry daemon (fork mode), plus local
// Redis and MongoDB-protocol servers when none is configured.
//
//   npm start                           foreground, via pm2-runtime (Ctrl-C stops all)
//   pm2 start ecosystem.config.js       background, the usual PM2 way (pm2 ls / logs / monit)
//
// Run `npm run build` first (npm start does): PM2 on Node 20 runs the compiled dist/ JS.
// Local servers (each independently):
//   - Redis, when none of REDIS_URL, REDIS_HOST and REDIS_CLUSTER_NODES is set:
//     `redis-server ./redis.conf` on 127.0.0.1:6379, unless a Redis already answers there
//     (then it is reused).
//   - MongoDB, when MONGODB_URI is unset: `mongod` if on PATH, otherwise the embedded
//     FerretDB (.bin/ferretdb-local, built by `npm run prepare:local`), on 127.0.0.1:27017,
//     data under ./data/, unless a server already answers there.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

// .env is read here too, so that the decision to start local servers sees REDIS_URL etc.
function readDotenv(file) {
  if (!existsSync(file)) return {};
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}
const env = { ...readDotenv(path.join(root, '.env')), ...process.env };

// PM2 loads this file synchronously, so the "does a server already answer?" probe runs
// in a child process.
function answers(port) {
  const probe = `const s=require('net').connect(${port},'127.0.0.1');s.setTimeout(400,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 2000 }).status === 0;
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// A process stopped by a bad variable exits with this code (CONFIG_EXIT_CODE in
// src/config/config.ts); restarting it would only print the same line again.
const CONFIG_EXIT_CODE = 78;

// `npm start` checks these with the rest of the configuration first (src/config/config.ts);
// `pm2 start ecosystem.config.js` meets this check, with the same line and exit code.
function instances(name) {
  const raw = (env[name] ?? '').trim() || '1';
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 64) {
    console.error(
      `Invalid configuration: ${name} = ${JSON.stringify(raw)}: must be a whole number of instances from 1 to 64`,
    );
    process.exit(78);
  }
  return Number(raw);
}

const apps = [];

if (!env.REDIS_URL && !env.REDIS_HOST && !env.REDIS_CLUSTER_NODES && !answers(6379)) {
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

if (!env.MONGODB_URI && !answers(27017)) {
  const mongod = which('mongod');
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
    instances: instances('API_INSTANCES'),
    // SIGINT first: the API stops accepting and finishes in-flight requests.
    kill_timeout: 12000,
    stop_exit_codes: [CONFIG_EXIT_CODE],
    // PM2's injected copy of its agent prints an OpenTelemetry error at every start; the
    // process's own @pm2/io (src/metrics/pm2-metrics.ts) serves the metrics and triggers.
    pmx: false,
    env: { NODE_ENV: env.NODE_ENV ?? 'development' },
  },
  {
    name: 'expiry-daemon',
    script: path.join(root, 'dist', 'bin', 'daemon.js'),
    cwd: root,
    exec_mode: 'fork',
    instances: instances('DAEMON_INSTANCES'),
    // Each instance needs its own metrics port: the first uses DAEMON_METRICS_PORT,
    // the next ones DAEMON_METRICS_PORT + NODE_APP_INSTANCE (see src/bin/daemon.ts).
    instance_var: 'NODE_APP_INSTANCE',
    kill_timeout: 12000,
    stop_exit_codes: [CONFIG_EXIT_CODE],
    pmx: false,
    env: { NODE_ENV: env.NODE_ENV ?? 'development' },
  },
);

const config = { apps };
export { config as 'module.exports' };
