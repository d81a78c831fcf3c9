// Mocha runs the TypeScript sources through tsx; the root hooks in test/helpers start
// throwaway Redis and MongoDB-protocol servers once per run (see test/helpers/servers.ts).
module.exports = {
  'node-option': ['import=tsx'],
  spec: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
  require: ['test/helpers/root-hooks.ts'],
  timeout: 20000,
  exit: true,
};
