import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Page,
  type WebSocketRoute,
} from 'playwright-core';
import { PAGE_CSP } from '../../src/http/routes/static-routes.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { startProductionSystem, type StartedSystem } from '../helpers/started-system.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

// The pages in a real browser (Debian's Chromium driven by playwright-core) against the
// system as `npm run start:prod` runs it: the dist/ that `npm run build` produced (`npm test`
// builds it first; run alone after `npm run build`), the PM2 ecosystem's API and expiry
// daemon, on real Redis and MongoDB-protocol servers: two users chatting live, the
// dashboard counting expirations, and the docs page rendering the API's two documents.

const here = path.dirname(fileURLToPath(import.meta.url));
const SCREENSHOTS = path.join(here, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';
// Generous: a loaded CI machine, and a 1 s TTL plus the daemon's and the stats' 1 s cadences.
const WAIT = { timeout: 20_000 };

/** Polls `probe` until `ok` holds (the page updates on its own timers), or fails naming `what`. */
async function until<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = WAIT.timeout,
): Promise<T> {
  let last: T | undefined;
  try {
    await waitUntil(what, async () => ok((last = await probe())), timeoutMs, 200);
  } catch (err) {
    assert.fail(`${(err as Error).message}; last value ${String(last)}`);
  }
  return last as T;
}

describe('browser: chat, dashboard and docs pages', function () {
  this.timeout(120_000);

  let ctx: TestContext;
  let api: StartedSystem | undefined;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Console errors and uncaught exceptions of every page (CSP violations land here too). */
  const pageErrors: string[] = [];
  const suffix = Math.random().toString(36).slice(2, 8);
  const alice = `alice_${suffix}`;
  const bob = `bob_${suffix}`;
  let alicePage: Page;
  let bobPage: Page;

  before(async function () {
    assert.ok(
      existsSync(CHROMIUM),
      `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`,
    );
    mkdirSync(SCREENSHOTS, { recursive: true });
    ctx = createTestContext('browser');
    api = await startProductionSystem(ctx, { CACHE_TTL_SECONDS: '1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await api?.stop();
    await ctx?.cleanup();
  });

  async function newPage(name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`${name}: console: ${msg.text()}`);
    });
    return page;
  }

  async function signUp(page: Page, username: string): Promise<void> {
    await page.goto(`${api!.url}/`);
    await page.fill('[data-testid="auth-username"]', username);
    await page.fill('[data-testid="auth-password"]', PASSWORD);
    await page.click('[data-testid="auth-signup"]');
    await page.waitForSelector('[data-testid="ws-status"][data-status="open"]', WAIT);
    assert.equal(await page.textContent('[data-testid="current-user"]'), username);
  }

  async function openConversation(page: Page, withUser: string): Promise<void> {
    const contact = page.locator(`[data-testid="contact"][data-username="${withUser}"]`);
    if ((await contact.count()) === 0) await page.click('[data-testid="contacts-refresh"]');
    await contact.click(WAIT);
    await page.waitForSelector('[data-testid="compose-input"]:not([disabled])', WAIT);
  }

  async function send(page: Page, text: string): Promise<void> {
    await page.fill('[data-testid="compose-input"]', text);
    await page.press('[data-testid="compose-input"]', 'Enter');
    // Acknowledged: the entry got its server id and left the "sending" state.
    await page
      .locator('[data-testid="message"][data-message-id]:not([data-pending])', { hasText: text })
      .waitFor(WAIT);
  }

  /** The number shown in a `data-testid` element (NaN until the first poll filled it). */
  async function numberIn(page: Page, testId: string): Promise<number> {
    const text = await page.textContent(`[data-testid="${testId}"]`);
    return text === null || text.trim() === '' ? NaN : Number(text.replace(/,/g, ''));
  }

  function message(page: Page, text: string) {
    return page.locator('[data-testid="message"]', { hasText: text });
  }

  it('shows each user the other one’s messages live, as text', async () => {
    alicePage = await newPage('alice');
    bobPage = await newPage('bob');
    await signUp(alicePage, alice);
    await signUp(bobPage, bob);
    // Alice's list was loaded before Bob existed: the refresh button brings him in.
    await openConversation(alicePage, bob);
    await openConversation(bobPage, alice);

    const hostile = `<img src=x onerror="window.__pwned=1">hi ${suffix}`;
    await send(alicePage, hostile);
    await message(bobPage, hostile).waitFor(WAIT);
    assert.equal(await message(bobPage, hostile).getAttribute('data-mine'), 'false');
    // Shown as text: no element was made from it, no handler ran.
    assert.equal(await bobPage.locator('[data-testid="messages"] img').count(), 0);
    assert.equal(await bobPage.evaluate<boolean>("'__pwned' in window"), false);

    await send(bobPage, 'Hey Alice — got it!');
    await message(alicePage, 'Hey Alice — got it!').waitFor(WAIT);
    await send(alicePage, 'Great, the cache works.');
    await message(bobPage, 'Great, the cache works.').waitFor(WAIT);

    // Both sides show the same conversation in the same order, without a reload.
    const texts = (page: Page) => page.locator('[data-testid="message-content"]').allTextContents();
    assert.deepEqual(await texts(alicePage), [
      hostile,
      'Hey Alice — got it!',
      'Great, the cache works.',
    ]);
    assert.deepEqual(await texts(bobPage), await texts(alicePage));

    // The token lives in this tab's sessionStorage only.
    assert.equal(await alicePage.evaluate<number>('sessionStorage.length'), 1);
    assert.equal(await alicePage.evaluate<number>('localStorage.length'), 0);
  });

  it('applies an edit and a delete live on the other side', async () => {
    const original = message(alicePage, 'Great, the cache works.');
    await original.hover();
    await original.locator('[data-testid="message-edit"]').click();
    await original.locator('[data-testid="edit-input"]').fill('Great, the cache works (edited).');
    await original.locator('[data-testid="edit-save"]').click();

    const edited = message(bobPage, 'Great, the cache works (edited).');
    await edited.waitFor(WAIT);
    await edited.locator('[data-testid="message-edited"]').waitFor({ state: 'visible', ...WAIT });

    const doomed = message(alicePage, `hi ${suffix}`);
    const doomedId = await doomed.getAttribute('data-message-id');
    assert.ok(doomedId);
    await doomed.hover();
    await doomed.locator('[data-testid="message-delete"]').click();
    // Both pages drop it: Bob's from the event, Alice's from the event or the 204,
    // whichever comes first (the two sockets are written at once; the pages run apart).
    for (const page of [bobPage, alicePage]) {
      await page
        .locator(`[data-testid="message"][data-message-id="${doomedId}"]`)
        .waitFor({ state: 'detached', ...WAIT });
    }
    assert.equal(await bobPage.locator('[data-testid="message"]').count(), 2);
    assert.equal(await alicePage.locator('[data-testid="message"]').count(), 2);

    // A reload (REST, through the cache or MongoDB) agrees with what the live events built.
    await bobPage.reload();
    await bobPage.waitForSelector('[data-testid="ws-status"][data-status="open"]', WAIT);
    await openConversation(bobPage, alice);
    await message(bobPage, 'Great, the cache works (edited).').waitFor(WAIT);
    assert.equal(await bobPage.locator('[data-testid="message"]').count(), 2);

    await send(bobPage, 'See you on the dashboard.');
    await message(alicePage, 'See you on the dashboard.').waitFor(WAIT);
    await alicePage.screenshot({ path: path.join(SCREENSHOTS, 'chat.png') });
  });

  it('reconnects after its socket drops, and catches up on what it missed', async () => {
    // Bob's socket goes through Playwright, which can cut it and refuse new ones for a while.
    let down = false;
    let passed = 0;
    let refused = 0;
    const routed: WebSocketRoute[] = [];
    await bobPage.routeWebSocket(/\/ws\?/, (ws) => {
      if (down) {
        refused++;
        void ws.close({ code: 4000, reason: 'test: network down' });
        return;
      }
      passed++;
      routed.push(ws);
      ws.connectToServer();
    });
    await bobPage.reload();
    await bobPage.waitForSelector('[data-testid="ws-status"][data-status="open"]', WAIT);
    await openConversation(bobPage, alice);
    assert.equal(passed, 1);

    down = true;
    for (const ws of routed) await ws.close({ code: 4000, reason: 'test: network down' });
    await until(
      'Bob’s page to try to reconnect',
      async () => refused,
      (n) => n >= 2,
    );
    await send(alicePage, 'Sent while you were away');

    down = false;
    await until(
      'Bob’s page to reconnect',
      async () => passed,
      (n) => n >= 2,
    );
    await bobPage.waitForSelector('[data-testid="ws-status"][data-status="open"]', WAIT);
    await message(bobPage, 'Sent while you were away').waitFor(WAIT);
    // The new socket gets the live events.
    await send(alicePage, 'Welcome back');
    await message(bobPage, 'Welcome back').waitFor(WAIT);
  });

  it('shows the expirations count rising on the dashboard after the TTL', async () => {
    // A fresh tab has no session: the dashboard asks for a log-in itself.
    const dash = await newPage('dashboard');
    await dash.goto(`${api!.url}/dashboard`);
    await dash.fill('[data-testid="auth-username"]', alice);
    await dash.fill('[data-testid="auth-password"]', PASSWORD);
    await dash.click('[data-testid="auth-login"]');
    await dash.waitForSelector('[data-testid="stats-status"][data-status="open"]', WAIT);

    const expirations = () => numberIn(dash, 'expirations-total');
    const before = await until('a first stats poll', expirations, Number.isFinite);

    // New cache entries, gone one TTL (1 s) later: the daemon processes their expiry.
    for (const text of ['one more', 'and another']) await send(alicePage, text);
    await until('two more expirations', expirations, (n) => n >= before + 2);
    const sends = await numberIn(dash, 'sends-total');
    assert.ok(sends >= 5, `sends-total ${sends}`);

    // The expirations chart has drawn a line from several polls' rates.
    const points = async () =>
      ((await dash.getAttribute('[data-testid="chart-expirations"] path.line', 'd')) ?? '').split(
        'L',
      ).length;
    await until('an expirations line of 5 points', points, (n) => n >= 5);
    await dash.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });

    assert.deepEqual(pageErrors, []);
  });

  it('/docs renders both documents, from this origin only, under the pages’ CSP', async () => {
    const docs = await newPage('docs');
    const foreign: string[] = [];
    docs.on('request', (req) => {
      if (!req.url().startsWith(`${api!.url}/`) && !req.url().startsWith('data:')) {
        foreign.push(req.url());
      }
    });
    // Chromium also logs a violation to the console; the event names the directive.
    await docs.addInitScript(`
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI + ' ' + e.sample));
    `);
    const res = await docs.goto(`${api!.url}/docs`);
    assert.equal(res?.headers()['content-security-policy'], PAGE_CSP);

    // REST: Swagger UI lists every operation of GET /openapi.json.
    type Paths = Record<string, Record<string, unknown>>;
    const openapi = (await (await fetch(`${api!.url}/openapi.json`)).json()) as { paths: Paths };
    const documented = Object.entries(openapi.paths)
      .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    await docs.waitForSelector('[data-testid="openapi"][data-state="ready"]', WAIT);
    await docs.locator('.opblock-summary-path[data-path="/api/messages/send"]').waitFor(WAIT);
    const listed = await docs.locator('#swagger-ui .opblock').evaluateAll((blocks) =>
      blocks.map((b) => {
        const method = b.querySelector('.opblock-summary-method')?.textContent ?? '?';
        const route = b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '?';
        return `${method} ${route}`;
      }),
    );
    assert.deepEqual([...listed].sort(), documented);
    for (const op of ['POST /api/messages/send', 'GET /api/messages/{receiverId}']) {
      assert.ok(listed.includes(op), op);
    }
    await docs.screenshot({ path: path.join(SCREENSHOTS, 'docs-openapi.png'), fullPage: true });
    // An operation opens on a click and shows its request body's fields.
    await docs.click('.opblock-summary-path[data-path="/api/messages/send"]');
    await docs
      .locator('#swagger-ui .opblock.is-open', { hasText: 'receiverId' })
      .waitFor({ state: 'visible', ...WAIT });

    // WebSocket: every frame, operation, handshake refusal and close code of /asyncapi.json.
    type Entry = Record<string, unknown>;
    const asyncapi = (await (await fetch(`${api!.url}/asyncapi.json`)).json()) as {
      operations: Entry;
      components: { messages: Record<string, { name: string }> };
      channels: { chat: Record<string, Array<{ code?: string | number }>> };
    };
    await docs.click('[data-testid="tab-websocket"]');
    await docs.waitForSelector('[data-testid="asyncapi"][data-state="ready"]', WAIT);
    await docs.waitForSelector('[data-testid="panel-websocket"]', { state: 'visible', ...WAIT });
    assert.equal(await docs.isHidden('[data-testid="panel-rest"]'), true);
    const attrs = (testId: string, attr: string) =>
      docs
        .locator(`[data-testid="${testId}"]`)
        .evaluateAll((nodes, a) => nodes.map((n) => n.getAttribute(a) ?? '?'), attr);
    const frames = [...new Set(await attrs('asyncapi-message', 'data-frame'))].sort();
    assert.deepEqual(
      frames,
      Object.values(asyncapi.components.messages)
        .map((m) => m.name)
        .sort(),
    );
    for (const frame of ['message:send', 'message:new', 'message:ack', 'error']) {
      assert.ok(frames.includes(frame), frame);
    }
    assert.deepEqual(
      await attrs('asyncapi-operation', 'data-operation'),
      Object.keys(asyncapi.operations),
    );
    const codesOf = (key: string) =>
      asyncapi.channels.chat[key]!.map((c) => (c.code === undefined ? '' : String(c.code)));
    // The refusals the server makes (each with its code) and the ws library's (status only).
    assert.deepEqual(await attrs('asyncapi-refusal', 'data-code'), codesOf('x-handshake-refusals'));
    assert.ok(codesOf('x-handshake-refusals').includes('UNAUTHORIZED'));
    assert.deepEqual(await attrs('asyncapi-close-code', 'data-code'), codesOf('x-close-codes'));
    assert.ok(codesOf('x-close-codes').includes('1001'));
    assert.match((await docs.textContent('[data-testid="asyncapi-heartbeat"]')) ?? '', /ping/i);
    assert.equal(new URL(docs.url()).hash, '#websocket');
    await docs.screenshot({ path: path.join(SCREENSHOTS, 'docs-asyncapi.png'), fullPage: true });

    assert.deepEqual(await docs.evaluate<string[]>('window.cspViolations'), []);
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
});
