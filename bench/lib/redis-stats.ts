import type { RedisNodeClient } from '../../src/redis/redis-client.js';

/** Zeroes `INFO commandstats` and the slow log, before a profiled scenario. */
export async function resetRedisStats(redis: RedisNodeClient): Promise<void> {
  await redis.configResetStat();
  await redis.sendCommand(['SLOWLOG', 'RESET']);
}

/**
 * What Redis spent its time on since {@link resetRedisStats}: commands by total time
 * (calls, µs per call) and the slow log (redis.conf logs commands over 10 ms).
 */
export async function redisStatsReport(redis: RedisNodeClient): Promise<string> {
  const info = await redis.info('commandstats');
  const rows = [...info.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/gm)]
    .map((m) => ({ cmd: m[1] ?? '', calls: Number(m[2]), usec: Number(m[3]), per: Number(m[4]) }))
    .sort((a, b) => b.usec - a.usec);
  const slow = await redis.sendCommand(['SLOWLOG', 'GET', '20']);
  return [
    'command            calls        total ms   µs/call',
    ...rows.map(
      (r) =>
        `${r.cmd.padEnd(16)} ${String(r.calls).padStart(9)} ${(r.usec / 1000).toFixed(1).padStart(12)} ${r.per.toFixed(2).padStart(9)}`,
    ),
    '',
    'SLOWLOG GET 20 (id, time, µs, command…):',
    JSON.stringify(slow, null, 1),
    '',
  ].join('\n');
}
