// The dashboard page (`/dashboard`): polls `GET /api/stats` every second and charts the
// per-second rates (differences of the cumulative counters) and the gauges.
import { ChatApiError, ChatClient, type StatsSnapshot as Stats } from '../client/index.js';
import { byTestId } from './dom.js';
import { LineChart } from './line-chart.js';
import type { Session } from './session.js';
import { mountSignedInPage } from './signed-in-page.js';
import { ratesBetween, totalHitRate } from './stats-rates.js';

const POLL_MS = 1000;

const perSecond = (v: number) => `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}/s`;
const percent = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)} %`);
const ms = (v: number | null) => (v === null ? '–' : v.toFixed(v >= 1 ? 0 : 1));
const rateLabel = (v: number) => `${Number(v.toFixed(1))}/s`;
const count = (v: number) => v.toLocaleString('en');

function setText(testId: string, text: string): void {
  byTestId(testId).textContent = text;
}

/** One logged-in dashboard: a poll loop feeding the tiles and charts; {@link stop} ends it. */
class Dashboard {
  private readonly api: ChatClient;
  private timer: number | undefined;
  private stopped = false;
  private prev: Stats | null = null;
  private readonly charts = {
    sends: new LineChart(byTestId('chart-sends'), { series: ['sends'], format: rateLabel }),
    hitRate: new LineChart(byTestId('chart-hit-rate'), {
      series: ['hit rate'],
      fixedTop: 100,
      format: (v) => `${v.toFixed(0)}%`,
    }),
    expirations: new LineChart(byTestId('chart-expirations'), {
      series: ['event', 'poll'],
      format: rateLabel,
    }),
    lag: new LineChart(byTestId('chart-lag'), {
      series: ['p50', 'p99'],
      minTop: 10,
      format: (v) => `${v.toFixed(0)}ms`,
    }),
    backlog: new LineChart(byTestId('chart-backlog'), {
      series: ['backlog', 'dead letter'],
      format: (v) => v.toFixed(0),
    }),
  };

  constructor(
    session: Session,
    private readonly onLoggedOut: (notice: string) => void,
  ) {
    // No retries: the next poll, a second later, is the retry.
    this.api = new ChatClient({ baseUrl: location.origin, token: session.token, maxRetries: 0 });
    byTestId('current-user').textContent = session.user.username;
  }

  start(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
  }

  private async poll(): Promise<void> {
    const started = performance.now();
    try {
      const stats = await this.api.stats();
      if (this.stopped) return;
      this.update(stats);
      this.setStatus('live', 'live');
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof ChatApiError && err.status === 401) {
        this.onLoggedOut('Your session has expired; log in again.');
        return;
      }
      this.setStatus('error', err instanceof Error ? err.message : 'error');
    }
    // A fixed cadence from the start of each poll; never two polls in flight.
    const wait = Math.max(0, POLL_MS - (performance.now() - started));
    this.timer = window.setTimeout(() => void this.poll(), wait);
  }

  private setStatus(status: 'live' | 'error', text: string): void {
    const badge = byTestId('stats-status');
    badge.dataset.status = status === 'live' ? 'open' : 'closed';
    badge.textContent = text;
  }

  private update(s: Stats): void {
    const rates = this.prev === null ? null : ratesBetween(this.prev, s);
    this.prev = s;

    setText('stats-at', `updated ${new Date(s.at).toLocaleTimeString()}`);
    setText('sends-total', count(s.sends));
    setText('sends-rate', rates === null ? '–' : perSecond(rates.sendsPerSec));
    setText('cache-hit-rate', percent(totalHitRate(s)));
    setText('cache-hits', count(s.cacheHits));
    setText('cache-misses', count(s.cacheMisses));
    setText('expirations-total', count(s.expirations.event + s.expirations.poll));
    setText('expirations-event', count(s.expirations.event));
    setText('expirations-poll', count(s.expirations.poll));
    setText(
      'expirations-rate',
      rates === null
        ? '–'
        : perSecond(rates.expirationsPerSec.event + rates.expirationsPerSec.poll),
    );
    setText('lag-p50', ms(s.lag.p50Ms));
    setText('lag-p99', ms(s.lag.p99Ms));
    setText('backlog', count(s.backlog));
    setText('dead-letter', count(s.deadLetter));
    setText('ws-connections', count(s.wsConnections));
    byTestId('dead-letter-tile').classList.toggle('alert', s.deadLetter > 0);

    // Rates need two polls; gauges are charted from the first.
    if (rates !== null) {
      this.charts.sends.push([rates.sendsPerSec]);
      this.charts.hitRate.push([rates.hitRate === null ? null : rates.hitRate * 100]);
      this.charts.expirations.push([rates.expirationsPerSec.event, rates.expirationsPerSec.poll]);
    }
    this.charts.lag.push([s.lag.p50Ms, s.lag.p99Ms]);
    this.charts.backlog.push([s.backlog, s.deadLetter]);
  }
}

// ---- page wiring ----

mountSignedInPage('dashboard', (session, logOut) => new Dashboard(session, logOut));
