import { loadAsyncApi } from './docs-asyncapi.js';
import { byTestId, show } from './dom.js';

/**
 * The docs page (/docs): two tabs, the REST API of GET /openapi.json in Swagger UI (from the
 * installed swagger-ui-dist, served under /docs/assets) and the ws protocol of
 * GET /asyncapi.json rendered by docs-asyncapi.ts. Nothing is fetched from anywhere else.
 */

/** The options of SwaggerUIBundle this page sets (swagger-ui's docs, *Configuration*). */
interface SwaggerUiOptions {
  url: string;
  dom_id: string;
  /** null: no badge, so nothing is sent to the online validator. */
  validatorUrl: null;
  /** Off: the tabs own the URL's fragment. */
  deepLinking: boolean;
  /** Off: a `?url=` in the page's address cannot make it load another document. */
  queryConfigEnabled: boolean;
  /** Off: an authorization typed into "Authorize" is not kept in localStorage. */
  persistAuthorization: boolean;
  /** Called once the document is loaded and rendered. */
  onComplete: () => void;
}

declare global {
  interface Window {
    /** Defined by /docs/assets/swagger-ui-bundle.js, a classic script that runs first. */
    SwaggerUIBundle?: (options: SwaggerUiOptions) => unknown;
  }
}

const TABS = ['rest', 'websocket'] as const;
type Tab = (typeof TABS)[number];

function selectTab(tab: Tab, focus = false): void {
  for (const name of TABS) {
    const button = byTestId<HTMLButtonElement>(`tab-${name}`);
    const selected = name === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    if (selected && focus) button.focus();
    show(byTestId(`panel-${name}`), selected);
  }
}

function setUpTabs(): void {
  for (const name of TABS) {
    byTestId(`tab-${name}`).addEventListener('click', () => {
      selectTab(name);
      // The fragment keeps the tab across a reload, without a history entry per click.
      window.history.replaceState(null, '', `#${name}`);
    });
  }
  // Arrow keys move between the tabs (the WAI-ARIA tabs pattern).
  byTestId('tab-rest').parentElement?.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    const current = TABS.findIndex(
      (name) => byTestId(`tab-${name}`).getAttribute('aria-selected') === 'true',
    );
    const step = event.key === 'ArrowRight' ? 1 : TABS.length - 1;
    selectTab(TABS[(current + step) % TABS.length] ?? 'rest', true);
  });
  selectTab(location.hash === '#websocket' ? 'websocket' : 'rest');
}

function fail(which: 'openapi' | 'asyncapi', message: string): void {
  const box = byTestId(`${which}-error`);
  box.textContent = message;
  show(box, true);
  byTestId(which).dataset.state = 'error';
}

function startSwaggerUi(): void {
  const container = byTestId('openapi');
  if (window.SwaggerUIBundle === undefined) {
    fail('openapi', 'Swagger UI did not load (GET /docs/assets/swagger-ui-bundle.js).');
    return;
  }
  window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    validatorUrl: null,
    deepLinking: false,
    queryConfigEnabled: false,
    persistAuthorization: false,
    onComplete: () => {
      container.dataset.state = 'ready';
    },
  });
}

setUpTabs();
startSwaggerUi();
const asyncapi = byTestId('asyncapi');
loadAsyncApi('/asyncapi.json', asyncapi).then(
  () => {
    asyncapi.dataset.state = 'ready';
  },
  (err: unknown) => fail('asyncapi', `The AsyncAPI document could not be shown: ${String(err)}`),
);
