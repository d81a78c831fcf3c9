/**
 * `npm run bench [-- --quick] [-- --only=id,id] [-- --rounds=N]`: starts its own Redis and
 * MongoDB-protocol servers, runs each scenario against its baseline in the same run (several
 * rounds, the median reported), prints a table, and writes bench/results/latest.json and the
 * lag chart; a full run (no --quick, --only, --profile or --rounds) also rewrites
 * BENCHMARKS.md and docs/bench-lag.svg.
 * Every figure is a ratio against a baseline measured on the same (shared, noisy) machine
 * minutes apart; nothing here asserts a timing in `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { createClient } from 'redis';
import { withSpread, type BenchResult } from './lib/bench-result.js';
import { parseBenchOptions, type BenchOptions } from './lib/bench-options.js';
import { startBenchServers } from './lib/bench-servers.js';
import { writeBenchmarksMd, type BenchReport } from './lib/benchmarks-md.js';
import { ROOT } from './lib/child.js';
import { cleanupAll, cleanupOnSignals, onCleanup } from './lib/cleanup.js';
import { writeLagChart } from './lib/lag-chart.js';
import { machineInfo, machineLine, packageVersions } from './lib/machine-info.js';
import { redisStatsReport, resetRedisStats } from './lib/redis-stats.js';
import { renderNotes, renderTable } from './lib/report-table.js';
import type { ScenarioContext } from './lib/scenario.js';
import { buildSystem, SYSTEM_BUILD_DIR } from './lib/system-build.js';
import { profileSystemProcesses } from './lib/system-processes.js';
import { SCENARIOS } from './scenarios/all-scenarios.js';

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 2;
  }
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`);
  cleanupOnSignals();
  const resultsDir = path.join(ROOT, 'bench', 'results');
  const profileDir = path.join(resultsDir, 'profiles');
  mkdirSync(profileDir, { recursive: true });

  let profileRun: string | undefined;
  if (options.profile) {
    profileRun = path.join(profileDir, new Date(started).toISOString().replace(/[:.]/g, '-'));
    mkdirSync(profileRun, { recursive: true });
    profileSystemProcesses(profileRun);
    log(`CPU profiles of the API and daemon processes go to ${path.relative(ROOT, profileRun)}`);
  }
  log(
    `compiling src/ into ${path.relative(ROOT, SYSTEM_BUILD_DIR)} (the system runs as plain node, as in production)`,
  );
  const buildWarning = await buildSystem();
  if (buildWarning) log(buildWarning);
  log(`mode: ${options.quick ? 'QUICK (smaller counts and durations)' : 'full'}`);
  const servers = await startBenchServers();
  const redis = createClient({ url: servers.redisUrl });
  redis.on('error', () => {});
  await redis.connect();
  onCleanup('admin redis client', async () => void (await redis.close().catch(() => {})));
  const mongo = new MongoClient(servers.mongoUri);
  await mongo.connect();
  onCleanup('admin mongo client', () => mongo.close());
  const ctx: ScenarioContext = { servers, options, redis, mongo, log, profileRun };
  const machine = await machineInfo(redis, servers.mongoKind);

  const results: BenchResult[] = [];
  for (const scenario of SCENARIOS) {
    if (options.only.length > 0 && !scenario.ids.some((id) => options.only.includes(id))) continue;
    log(`── ${scenario.ids.join(', ')}`);
    try {
      if (profileRun) await resetRedisStats(redis);
      results.push(...(await scenario.run(ctx)).map(withSpread));
      if (profileRun) {
        const file = path.join(profileRun, `${scenario.ids[0]}-redis.txt`);
        writeFileSync(file, await redisStatsReport(redis));
        log(`Redis commandstats and slowlog: ${path.relative(ROOT, file)}`);
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      log(`${scenario.ids.join(', ')} failed: ${(err as Error).stack ?? reason}`);
      for (const id of scenario.ids) {
        results.push({
          id,
          unit: '',
          value: null,
          baseline: { name: '', value: null },
          ratio: null,
          goal: '',
          met: null,
          notes: [`not run: ${reason}`],
        });
      }
    }
  }

  const durationSeconds = Math.round((Date.now() - started) / 1000);
  // How fast this host was, on the machine line: figures of runs on other hosts compare by it.
  const limit = results.find((r) => r.id === 'redis-limit')?.value;
  if (typeof limit === 'number') machine.redisLimit = limit;
  const flags = [
    ...(options.quick ? ['--quick'] : []),
    ...(options.profile ? ['--profile'] : []),
    ...(options.only.length ? [`--only=${options.only.join(',')}`] : []),
    ...(options.roundsGiven ? [`--rounds=${options.rounds}`] : []),
  ];
  const command = `npm run bench${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
  const report: BenchReport = {
    command,
    quick: options.quick,
    startedAt: new Date(started).toISOString(),
    durationSeconds,
    machine,
    versions: packageVersions(),
    results,
  };
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const full =
    !options.quick && options.only.length === 0 && !options.profile && !options.roundsGiven;
  const subtitle = `${options.quick ? 'QUICK run, ' : ''}${options.lagRate}/s for ${options.lagSeconds} s · ${report.startedAt.slice(0, 16)} · ${machine.cpuModel} × ${machine.cores}`;
  const chart = writeLagChart(
    results,
    path.join(resultsDir, 'lag.svg'),
    subtitle,
    full ? path.join(ROOT, 'docs', 'bench-lag.svg') : undefined,
  );
  if (full) await writeBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), report);

  process.stdout.write(`\n${renderTable(results)}\n\n${renderNotes(results)}\n\n`);
  process.stdout.write(
    `${options.quick ? 'QUICK run (smaller counts/durations). ' : ''}${durationSeconds} s on ${machineLine(machine)}; node ${machine.node}, redis ${machine.redis}, ${machine.mongo}. ` +
      `Written: bench/results/latest.json${chart ? ', bench/results/lag.svg' : ''}${full ? ', BENCHMARKS.md, docs/bench-lag.svg' : ''}\n`,
  );
  return 0;
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  })
  .then(async (code) => {
    await cleanupAll();
    process.exit(code);
  });
