import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { CONFIG_EXIT_CODE } from '../../src/config/config.js';
import { ChatClient } from '../../client/index.js';
import { projectRoot } from '../../src/local/project-root.js';
import { sharedServers } from '../helpers/servers.js';
import {
  runRefusedStart,
  startProductionSystem,
  type StartedSystem,
} from '../helpers/started-system.js';
import { createTestContext, TEST_JWT_SECRET, type TestContext } from '../helpers/test-context.js';

// `npm run start:prod`, the production start: the compiled dist/ (`npm test` builds it
// first; run alone after `npm run build`), no build step, PM2 in the foreground. Run as an
// operator runs it, in a process group of its own with a private PM2_HOME.

const root = projectRoot();

/** Every bare module specifier imported by the JavaScript files under `dir`. */
function importedPackages(dir: string): Set<string> {
  const found = new Set<string>();
  const visit = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) visit(p);
      else if (entry.name.endsWith('.js')) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(
          /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](?!\.)((?:@[\w.-]+\/)?[\w.-]+(?:\/[\w.-]+)*)['"]/g,
        )) {
          const spec = m[1]!;
          found.add(
            spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!,
          );
        }
      }
    }
  };
  visit(dir);
  return found;
}

describe('production start (npm run start:prod)', function () {
  this.timeout(120_000);

  it('runs only dependencies: dist/ and ecosystem.config.js import no devDependency', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const builtins = new Set(builtinModules);
    const imported = importedPackages(path.join(root, 'dist'));
    for (const spec of readFileSync(path.join(root, 'ecosystem.config.js'), 'utf8').matchAll(
      /from\s*['"]([^'"./][^'"]*)['"]/g,
    )) {
      imported.add(spec[1]!);
    }
    assert.ok(imported.has('koa'), 'the scan finds the imports of dist/');
    for (const name of imported) {
      if (name.startsWith('node:') || builtins.has(name)) continue;
      assert.ok(
        name in pkg.dependencies,
        `${name} is imported at run time but is not a dependency`,
      );
    }
  });

  it(`NODE_ENV=production without MONGODB_URI: one line naming it, exit code ${CONFIG_EXIT_CODE}, nothing started`, async () => {
    const { redisUrl } = sharedServers();
    // JWT_SECRET is missing too: the servers are named first.
    const r = await runRefusedStart('start:prod', {
      NODE_ENV: 'production',
      JWT_SECRET: '',
      REDIS_URL: redisUrl,
      MONGODB_URI: '',
    });
    assert.equal(r.code, CONFIG_EXIT_CODE, r.output);
    assert.match(
      r.output,
      /^Invalid configuration: MONGODB_URI: is required when NODE_ENV=production \(or set ALLOW_LOCAL_SERVERS=true/m,
    );
    assert.doesNotMatch(r.output, /PM2|Building the local/, 'nothing started, nothing built');
    assert.deepEqual(r.leftBehind, []);
  });

  it('NODE_ENV=production without any Redis variable names them', async () => {
    const { mongoUri } = sharedServers();
    const r = await runRefusedStart('start:prod', {
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      REDIS_URL: '',
      REDIS_HOST: '',
      REDIS_PORT: '',
      REDIS_CLUSTER_NODES: '',
      MONGODB_URI: mongoUri,
    });
    assert.equal(r.code, CONFIG_EXIT_CODE, r.output);
    assert.match(
      r.output,
      /^Invalid configuration: REDIS_URL \(or REDIS_HOST, REDIS_PORT, REDIS_CLUSTER_NODES\): is required when NODE_ENV=production/m,
    );
    assert.deepEqual(r.leftBehind, []);
  });

  describe('with the servers given', () => {
    let ctx: TestContext;
    let system: StartedSystem | undefined;

    before(async () => {
      ctx = createTestContext('prodstart');
      system = await startProductionSystem(ctx);
    });

    after(async () => {
      await system?.stop();
      await ctx?.cleanup();
    });

    it('serves the pages with the scripts the build shipped, and keeps /metrics off the public port', async () => {
      const { url } = system!;
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      for (const [pagePath, script] of [
        ['/', 'web/chat.js'],
        ['/dashboard', 'web/dashboard.js'],
      ] as const) {
        const text = pagePath === '/' ? html : await (await fetch(`${url}${pagePath}`)).text();
        assert.ok(text.includes(`/static/js/${script}`), `${pagePath} loads /static/js/${script}`);
      }
      // The pages' scripts and the typed client they import (client/, built by web/tsconfig.json).
      for (const script of ['web/chat.js', 'web/dashboard.js', 'client/index.js']) {
        const js = await fetch(`${url}/static/js/${script}`);
        assert.equal(js.status, 200, `/static/js/${script}`);
        assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      }
      const metrics = await fetch(`${url}/metrics`);
      assert.equal(metrics.status, 404);
      assert.equal(((await metrics.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    });

    it('answers a sign-up, and stops every process it started on Ctrl-C (SIGINT)', async () => {
      const username = `prod_${ctx.id.slice(-8)}`;
      const client = new ChatClient({ baseUrl: system!.url });
      const auth = await client.signup({ username, password: 'correct horse battery' });
      assert.equal(auth.user.username, username);
      assert.ok(system!.processes().length >= 3, 'npm, pm2-runtime, the api and the daemon run');
      const started = system!;
      system = undefined;
      const exit = await started.stop();
      const left = started.processes();
      assert.deepEqual(left, [], 'no process of the start is left');
      assert.ok(exit.code === 0 || exit.signal === 'SIGINT', JSON.stringify(exit));
      // A healthy start and stop print no error of PM2's (README, *Troubleshooting*).
      assert.doesNotMatch(started.output(), /\[PM2\]\[ERROR\]/);
    });
  });
});
