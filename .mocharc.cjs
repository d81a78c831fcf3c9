// Mocha runs the TypeScript sources through tsx; the root hooks in test/helpers start
// throwaway Redis and MongoDB-protocol servers once per run (see test/helpers/servers.ts).
// The files to run are named by the npm scripts, so `npx mocha <file>` runs just that file.
module.exports = {
  'node-option': ['import=tsx'],
  require: ['test/helpers/root-hooks.ts'],
  timeout: 20000,
  exit: true,
};
