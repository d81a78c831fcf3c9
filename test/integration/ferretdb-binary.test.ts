import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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
    assert.deepEqual(
      readdirSync(path.dirname(bin)).sort(),
      ['ferretdb-local', 'ferretdb-local.key'],
      'no temporary file left',
    );
    assert.match(lines[0] ?? '', /^Building the local MongoDB-protocol server \(FerretDB\)/);
    assert.match(lines.at(-1) ?? '', /^Built \.bin\/ferretdb-local in \d+ s\.$/);

    const built = statSync(bin).mtimeMs;
    assert.equal(await ensureFerretdbBinary(root, (l) => lines.push(l)), bin);
    assert.equal(statSync(bin).mtimeMs, built, 'a current program is not rebuilt');
  });

  it('rebuilds when a source or a patch changes, whatever the file times say', async () => {
    const root = fakeRoot(HELLO);
    roots.push(root);
    const bin = await ensureFerretdbBinary(root, () => {});
    const src = path.join(root, 'tools', 'ferretdb');
    writeFileSync(path.join(src, 'main.go'), HELLO.replace('fake ferretdb', 'fake ferretdb 2'));
    // A source older than the program (a checkout, a copy keeping times) still counts.
    utimesSync(path.join(src, 'main.go'), new Date(0), new Date(0));
    await ensureFerretdbBinary(root, () => {});
    assert.equal(execFileSync(bin, { encoding: 'utf8' }), 'fake ferretdb 2\n');

    const built = statSync(bin).mtimeMs;
    mkdirSync(path.join(src, 'patches'));
    writeFileSync(path.join(src, 'patches', 'README.md'), 'not a patch\n');
    await ensureFerretdbBinary(root, () => {});
    assert.equal(statSync(bin).mtimeMs, built, 'only *.patch files are part of the sources');
  });

  it('refuses patches when go.mod does not pin the module they patch', async () => {
    const root = fakeRoot(HELLO);
    roots.push(root);
    const patches = path.join(root, 'tools', 'ferretdb', 'patches');
    mkdirSync(patches);
    writeFileSync(path.join(patches, '0001-x.patch'), '');
    await assert.rejects(
      ensureFerretdbBinary(root, () => {}),
      /tools\/ferretdb\/go\.mod does not require github\.com\/FerretDB\/FerretDB/,
    );
    assert.deepEqual(readdirSync(path.join(root, '.bin')), []);
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
