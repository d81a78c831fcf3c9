import type { BenchCluster } from './bench-cluster.js';
import { NodeChild } from './child.js';
import { daemonLagRun, LEAD_MS, type LagRun } from './lag-runs.js';
import { waitPartitionsDrained } from './partitioned-burst.js';
import type { ScenarioContext } from './scenario.js';
import type { DaemonProcess } from './system-processes.js';

/**
 * The lag of the system on the cluster, as lag-runs.ts's `systemLagRun` measures it on one
 * node: expirations created by the send script at the scenario's rate
 * (bench/workers/cluster-expiry-generator.ts), processed by `daemons`.
 */
export function clusterLagRun(
  ctx: ScenarioContext,
  cluster: BenchCluster,
  daemons: DaemonProcess[],
): Promise<LagRun> {
  const { lagRate, lagSeconds, deliveryWindowSeconds } = ctx.options;
  const create = async () => {
    const gen = new NodeChild('generator:cluster', 'bench/workers/cluster-expiry-generator.ts', {
      env: {
        CLUSTER_NODES: cluster.running.seeds,
        PARTITIONS: String(cluster.space.count),
        RATE: String(lagRate),
        SECONDS: String(lagSeconds),
        LEAD_MS: String(LEAD_MS),
      },
    });
    await gen.next('ready', 30000);
    gen.send({ type: 'go' });
    const result = await gen.next<{ created: number; rate: number }>(
      'result',
      (lagSeconds + 30) * 1000,
    );
    await gen.waitExit(10000);
    if (result.rate < lagRate * 0.95) {
      ctx.log(`generator (cluster) reached only ${Math.round(result.rate)}/s of ${lagRate}/s`);
    }
    return result;
  };
  return daemonLagRun(ctx, daemons, create, () =>
    waitPartitionsDrained(cluster.admin, cluster.space, deliveryWindowSeconds * 1000),
  );
}
