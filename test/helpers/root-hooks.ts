import { startSharedServers, stopSharedServers } from './servers.js';

// One Redis and one MongoDB-protocol server for the whole mocha run; tests that stop or
// restart a server start their own with startThrowawayRedis/startThrowawayMongo.
process.env.NODE_ENV = 'test';

export async function mochaGlobalSetup(): Promise<void> {
  await startSharedServers();
}

export async function mochaGlobalTeardown(): Promise<void> {
  await stopSharedServers();
}
