import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { CONFIG_EXIT_CODE } from '../../src/config/config.js';
import { projectRoot } from '../../src/local/project-root.js';

// deploy/systemd/chat-cache.service against what it runs: the npm script, the exit code of
// a bad configuration, and the time a stop may take with production's shutdown delay.

const root = projectRoot();

/** `Key=value` lines of a systemd unit, by key (repeated keys keep every value). */
function unitEntries(file: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) entries.set(m[1]!, [...(entries.get(m[1]!) ?? []), m[2]!]);
  }
  return entries;
}

describe('deploy/systemd/chat-cache.service', () => {
  const unit = unitEntries(path.join(root, 'deploy', 'systemd', 'chat-cache.service'));
  const one = (key: string) => {
    const values = unit.get(key) ?? [];
    assert.equal(values.length, 1, `${key}= once`);
    return values[0]!;
  };

  it('runs npm run start:prod in production, a script package.json has', () => {
    const command = /npm run ([\w:-]+)$/.exec(one('ExecStart'))?.[1];
    assert.equal(command, 'start:prod');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.ok(pkg.scripts[command], 'package.json has the script');
    assert.ok(unit.get('Environment')?.includes('NODE_ENV=production'));
    assert.equal(one('Type'), 'simple', 'pm2-runtime stays in the foreground');
  });

  it('stops as Ctrl-C does, within the time production needs, and never restarts a bad configuration', () => {
    assert.equal(one('KillSignal'), 'SIGINT');
    assert.equal(Number(one('RestartPreventExitStatus')), CONFIG_EXIT_CODE);
    const production = dotenv.parse(readFileSync(path.join(root, 'config', 'production.env')));
    const delayMs = Number(production.SHUTDOWN_DELAY_MS ?? 0);
    // PM2 gives the api the delay + 12 s (ecosystem.config.js kill_timeout) before SIGKILL.
    assert.ok(
      Number(one('TimeoutStopSec')) * 1000 > delayMs + 12_000,
      `TimeoutStopSec ${one('TimeoutStopSec')} s outlasts the api's kill_timeout`,
    );
  });
});
