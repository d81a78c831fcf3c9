import type { MongoClient } from 'mongodb';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import type { BenchOptions } from './bench-options.js';
import type { BenchResult } from './bench-result.js';
import type { BenchServers } from './bench-servers.js';

/** What every scenario gets from the runner. */
export interface ScenarioContext {
  servers: BenchServers;
  options: BenchOptions;
  /** An admin connection to the bench Redis (seeding, INFO, polling sizes). */
  redis: RedisNodeClient;
  /** An admin connection to the bench MongoDB. */
  mongo: MongoClient;
  /** One progress line on stderr. */
  log(line: string): void;
  /** Where this run's profiles and Redis reports go (`--profile`); undefined otherwise. */
  profileRun: string | undefined;
}

/** A benchmark scenario: runs its system and baseline rounds and returns its table rows. */
export interface Scenario {
  /** The ids of the rows it produces (for `--only`). */
  ids: string[];
  run(ctx: ScenarioContext): Promise<BenchResult[]>;
}

/** Empties Redis and the bench database between scenarios, so each starts clean. */
export async function resetStores(ctx: ScenarioContext): Promise<void> {
  await ctx.redis.flushAll();
  await ctx.mongo.db('bench').dropDatabase();
}
