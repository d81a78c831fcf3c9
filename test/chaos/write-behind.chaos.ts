import { FULL, prepareChaos, type ChaosContext } from '../helpers/stack/scenario-runner.js';
import { daemonKill, redisNetwork, redisRestart } from '../helpers/stack/scenarios.js';

// The full reliability run in write-behind mode, where the daemons are the only path to
// MongoDB: daemon kills and a daemon↔Redis cut must lose nothing; a Redis crash loses
// what its AOF had not written, measured with appendfsync everysec and always.
describe('reliability (full): write-behind stack, AOF everysec', function () {
  this.timeout(300_000);
  let ctx: ChaosContext | undefined;
  before(async () => {
    ctx = await prepareChaos(FULL, { persistenceMode: 'write-behind' });
  });
  after(async () => {
    await ctx?.stack.close();
  });

  it('1: daemon instances killed with -9 repeatedly: lost 0', () =>
    daemonKill(ctx!, 'write-behind'));
  it('3: pubsub clients killed + 2 s daemon↔Redis cut: lost 0', () =>
    redisNetwork(ctx!, 'write-behind'));
  it('4: Redis crash + restart, AOF everysec: loss measured', () =>
    redisRestart(ctx!, 'write-behind, everysec'));
});

describe('reliability (full): write-behind stack, AOF always', function () {
  this.timeout(300_000);
  let ctx: ChaosContext | undefined;
  before(async () => {
    ctx = await prepareChaos(FULL, {
      persistenceMode: 'write-behind',
      redisExtraArgs: ['--appendfsync', 'always'],
    });
  });
  after(async () => {
    await ctx?.stack.close();
  });

  it('4: Redis crash + restart, appendfsync always: loss measured', () =>
    redisRestart(ctx!, 'write-behind, always'));
});
