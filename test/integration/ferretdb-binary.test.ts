import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureFerretdbBinary, ferretdbBinaryPath } from '../../src/local/ferretdb-binary.js';

/** A project root whose tools/ferretdb is a tiny Go program (builds in seconds, no modules). */
function fakeRoot(mainGo: string): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'chat-gobuild-'));
  const src = path.join(root, 'tools', 'ferretdb');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'go.mod'), 'module example.com/fake\n\ngo 1.24\n');
  writeFileSync(path.join(src, 'go.sum'), '');
  writeFileSync(path.join(src, 'main.go'), mainGo);
  return root;
}

const HELLO = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("fake ferretdb") }\n';

describe('the local FerretDB build', function () {
  this.timeout(120_000);
  const roots: string[] = [];
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

  it('builds once for parallel callers, into place by rename, and not again when current', async () => {
    const root = fakeRoot(HELLO);
    roots.push(root);
    const lines: string[] = [];
    const first = ensureFerretdbBinary(root, (l) => lines.push(l));
    const second = ensureFerretdbBinary(root, (l) => lines.push(l));
    assert.equal(first, second, 'parallel callers share one build');
    const bin = await first;
    assert.equal(bin, ferretdbBinaryPath(root));
    assert.equal(execFileSync(bin, { encoding: 'utf8' }), 'fake ferretdb\n');
    assert.deepEqual(readdirSync(path.dirname(bin)), ['ferretdb-local'], 'no temporary file left');
    assert.match(lines[0] ?? '', /^Building the local MongoDB-protocol server \(FerretDB\)/);
    assert.match(lines.at(-1) ?? '', /^Built \.bin\/ferretdb-local in \d+ s\.$/);

    const built = statSync(bin).mtimeMs;
    assert.equal(await ensureFerretdbBinary(root, (l) => lines.push(l)), bin);
    assert.equal(statSync(bin).mtimeMs, built, 'a current program is not rebuilt');
  });

  it('fails with the end of the compiler output, leaving nothing behind', async () => {
    const root = fakeRoot('package main\n\nfunc main() { undefinedThing() }\n');
    roots.push(root);
    await assert.rejects(
      ensureFerretdbBinary(root, () => {}),
      (err: Error) =>
        /go build exited with 1/.test(err.message) && /undefined: undefinedThing/.test(err.message),
    );
    assert.deepEqual(readdirSync(path.join(root, '.bin')), []);
  });
});
