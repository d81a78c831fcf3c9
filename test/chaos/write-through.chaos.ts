import { checkSharedRateLimit } from '../helpers/stack/rate-limit-check.js';
import { FULL, prepareChaos, type ChaosContext } from '../helpers/stack/scenario-runner.js';
import {
  apiKill,
  daemonKill,
  memoryPressure,
  mongoOutage,
  redisNetwork,
  redisRestart,
} from '../helpers/stack/scenarios.js';

// The full reliability run, write-through stack (the default mode): every fault under a
// load of 6 REST + 6 ws senders on the PM2 ecosystem (2 api + 2 expiry-daemon instances).
describe('reliability (full): write-through stack', function () {
  this.timeout(300_000);
  let ctx: ChaosContext | undefined;
  before(async () => {
    ctx = await prepareChaos(FULL, { persistenceMode: 'write-through' });
  });
  after(async () => {
    await ctx?.stack.close();
  });

  it('1: daemon instances killed with -9 repeatedly', () => daemonKill(ctx!, 'write-through'));
  it('2: api instances killed with -9 repeatedly', () => apiKill(ctx!, 'write-through'));
  it('3: pubsub clients killed + 2 s daemon↔Redis cut', () => redisNetwork(ctx!, 'write-through'));
  it('4: Redis crash + restart, AOF everysec: lost 0', () =>
    redisRestart(ctx!, 'write-through, everysec'));
  it('5: MongoDB down 30 s: 202, persisted later', () => mongoOutage(ctx!, 'write-through'));
  it('6: maxmemory pressure: evictions, nothing lost', () => memoryPressure(ctx!, 'write-through'));
  it('the rate limit is shared by REST, ws and both api instances', async () => {
    await checkSharedRateLimit(ctx!);
  });
});
