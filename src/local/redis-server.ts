import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { waitUntil } from '../lifecycle/wait.js';
import { ManagedProcess } from './managed-process.js';
import { isRedisAnswering } from './port-probe.js';
import { projectRoot } from './project-root.js';

export interface RedisServerOptions {
  port: number;
  /** Data directory (AOF/RDB). */
  dir: string;
  /** Keep the AOF/RDB persistence of redis.conf. Tests switch it off. @defaultValue true */
  persistence?: boolean;
  /** Extra `--name value` pairs, e.g. `['--requirepass', 'secret']`. */
  extraArgs?: string[];
}

export interface RunningRedis {
  url: string;
  port: number;
  /** The process we started, or undefined when an already running server was reused. */
  process: ManagedProcess | undefined;
  stop(): Promise<void>;
}

/** redis-server arguments: the project's redis.conf, then overrides (later ones win). */
export function redisServerArgs(opts: RedisServerOptions): string[] {
  const args = [path.join(projectRoot(), 'redis.conf'), '--port', String(opts.port)];
  args.push('--dir', opts.dir);
  if (opts.persistence === false) args.push('--appendonly', 'no', '--save', '');
  args.push(...(opts.extraArgs ?? []));
  return args;
}

/**
 * Starts a `redis-server` with the project's redis.conf on 127.0.0.1:port, or reuses one
 * that already answers there (`reuse`), and waits until it answers PING.
 */
export async function startRedisServer(
  opts: RedisServerOptions & { reuse?: boolean },
): Promise<RunningRedis> {
  const url = `redis://127.0.0.1:${opts.port}`;
  if (opts.reuse && (await isRedisAnswering('127.0.0.1', opts.port))) {
    return { url, port: opts.port, process: undefined, stop: async () => {} };
  }
  mkdirSync(opts.dir, { recursive: true });
  // redis.conf says `dir ./data/redis`, and Redis checks that directory while reading the
  // file, before the --dir override applies: run it from the project root with it present.
  const root = projectRoot();
  mkdirSync(path.join(root, 'data', 'redis'), { recursive: true });
  const proc = new ManagedProcess('redis-server', 'redis-server', redisServerArgs(opts), {
    cwd: root,
  });
  try {
    await waitUntil(
      `redis-server on port ${opts.port}`,
      () => isRedisAnswering('127.0.0.1', opts.port),
      15000,
      { giveUpIf: () => proc.deadReason },
    );
  } catch (err) {
    await proc.stop();
    if (proc.deadReason?.includes('ENOENT')) {
      throw new Error(
        'redis-server is not installed: on Debian/Ubuntu run `apt-get install redis-server`, ' +
          'or set REDIS_URL to a running Redis.',
        { cause: err },
      );
    }
    throw err;
  }
  return { url, port: opts.port, process: proc, stop: () => proc.stop() };
}
