import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  FETCHED_GO_VERSION,
  fetchGoToolchain,
  findGoToolchain,
} from '../../src/local/go-toolchain.js';

const run = promisify(execFile);

/** A Go older than 1.24, as Debian 12's golang-go (1.19): the one installed, or 1.19 fetched as a module. */
async function olderGo(): Promise<string> {
  for (const go of ['go', '/usr/local/go/bin/go']) {
    const version = await run(go, ['version']).then(
      (r) => /go version go(\d+)\.(\d+)/.exec(r.stdout),
      () => null,
    );
    if (!version) continue;
    if (Number(version[1]) === 1 && Number(version[2]) < 24) return go;
    return fetchGoToolchain(go, '1.19.13');
  }
  throw new Error('no Go installed: the FerretDB build and this test need one');
}

describe('finding a Go that builds tools/ferretdb', function () {
  // Two toolchain downloads on a machine with empty Go caches.
  this.timeout(300_000);

  it(`with only an older Go (Debian 12's 1.19), fetches Go ${FETCHED_GO_VERSION} as a module and uses it`, async () => {
    const old = await olderGo();
    assert.match((await run(old, ['version'])).stdout, /go1\.(1\d|2[0-3])\b/);
    const lines: string[] = [];
    const go = await findGoToolchain((l) => lines.push(l), ['/nonexistent/go', old]);
    assert.ok(go, 'a toolchain was found');
    assert.match(
      (await run(go, ['version'])).stdout,
      new RegExp(`go version go${FETCHED_GO_VERSION.replaceAll('.', '\\.')} `),
    );
    assert.match(
      lines.join('\n'),
      /is older than 1\.24: fetching Go .* as the module golang\.org\/toolchain/,
    );
    // The fetched toolchain compiles and links (its tools were made executable again).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-gotoolchain-'));
    try {
      writeFileSync(path.join(dir, 'go.mod'), 'module example.com/hello\n\ngo 1.24\n');
      writeFileSync(
        path.join(dir, 'main.go'),
        'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
      );
      await run(go, ['build', '-o', 'hello', '.'], { cwd: dir });
      assert.equal((await run(path.join(dir, 'hello'))).stdout, 'hello\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prefers a Go ≥ 1.24 that is installed, and finds none where there is none', async () => {
    const none = await findGoToolchain(() => assert.fail('nothing to fetch'), ['/nonexistent/go']);
    assert.equal(none, undefined);
    const old = await olderGo();
    const lines: string[] = [];
    const go = await findGoToolchain((l) => lines.push(l), [old]);
    assert.ok(go);
    // A Go ≥ 1.24 among the candidates is used as it is, before any older one.
    assert.equal(await findGoToolchain(() => assert.fail('no fetch'), [go, old]), go);
  });
});
