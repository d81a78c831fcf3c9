import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

// The README's Quickstart, run exactly as written against a real API process (no daemon:
// the Quickstart does not wait for expirations), with `API` pointing at it: its bash block,
// unchanged, under `bash -euo pipefail` in the project root; then its TypeScript block (the
// typed client), unchanged, type-checked with the project's settings and run with
// `node --import tsx` from the project root, where the README says to save it.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The fenced block in `lang` of README's `## Quickstart`; fails unless the section holds
 * exactly one bash block and then one ts block.
 */
function quickstartBlock(readme: string, lang: 'bash' | 'ts'): string {
  const sections = readme.split(/^(?=## )/m).filter((s) => /^## Quickstart\s*$/m.test(s));
  assert.equal(sections.length, 1, 'README.md must have exactly one "## Quickstart" section');
  const fences = sections[0]!.match(/^```.*$/gm) ?? [];
  assert.deepEqual(
    fences,
    ['```bash', '```', '```ts', '```'],
    'the Quickstart must hold one ```bash block, then one ```ts block',
  );
  const block = new RegExp(`^\`\`\`${lang}\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(sections[0]!);
  assert.ok(block, `the Quickstart's ${lang} block`);
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
    block = quickstartBlock(readFileSync(path.join(root, 'README.md'), 'utf8'), 'bash');
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

/** Runs `file` with `node --import tsx` in the project root, `API` set to `api`; never rejects. */
function runTs(file: string, api: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file],
      { cwd: root, env: { ...process.env, API: api }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The compiler's complaints about `file` with the project's settings (tsconfig.json). */
function typeErrors(file: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
    },
  );
  assert.ok(config);
  const program = ts.createProgram([file], { ...config.options, noEmit: true });
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
    const at =
      d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    return `${at ? `line ${at.line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('README Quickstart, the TypeScript part (the typed client)', function () {
  this.timeout(60_000);

  let file: string;
  let ctx: TestContext;
  let api: ApiServer;

  before(async () => {
    const block = quickstartBlock(readFileSync(path.join(root, 'README.md'), 'utf8'), 'ts');
    // Where the README says to save it (`./client/index.js` and `ws` resolve from there),
    // under a name of its own.
    file = path.join(root, `.quickstart-${randomBytes(4).toString('hex')}.ts`);
    writeFileSync(file, block);
    ctx = createTestContext('quickstartts');
    api = await startApiServer(ctx.config, ctx.logger);
    await api.ready;
  });

  after(async () => {
    if (file) rmSync(file, { force: true });
    await api?.close();
    await ctx?.cleanup();
  });

  it('type-checks with the project’s settings', function () {
    assert.deepEqual(typeErrors(file), []);
  });

  for (const round of [1, 2])
    it(`runs as written (round ${round}): two sign-ups, the ws connection, a send, MISS then HIT, the frame`, async () => {
      const run = await runTs(file, api.url, 40_000);
      const context = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      assert.equal(run.code, 0, context);
      const lines = run.stdout.split('\n');
      assert.equal(lines.pop(), '', context);
      assert.equal(lines.length, 5, context);
      const [connected, sent, read1, read2, got] = lines;
      assert.equal(connected, 'bob: ws connected', context);
      assert.match(sent!, /^sent: 201 [0-9a-f]{24}$/, context);
      assert.equal(read1, 'X-Cache: MISS', context);
      assert.equal(read2, 'X-Cache: HIT', context);
      assert.equal(got, 'bob got: hello bob', context);
    });
});
