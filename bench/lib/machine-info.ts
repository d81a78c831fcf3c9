import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';

/** The machine and versions a run was measured on (figures only compare within a run). */
export interface MachineInfo {
  node: string;
  redis: string;
  mongo: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** Load average at the start: other work on a shared machine shows here. */
  loadAverage: number[];
  /**
   * SET/s of the `redis-limit` row (redis-benchmark on the run's Redis), filled in once it
   * has run: how fast this host was, so that runs on different hosts can be compared.
   */
  redisLimit?: number;
}

/** The machine as one line of prose (the report and BENCHMARKS.md). */
export function machineLine(m: MachineInfo): string {
  const limit =
    m.redisLimit === undefined
      ? ''
      : `; \`redis-limit\` ${Math.round(m.redisLimit).toLocaleString('en-US')} SET/s`;
  return `${m.cpuModel} × ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}${limit}; load average at start ${m.loadAverage.join(' / ')} (a shared machine)`;
}

function packageVersion(name: string): string {
  try {
    return execFileSync('node', ['-p', `require('${name}/package.json').version`], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** Collects {@link MachineInfo}; `mongo` names the server kind (FerretDB or mongod). */
export async function machineInfo(redis: RedisNodeClient, mongo: string): Promise<MachineInfo> {
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    node: process.version,
    redis: redisVersion,
    mongo,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Versions of the packages under test and of the baselines. */
export function packageVersions(): Record<string, string> {
  return Object.fromEntries(
    ['bullmq', 'autocannon', 'koa', 'ws', 'redis', 'mongodb'].map((p) => [p, packageVersion(p)]),
  );
}
