import type { ReadinessReportJson } from '../contract/http-schemas.js';
import type { HealthReport } from './health-check.js';

/**
 * The readiness answer (`GET /health/ready`): whether this instance can do its job, i.e.
 * accept sends. `ok` and `degraded` are ready (200); `starting`, `unavailable` and
 * `shutting-down` are not (503). The contract's `readinessReportSchema` says what each
 * status means.
 */
export type ReadinessReport = ReadinessReportJson;

/**
 * Readiness of one API instance, from the same checks as `/health` (so a load balancer
 * polling it costs what polling `/health` does), plus the draining state of a shutdown.
 */
export class Readiness {
  #draining = false;
  #started = false;

  /** @param check the dependency check of `/health` (`checkHealth` with its timeout) */
  constructor(private readonly check: () => Promise<HealthReport>) {}

  /** True once {@link drain} ran: the instance is going away. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Marks the start done (what the instance needs of Redis is in place). */
  started(): void {
    this.#started = true;
  }

  /** Marks the instance as going away: every later report is `shutting-down`. */
  drain(): void {
    this.#draining = true;
  }

  /** Runs the checks and says whether this instance is ready. */
  async report(): Promise<ReadinessReport> {
    const { redis, mongo } = await this.check();
    // Read after the checks: a shutdown begun while they ran must not answer ready.
    if (this.#draining) return { status: 'shutting-down', redis, mongo };
    if (redis.status !== 'ok') return { status: 'unavailable', redis, mongo };
    if (!this.#started) return { status: 'starting', redis, mongo };
    if (mongo.status !== 'ok') return { status: 'degraded', degraded: ['mongo'], redis, mongo };
    return { status: 'ok', redis, mongo };
  }
}

/** Whether a readiness report means the instance should get traffic (HTTP 200). */
export function isReady(report: ReadinessReport): boolean {
  return report.status === 'ok' || report.status === 'degraded';
}
