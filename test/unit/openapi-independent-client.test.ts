import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import { buildOpenApiDocument } from '../../src/contract/openapi-document.js';

// A client made from the OpenAPI document alone, with standard tools and nothing of this
// repository: types by openapi-typescript, calls by openapi-fetch. It must type-check the
// calls the README shows (its Quickstart and its API table), and a wrong call must not
// type-check (else the check could not fail).

/** The README's calls, as a client of another team would write them from /openapi.json. */
const CALLS = `import createClient from 'openapi-fetch';
import type { components, paths } from './api.js';

type ServerFrame = components['schemas']['ServerFrame'];
type ClientFrame = components['schemas']['ClientFrame'];

const api = createClient<paths>({ baseUrl: 'http://localhost:3000' });
const auth = (token: string) => ({ Authorization: \`Bearer \${token}\` });

export async function quickstart(): Promise<void> {
  // 1. Sign up alice and bob: each answer is { user: { id, username }, token }
  const alice = await api.POST('/api/auth/signup', {
    body: { username: 'alice_1', password: 'quickstart' },
  });
  const bob = await api.POST('/api/auth/signup', {
    body: { username: 'bob_1', password: 'quickstart' },
  });
  if (!alice.data || !bob.data) {
    const code: string | undefined = (alice.error ?? bob.error)?.error.code;
    throw new Error(code);
  }
  const aliceToken: string = alice.data.token;
  const bobId: string = bob.data.user.id;
  const again = await api.POST('/api/auth/login', {
    body: { username: 'alice_1', password: 'quickstart' },
  });
  const username: string | undefined = again.data?.user.username;

  // 2. Bob's ws frames
  const onFrame = (frame: ServerFrame): string | null => {
    switch (frame.type) {
      case 'message:new':
      case 'message:updated':
        return frame.message.content;
      case 'message:deleted':
        return frame.message.id;
      case 'message:ack':
        return frame.clientMsgId ?? null;
      case 'error':
        return frame.code;
      case 'pong':
        return null;
    }
  };
  const send: ClientFrame = { type: 'message:send', receiverId: bobId, content: 'hi', clientMsgId: 'c-1' };

  // 3. Alice sends bob a message over REST: 201 { message, persisted }
  const sent = await api.POST('/api/messages/send', {
    params: { header: { 'Idempotency-Key': 'k1' } },
    headers: auth(aliceToken),
    body: { receiverId: bobId, content: 'hello bob' },
  });
  const persisted: boolean | undefined = sent.data?.persisted;
  const messageId: string = sent.data?.message.id ?? '';
  const refusedCode: string | undefined = sent.error?.error.code;

  // 4. The conversation, with X-Cache
  const page = await api.GET('/api/messages/{receiverId}', {
    params: { path: { receiverId: bobId }, query: { limit: '50', before: messageId } },
    headers: auth(aliceToken),
  });
  const cache: string | null = page.response.headers.get('X-Cache');
  const contents: Array<string | null> = page.data?.messages.map((m) => m.content) ?? [];

  // The rest of the API table
  const users = await api.GET('/api/users', { headers: auth(aliceToken) });
  const names: string[] = users.data?.users.map((u) => u.username) ?? [];
  const one = await api.GET('/api/messages/item/{messageId}', {
    params: { path: { messageId } },
    headers: auth(aliceToken),
  });
  const edited = await api.PATCH('/api/messages/item/{messageId}', {
    params: { path: { messageId } },
    headers: auth(aliceToken),
    body: { content: 'hello bob (edited)' },
  });
  const updatedAt: string | undefined = edited.data?.message.updatedAt;
  const deleted = await api.DELETE('/api/messages/item/{messageId}', {
    params: { path: { messageId } },
    headers: auth(aliceToken),
  });
  const stats = await api.GET('/api/stats', { headers: auth(aliceToken) });
  const sends: number | undefined = stats.data?.sends;
  const health = await api.GET('/health');
  const ready = await api.GET('/health/ready');
  const live = await api.GET('/health/live');
  console.log(username, onFrame, send, persisted, refusedCode, cache, contents, names, one.data?.message,
    updatedAt, deleted.response.status, sends, health.data?.status, ready.data?.status, live.data?.status);
}
`;

/** Calls that must not type-check, each in a file of its own. */
const WRONG: Record<string, string> = {
  'wrong-body.ts': `import createClient from 'openapi-fetch';
import type { paths } from './api.js';
const api = createClient<paths>({ baseUrl: 'http://localhost:3000' });
// receiverId is a string (an ObjectId in hex), not a number.
await api.POST('/api/messages/send', { body: { receiverId: 42, content: 'hello' } });
`,
  'wrong-path.ts': `import createClient from 'openapi-fetch';
import type { paths } from './api.js';
const api = createClient<paths>({ baseUrl: 'http://localhost:3000' });
// No such route: the item routes are /api/messages/item/{messageId}.
await api.GET('/api/message/{id}', { params: { path: { id: 'x' } } });
`,
  'wrong-frame.ts': `import type { components } from './api.js';
// No such frame type.
const frame: components['schemas']['ServerFrame'] = { type: 'message:created', message: null };
console.log(frame);
`,
};

describe('an independent client generated from /openapi.json (openapi-typescript + openapi-fetch)', function () {
  this.timeout(120000);
  let dir: string;
  let program: ts.Program;

  before(async function () {
    dir = mkdtempSync(path.join(os.tmpdir(), 'independent-client-'));
    const document = JSON.parse(JSON.stringify(buildOpenApiDocument())) as OpenAPI3;
    writeFileSync(
      path.join(dir, 'api.ts'),
      astToString(await openapiTS(document, { silent: true })),
    );
    writeFileSync(path.join(dir, 'calls.ts'), CALLS);
    for (const [name, text] of Object.entries(WRONG)) writeFileSync(path.join(dir, name), text);
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    };
    // openapi-fetch's types from this project's node_modules, though the files are elsewhere.
    const here = fileURLToPath(import.meta.url);
    const resolved = ts.resolveModuleName('openapi-fetch', here, options, ts.sys).resolvedModule;
    assert.ok(resolved, 'openapi-fetch is installed');
    options.paths = { 'openapi-fetch': [resolved.resolvedFileName] };
    program = ts.createProgram({
      rootNames: ['calls.ts', ...Object.keys(WRONG)].map((f) => path.join(dir, f)),
      options,
    });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function diagnosticsOf(file: string): string[] {
    const source = program.getSourceFile(path.join(dir, file));
    assert.ok(source, file);
    return ts
      .getPreEmitDiagnostics(program, source)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  }

  it('type-checks the calls the README shows', function () {
    assert.deepEqual(diagnosticsOf('calls.ts'), []);
    assert.deepEqual(diagnosticsOf('api.ts'), []);
  });

  it('covers the routes of the README’s Quickstart', function () {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const quickstart = readme.slice(
      readme.indexOf('## Quickstart'),
      readme.indexOf('\n## ', readme.indexOf('## Quickstart') + 1),
    );
    for (const route of ['/api/auth/signup', '/api/messages/send', '/api/messages/']) {
      assert.ok(quickstart.includes(route), `the Quickstart calls ${route}`);
      assert.ok(CALLS.includes(`'${route}`), `the independent client calls ${route}`);
    }
  });

  for (const file of Object.keys(WRONG)) {
    it(`refuses a wrong call (${file})`, function () {
      assert.notDeepEqual(diagnosticsOf(file), [], `${file} type-checks, so the check cannot fail`);
    });
  }
});
