import { contractMochaHooks, installContractHook } from './contract-hook.js';
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

// Every answer and ws frame the tests receive from the API is checked against the OpenAPI and
// AsyncAPI documents; a test that receives one they do not describe fails (contract-hook.ts).
installContractHook();
export const mochaHooks = contractMochaHooks;
