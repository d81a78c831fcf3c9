import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatTable, recorded } from '../helpers/stack/figures.js';
import { checkSharedRateLimit } from '../helpers/stack/rate-limit-check.js';
import { prepareChaos, SHORT, type ChaosContext } from '../helpers/stack/scenario-runner.js';
import {
  apiKill,
  daemonKill,
  memoryPressure,
  mongoOutage,
  redisNetwork,
  redisRestart,
} from '../helpers/stack/scenarios.js';

// The short reliability suite (the full one is `npm run test:chaos`): the PM2 ecosystem
// (2 api + 2 expiry-daemon instances, compiled dist/) on throwaway Redis (AOF on) and
// MongoDB-protocol servers, under a load of REST and ws senders, through each fault once.
// `npm test` builds dist/ before mocha runs; run alone with `npm run build` first.
describe('reliability (short): the PM2 stack under faults', function () {
  this.timeout(90_000);

  after(() => {
    if (recorded.length)
      console.log(`\n${formatTable(recorded.filter((f) => f.suite === 'short'))}\n`);
  });

  describe('write-through', () => {
    let ctx: ChaosContext | undefined;
    before(async () => {
      ctx = await prepareChaos(SHORT, { persistenceMode: 'write-through' });
    });
    after(async () => {
      await ctx?.stack.close();
    });

    it('2: an api instance killed with -9 loses and duplicates nothing', async () => {
      await apiKill(ctx!, 'write-through');
    });
    it('4: a Redis crash + restart (AOF everysec) loses no acknowledged message', async () => {
      await redisRestart(ctx!, 'write-through, everysec');
    });
    it('5: MongoDB down: sends answer 202 and are persisted later', async () => {
      await mongoOutage(ctx!, 'write-through');
      // The api runs in PM2's cluster mode: its warning must reach PM2's log file.
      const apiLog = readFileSync(path.join(ctx!.stack.logDir, 'api.out.log'), 'utf8');
      assert.match(apiLog, /MongoDB unavailable: sends are accepted into Redis/);
    });
    it('6: maxmemory pressure evicts cache entries, never the records', async () => {
      await memoryPressure(ctx!, 'write-through');
    });
    it('the per-user rate limit is shared by REST, ws and both api instances', async () => {
      await checkSharedRateLimit(ctx!);
    });
  });

  describe('write-behind', () => {
    let ctx: ChaosContext | undefined;
    before(async () => {
      ctx = await prepareChaos(SHORT, { persistenceMode: 'write-behind' });
    });
    after(async () => {
      await ctx?.stack.close();
    });

    it('1: a daemon instance killed with -9, twice, loses nothing', async () => {
      await daemonKill(ctx!, 'write-behind');
    });
    it('3: pubsub clients killed and a 2 s daemon↔Redis cut lose nothing', async () => {
      await redisNetwork(ctx!, 'write-behind');
    });
    it('4: a Redis crash + restart in write-behind (AOF everysec): loss measured', async () => {
      await redisRestart(ctx!, 'write-behind, everysec');
    });
  });
});
