import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnvFiles } from '../../src/config/load-env.js';

describe('loadEnvFiles', () => {
  const names = ['NODE_ENV', 'HOST', 'PORT', 'LOG_LEVEL'] as const;
  let saved: Record<string, string | undefined>;
  let root: string;

  beforeEach(() => {
    saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
    root = mkdtempSync(path.join(os.tmpdir(), 'chat-env-'));
    mkdirSync(path.join(root, 'config'));
    writeFileSync(path.join(root, 'config', 'production.env'), 'HOST=0.0.0.0\nLOG_LEVEL=info\n');
    writeFileSync(path.join(root, 'config', 'development.env'), 'HOST=dev-host\n');
  });

  afterEach(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('picks the defaults file of a NODE_ENV set only in .env', () => {
    writeFileSync(path.join(root, '.env'), 'NODE_ENV=production\nLOG_LEVEL=debug\n');
    loadEnvFiles(root);
    assert.equal(process.env.NODE_ENV, 'production');
    assert.equal(process.env.HOST, '0.0.0.0');
    assert.equal(process.env.LOG_LEVEL, 'debug', '.env wins over config/');
  });

  it('lets the environment win over both files', () => {
    process.env.HOST = 'from-env';
    writeFileSync(path.join(root, '.env'), 'HOST=from-dotenv\n');
    loadEnvFiles(root);
    assert.equal(process.env.HOST, 'from-env');
  });
});
