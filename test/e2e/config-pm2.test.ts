import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_EXIT_CODE } from '../../src/config/config.js';
import { sleep } from '../../src/lifecycle/wait.js';
import { loadEcosystemApps } from '../helpers/stack/ecosystem-apps.js';
import { Pm2Control, type Pm2Process } from '../helpers/stack/pm2-control.js';
import { sharedServers } from '../helpers/servers.js';

// The apps of ecosystem.config.js (compiled dist/: `npm test` builds it first; run alone
// after `npm run build`), on a private PM2 daemon, given a bad variable: each process prints
// the one line, exits with CONFIG_EXIT_CODE, and PM2 leaves it stopped instead of
// restarting it (ecosystem.config.js: stop_exit_codes).
describe('a bad configuration under PM2', function () {
  this.timeout(60_000);
  let pm2: Pm2Control | undefined;
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'chat-pm2-config-'));

  after(async () => {
    await pm2?.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  it(`stops the api (cluster) and the expiry daemon (fork) with exit code ${CONFIG_EXIT_CODE}; PM2 does not restart them`, async () => {
    const { redisUrl, mongoUri } = sharedServers();
    const apps = loadEcosystemApps({ apiInstances: 2, daemonInstances: 1, redisUrl, mongoUri });
    assert.deepEqual(apps.api.stop_exit_codes, [CONFIG_EXIT_CODE]);
    assert.deepEqual(apps.daemon.stop_exit_codes, [CONFIG_EXIT_CODE]);
    pm2 = await Pm2Control.connect();
    const env = {
      NODE_ENV: 'test',
      REDIS_URL: redisUrl,
      MONGODB_URI: mongoUri,
      CACHE_TTL_SECONDS: 'abc',
    };
    // Only the variables and the log files change; restart policy as in ecosystem.config.js.
    for (const [app, file] of [
      [apps.api, 'api'],
      [apps.daemon, 'daemon'],
    ] as const) {
      await pm2.start({
        ...app,
        env: { ...app.env, ...env },
        error: path.join(logDir, `${file}.err.log`),
        output: path.join(logDir, `${file}.out.log`),
        merge_logs: true,
      });
    }

    // Without stop_exit_codes PM2 restarts them until it gives up ('errored' after 16
    // unstable restarts). 'stopped' is also seen for an instant between an exit and its
    // restart, so the state must be the same on two lists in a row.
    const running = new Set(['online', 'launching', 'waiting restart', 'stopping']);
    const deadline = Date.now() + 45_000;
    let previous = '';
    let procs: Pm2Process[];
    for (;;) {
      procs = await pm2.list();
      const settled = procs.length === 3 && procs.every((p) => !running.has(p.status));
      const now = JSON.stringify(procs.map((p) => [p.pmId, p.status, p.restarts]));
      if (settled && now === previous) break;
      previous = settled ? now : '';
      assert.ok(Date.now() < deadline, `PM2 apps did not settle: ${now}`);
      // Poll interval, and the gap that makes two equal lists in a row mean "settled".
      await sleep(500);
    }
    for (const p of procs) {
      assert.equal(p.status, 'stopped', `${p.name} #${p.pmId}: ${p.status}`);
      assert.ok(p.restarts <= 1, `${p.name} #${p.pmId} restarted ${p.restarts} times`);
    }
    const line =
      'Invalid configuration: CACHE_TTL_SECONDS = "abc": must be a whole number of seconds from 1 to 86400';
    for (const file of ['api', 'daemon']) {
      const lines = readFileSync(path.join(logDir, `${file}.err.log`), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      assert.ok(lines.length >= 1 && lines.every((l) => l.trim() === line), lines.join('\n'));
    }
  });
});
