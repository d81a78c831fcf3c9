import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

// The README's Quickstart, run exactly as written: its one bash block, unchanged, under
// `bash -euo pipefail` in the project root against a real API process (no daemon: the
// Quickstart does not wait for expirations), with `API` pointing at it.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The fenced bash block of README's `## Quickstart`; fails unless it is the section's only one. */
function quickstartBlock(readme: string): string {
  const sections = readme.split(/^(?=## )/m).filter((s) => /^## Quickstart\s*$/m.test(s));
  assert.equal(sections.length, 1, 'README.md must have exactly one "## Quickstart" section');
  const fences = sections[0]!.match(/^```.*$/gm) ?? [];
  assert.equal(fences.length, 2, `the Quickstart must hold exactly one fenced block: ${fences}`);
  const block = /^```bash\n([\s\S]*?)^```$/m.exec(sections[0]!);
  assert.ok(block, 'the Quickstart block must be fenced as ```bash');
  return block[1]!;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `script` with bash in the project root, `API` set to `api`; never rejects. */
function runBash(script: string, api: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', script],
      {
        cwd: root,
        // `node` in the block is the one running the tests.
        env: {
          ...process.env,
          API: api,
          PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
        },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function parseJson(line: string | undefined, what: string) {
  try {
    return JSON.parse(line ?? '');
  } catch {
    assert.fail(`${what}: not JSON: ${line}`);
  }
}

/** Checks the output of one run of the block, line by line. */
function checkRun(run: Run): void {
  const context = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  assert.equal(run.code, 0, context);

  const lines = run.stdout.split('\n');
  assert.equal(lines.pop(), '', context);
  assert.equal(lines.length, 7, context);
  const [aliceLine, bobLine, connected, sendLine, read1, read2, frameLine] = lines;

  const alice = parseJson(aliceLine, 'alice sign-up');
  const bob = parseJson(bobLine, 'bob sign-up');
  assert.match(alice.user.username, /^alice_\d+$/, context);
  assert.match(bob.user.username, /^bob_\d+$/, context);
  for (const u of [alice, bob]) {
    assert.match(u.user.id, /^[0-9a-f]{24}$/, context);
    assert.equal(typeof u.token, 'string', context);
  }

  assert.equal(connected, 'bob: ws connected', context);

  const sent = parseJson(sendLine, 'the send');
  assert.equal(sent.persisted, true, context);
  assert.equal(sent.message.content, 'hello bob', context);
  assert.equal(sent.message.senderId, alice.user.id, context);
  assert.equal(sent.message.receiverId, bob.user.id, context);

  // curl -i prints the header line as it came, CRLF included.
  assert.equal(read1, 'X-Cache: MISS\r', context);
  assert.equal(read2, 'X-Cache: HIT\r', context);

  const prefix = 'bob got: ';
  assert.ok(frameLine !== undefined && frameLine.startsWith(prefix), context);
  const frame = parseJson(frameLine.slice(prefix.length), 'the ws frame');
  assert.equal(frame.type, 'message:new', context);
  assert.deepEqual(frame.message, sent.message, context);
}

describe('README Quickstart', function () {
  this.timeout(60_000);

  let block: string;
  let ctx: TestContext;
  let api: ApiServer;

  before(async () => {
    block = quickstartBlock(readFileSync(path.join(root, 'README.md'), 'utf8'));
    ctx = createTestContext('quickstart');
    api = await startApiServer(ctx.config, ctx.logger);
    await api.ready;
  });

  after(async () => {
    await api?.close();
    await ctx?.cleanup();
  });

  // Twice on the same database: the README says the lines can be pasted again.
  for (const round of [1, 2])
    it(`runs as written (round ${round}): two sign-ups, a send, MISS then HIT, the ws frame`, async () => {
      checkRun(await runBash(block, api.url, 40_000));
    });

  it('fails at the first line that fails (here: no API answering)', async () => {
    // Port 1 on loopback: nothing listens there, so the first sign-up's curl fails.
    const run = await runBash(block, 'http://127.0.0.1:1', 20_000);
    assert.notEqual(run.code, 0, `stdout:\n${run.stdout}`);
    assert.equal(run.stdout, '', 'nothing after the failed sign-up may run');
    assert.match(run.stderr, /curl: \(7\)/);
  });
});
