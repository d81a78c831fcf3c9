import { masterKill } from './cluster-scenarios.js';
import { FULL, prepareChaos, type ChaosContext } from '../helpers/stack/scenario-runner.js';

// The PM2 stack on a throwaway Redis Cluster (3 masters + 3 replicas, cluster-node-timeout
// 1000): a master killed with -9 under the load, in each of the three durability settings.
describe('reliability (full): Redis Cluster, write-through', function () {
  this.timeout(300_000);
  let ctx: ChaosContext | undefined;
  before(async () => {
    ctx = await prepareChaos(FULL, { cluster: true, persistenceMode: 'write-through' });
  });
  after(async () => {
    await ctx?.stack.close();
  });

  it('7: kill -9 of a master: lost 0, duplicated 0', () => masterKill(ctx!, 'write-through'));
});

describe('reliability (full): Redis Cluster, write-behind, REDIS_WAIT_REPLICAS=1', function () {
  this.timeout(300_000);
  let ctx: ChaosContext | undefined;
  before(async () => {
    ctx = await prepareChaos(FULL, {
      cluster: true,
      persistenceMode: 'write-behind',
      env: { REDIS_WAIT_REPLICAS: '1' },
    });
  });
  after(async () => {
    await ctx?.stack.close();
  });

  it('7: kill -9 of a master (restarted as a replica): lost 0, duplicated 0', () =>
    masterKill(ctx!, 'write-behind, WAIT 1', { restartVictim: true }));
});

describe('reliability (full): Redis Cluster, write-behind without a replica wait', function () {
  this.timeout(300_000);
  let ctx: ChaosContext | undefined;
  before(async () => {
    ctx = await prepareChaos(FULL, { cluster: true, persistenceMode: 'write-behind' });
  });
  after(async () => {
    await ctx?.stack.close();
  });

  it('7: kill -9 of a master: loss and duplicates measured', () =>
    masterKill(ctx!, 'write-behind, no WAIT', {
      lossIsMeasured: true,
      duplicatesAreMeasured: true,
    }));
});
