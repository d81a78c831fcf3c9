import type { Scenario } from '../lib/scenario.js';
import { cacheMemory } from './cache-memory.js';
import { cluster } from './cluster.js';
import { expiryLagBackground } from './expiry-lag-background.js';
import { expiryLagSteady } from './expiry-lag-steady.js';
import { expiryPersist } from './expiry-persist.js';
import { expiryThroughput } from './expiry-throughput.js';
import { growth } from './growth.js';
import { readThroughput } from './read-throughput.js';
import { redisLimit } from './redis-limit.js';
import { seedPollCost } from './seed-poll-cost.js';
import { sendThroughput } from './send-throughput.js';
import { ws10k } from './ws-10k.js';
import { wsFanout } from './ws-fanout.js';

/** Every scenario, in the order of the table. */
export const SCENARIOS: Scenario[] = [
  expiryThroughput,
  expiryLagSteady,
  expiryLagBackground,
  expiryPersist,
  seedPollCost,
  sendThroughput,
  readThroughput,
  growth,
  wsFanout,
  ws10k,
  cacheMemory,
  redisLimit,
  // Last: its six redis-servers run only while it runs, after every single-node figure.
  cluster,
];
