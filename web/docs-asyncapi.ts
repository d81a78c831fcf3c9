import { el } from './dom.js';

/**
 * Renders the AsyncAPI 3.0 document of GET /asyncapi.json: its servers, the channel with its
 * handshake (query, headers, security, refusals), every operation with its messages and their
 * payload schemas as formatted JSON, the close codes and the heartbeat. A renderer of our own:
 * the @asyncapi/react-component bundles compile JSON schemas with `new Function` at load,
 * which the pages' CSP (no 'unsafe-eval') refuses. Every text goes through `textContent`.
 */

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const asObject = (value: unknown): JsonObject => (isObject(value) ? value : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asString = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : undefined;

/** The value at a local JSON pointer (`#/components/messages/messageNew`), or undefined. */
function pointerTarget(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  const tokens = ref
    .slice(1)
    .split('/')
    .slice(1)
    .map((t) => decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = doc;
  for (const token of tokens) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/** `value` with its `$ref`s followed to what they point at (through chains of references). */
function deref(doc: unknown, value: unknown): unknown {
  let node = value;
  for (let hops = 0; hops < 16 && isObject(node) && typeof node.$ref === 'string'; hops++) {
    node = pointerTarget(doc, node.$ref);
  }
  return node;
}

/**
 * `value` with every local `$ref` replaced by a copy of its target, so that a payload schema
 * reads whole; a reference back into itself (a recursive schema) is left as it is.
 */
function inlineRefs(doc: unknown, value: unknown, open: readonly string[] = []): unknown {
  if (Array.isArray(value)) return value.map((v) => inlineRefs(doc, v, open));
  if (!isObject(value)) return value;
  const ref = asString(value.$ref);
  if (ref !== undefined) {
    const target = pointerTarget(doc, ref);
    if (open.includes(ref) || target === undefined) return value;
    return inlineRefs(doc, target, [...open, ref]);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inlineRefs(doc, v, open)]));
}

/** `**bold**` and `` `code` `` of a line of Markdown, as nodes. */
function inline(text: string): Node[] {
  return text
    .split(/(\*\*[^*]+\*\*|`[^`]+`)/)
    .filter((part) => part !== '')
    .map((part) => {
      if (part.startsWith('**') && part.endsWith('**')) return el('strong', {}, part.slice(2, -2));
      if (part.startsWith('`') && part.endsWith('`')) return el('code', {}, part.slice(1, -1));
      return document.createTextNode(part);
    });
}

/** The little Markdown the document's descriptions use: paragraphs, `- ` lists, bold, code. */
function markdown(text: string): HTMLElement {
  const box = el('div', { class: 'markdown' });
  for (const block of text.split(/\n\s*\n/)) {
    let list: HTMLUListElement | undefined;
    let para: HTMLParagraphElement | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith('- ')) {
        para = undefined;
        list ??= box.appendChild(el('ul'));
        list.appendChild(el('li')).append(...inline(line.slice(2)));
      } else if (line.trim() !== '') {
        list = undefined;
        if (para) para.append(' ');
        para ??= box.appendChild(el('p'));
        para.append(...inline(line.trim()));
      }
    }
  }
  return box;
}

function json(value: unknown): HTMLPreElement {
  const pre = el('pre');
  pre.appendChild(el('code', {}, JSON.stringify(value, null, 2)));
  return pre;
}

function details(summary: string, body: Node, open = false): HTMLDetailsElement {
  const box = el('details');
  box.open = open;
  box.append(el('summary', {}, summary), body);
  return box;
}

function table(head: readonly string[], rows: ReadonlyArray<readonly (string | Node)[]>) {
  const t = el('table');
  t.createTHead()
    .insertRow()
    .append(...head.map((h) => el('th', { scope: 'col' }, h)));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) {
      const td = tr.insertCell();
      // The texts of the document's extensions use Markdown's `code` too.
      td.append(...(typeof cell === 'string' ? inline(cell) : [cell]));
    }
  }
  return t;
}

const code = (text: string) => el('code', {}, text);

function section(title: string, testId: string): HTMLElement {
  const box = el('section', { 'data-testid': testId });
  box.appendChild(el('h3', {}, title));
  return box;
}

function renderInfo(doc: JsonObject): HTMLElement {
  const info = asObject(doc.info);
  const box = el('section', { 'data-testid': 'asyncapi-info' });
  box.appendChild(el('h2', {}, asString(info.title) ?? 'AsyncAPI document'));
  const license = asString(asObject(info.license).name);
  box.appendChild(
    el(
      'p',
      { class: 'meta' },
      [
        `version ${asString(info.version) ?? '?'}`,
        `AsyncAPI ${asString(doc.asyncapi) ?? '?'}`,
        `default content type ${asString(doc.defaultContentType) ?? '?'}`,
        license ? `license ${license}` : '',
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  );
  const description = asString(info.description);
  if (description) {
    // The first paragraph introduces; the rest is what the sections below show in tables.
    const [intro = '', ...rest] = description.split(/\n\s*\n/);
    box.appendChild(markdown(intro));
    if (rest.length > 0)
      box.appendChild(details('The whole description', markdown(rest.join('\n\n'))));
  }
  return box;
}

function renderServers(doc: JsonObject): HTMLElement {
  const box = section('Servers', 'asyncapi-servers');
  for (const [name, value] of Object.entries(asObject(doc.servers))) {
    const server = asObject(deref(doc, value));
    const url = `${asString(server.protocol) ?? '?'}://${asString(server.host) ?? '?'}${asString(server.pathname) ?? ''}`;
    const head = el('p');
    head.append(el('strong', {}, name), ' ', code(url));
    box.appendChild(head);
    const description = asString(server.description);
    if (description) box.appendChild(markdown(description));
    const variables = Object.entries(asObject(server.variables)).map(([variable, v]) => {
      const spec = asObject(v);
      return [
        code(`{${variable}}`),
        asString(spec.default) ?? '',
        asString(spec.description) ?? '',
      ];
    });
    if (variables.length > 0) box.appendChild(table(['variable', 'default', 'meaning'], variables));
    const security = asArray(server.security).map((s) => asObject(deref(doc, s)));
    if (security.length > 0) {
      box.appendChild(el('h4', {}, 'Security (any one of)'));
      box.appendChild(
        table(
          ['scheme', 'type', 'meaning'],
          security.map((s) => [
            [asString(s.scheme), asString(s.name), asString(s.in)].filter(Boolean).join(' · '),
            asString(s.type) ?? '',
            asString(s.description) ?? '',
          ]),
        ),
      );
    }
  }
  return box;
}

/** The ws binding's query or headers object, as rows: name, where, meaning. */
function bindingRows(schema: unknown, where: string): string[][] {
  return Object.entries(asObject(asObject(schema).properties)).map(([name, p]) => {
    const prop = asObject(p);
    const pattern = asString(prop.pattern);
    const description = asString(prop.description) ?? '';
    return [name, where, pattern ? `${description} (pattern ${pattern})` : description];
  });
}

function renderChannel(doc: JsonObject, name: string, value: unknown): HTMLElement {
  const channel = asObject(deref(doc, value));
  const address = asString(channel.address) ?? name;
  const box = section(`Channel ${address}`, 'asyncapi-channel');
  box.dataset.channel = name;
  const title = asString(channel.title);
  if (title) box.appendChild(el('p', {}, title));
  const description = asString(channel.description);
  if (description) box.appendChild(markdown(description));

  box.appendChild(el('h4', {}, 'Handshake'));
  const ws = asObject(asObject(channel.bindings).ws);
  box.appendChild(
    el(
      'p',
      {},
      `An HTTP ${asString(ws.method) ?? 'GET'} ${address} upgraded to a WebSocket; sent:`,
    ),
  );
  const rows = [...bindingRows(ws.query, 'query'), ...bindingRows(ws.headers, 'header')];
  if (rows.length > 0) box.appendChild(table(['name', 'in', 'meaning'], rows));

  const refusals = asArray(channel['x-handshake-refusals']).map(asObject);
  if (refusals.length > 0) {
    const intro = el('p');
    intro.append(
      'Refused before the 101 with an HTTP answer, when (a JSON error body is ',
      code('{ "error": { "code", "message" } }'),
      '):',
    );
    box.appendChild(intro);
    const t = table(
      ['status', 'code', 'when', 'body', 'headers'],
      refusals.map((r) => [
        String(r.status ?? ''),
        asString(r.code) ? code(asString(r.code) ?? '') : '–',
        asString(r.when) ?? '',
        refusalBody(doc, r.body),
        Object.entries(asObject(r.headers))
          .map(([h, v]) => `${h}: ${String(v)}`)
          .join('; '),
      ]),
    );
    t.querySelectorAll('tbody tr').forEach((tr, i) => {
      tr.setAttribute('data-testid', 'asyncapi-refusal');
      tr.setAttribute('data-status', String(refusals[i]?.status ?? ''));
      tr.setAttribute('data-code', asString(refusals[i]?.code) ?? '');
    });
    box.appendChild(t);
  }
  return box;
}

/** A refusal's body: "JSON error body" for the ErrorBody schema, else the body's description. */
function refusalBody(doc: JsonObject, body: unknown): string {
  const ref = asString(asObject(body).$ref);
  if (ref?.endsWith('/ErrorBody')) return 'JSON error body';
  const schema = asObject(deref(doc, body));
  return asString(schema.description) ?? asString(schema.type) ?? '';
}

function renderMessage(doc: JsonObject, value: unknown, open: boolean): HTMLElement {
  const message = asObject(deref(doc, value));
  const name = asString(message.name) ?? asString(message.title) ?? '?';
  const box = el('div', {
    class: 'message',
    'data-testid': 'asyncapi-message',
    'data-frame': name,
  });
  const head = el('h4');
  head.append(code(name));
  const title = asString(message.title);
  if (title && title !== name) head.append(' ', el('span', { class: 'meta' }, title));
  box.appendChild(head);
  const summary = asString(message.summary);
  if (summary) box.appendChild(el('p', { class: 'meta' }, summary));
  const description = asString(message.description);
  if (description) box.appendChild(markdown(description));
  const errorCodes = asArray(message['x-error-codes']).map((c) => String(c));
  if (errorCodes.length > 0) {
    box.appendChild(el('p', {}, 'Its codes:'));
    const list = el('ul', { class: 'codes' });
    for (const c of errorCodes) list.appendChild(el('li')).appendChild(code(c));
    box.appendChild(list);
  }
  box.appendChild(details('Payload schema', json(inlineRefs(doc, message.payload)), open));
  const examples = asArray(message.examples).map((e) => asObject(e).payload);
  if (examples.length > 0) {
    box.appendChild(
      details(
        examples.length > 1 ? 'Examples' : 'Example',
        json(examples.length > 1 ? examples : examples[0]),
      ),
    );
  }
  return box;
}

function renderOperations(doc: JsonObject): HTMLElement[] {
  return Object.entries(asObject(doc.operations)).map(([id, value]) => {
    const op = asObject(deref(doc, value));
    const action = asString(op.action) ?? '?';
    const box = el('section', {
      class: 'operation',
      'data-testid': 'asyncapi-operation',
      'data-operation': id,
      'data-action': action,
    });
    const head = el('h3');
    const channel = asObject(deref(doc, op.channel));
    head.append(
      el('span', { class: 'action' }, action),
      asString(op.summary) ?? id,
      ' ',
      el('span', { class: 'meta' }, `${id} · ${asString(channel.address) ?? ''}`),
    );
    box.appendChild(head);
    const description = asString(op.description);
    if (description) box.appendChild(markdown(description));
    box.appendChild(
      el(
        'p',
        { class: 'meta' },
        action === 'send' ? 'The client sends:' : 'The server sends, unasked:',
      ),
    );
    for (const m of asArray(op.messages)) box.appendChild(renderMessage(doc, m, true));
    const reply = asObject(op.reply);
    const replies = asArray(reply.messages);
    if (replies.length > 0) {
      box.appendChild(el('p', { class: 'meta' }, 'The server answers with one of:'));
      for (const m of replies) box.appendChild(renderMessage(doc, m, false));
    }
    return box;
  });
}

function renderCloseCodes(channels: JsonObject[]): HTMLElement | undefined {
  const codes = channels.flatMap((c) => asArray(c['x-close-codes'])).map(asObject);
  if (codes.length === 0) return undefined;
  const box = section('Close codes', 'asyncapi-close-codes');
  const t = table(
    ['code', 'name', 'when'],
    codes.map((c) => [String(c.code ?? ''), asString(c.name) ?? '', asString(c.when) ?? '']),
  );
  t.querySelectorAll('tbody tr').forEach((tr, i) => {
    tr.setAttribute('data-testid', 'asyncapi-close-code');
    tr.setAttribute('data-code', String(codes[i]?.code ?? ''));
  });
  box.appendChild(t);
  return box;
}

function renderHeartbeat(channels: JsonObject[]): HTMLElement | undefined {
  const heartbeat = channels.map((c) => asObject(c['x-heartbeat'])).find((h) => h.description);
  if (!heartbeat) return undefined;
  const box = section('Heartbeat', 'asyncapi-heartbeat');
  if (typeof heartbeat.pingIntervalMs === 'number') {
    box.appendChild(el('p', {}, `Ping interval: ${heartbeat.pingIntervalMs} ms.`));
  }
  box.appendChild(markdown(asString(heartbeat.description) ?? ''));
  return box;
}

/** Fills `root` with the document `doc` (an AsyncAPI 3.0 document as JSON). */
export function renderAsyncApi(doc: unknown, root: HTMLElement): void {
  if (!isObject(doc) || typeof doc.asyncapi !== 'string' || !doc.asyncapi.startsWith('3.')) {
    throw new Error('not an AsyncAPI 3 document');
  }
  const channels = Object.entries(asObject(doc.channels));
  const resolved = channels.map(([, value]) => asObject(deref(doc, value)));
  const parts: (HTMLElement | undefined)[] = [
    renderInfo(doc),
    renderServers(doc),
    ...channels.map(([name, value]) => renderChannel(doc, name, value)),
    ...renderOperations(doc),
    renderCloseCodes(resolved),
    renderHeartbeat(resolved),
  ];
  root.replaceChildren(...parts.filter((p): p is HTMLElement => p !== undefined));
}

/** Fetches the AsyncAPI document at `url` and renders it into `root`. */
export async function loadAsyncApi(url: string, root: HTMLElement): Promise<void> {
  const res = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  renderAsyncApi(await res.json(), root);
}
