import type { StatsSnapshot as Stats } from '../client/index.js';

/** Per-second rates over the interval between two polls of `/api/stats`. */
export interface Rates {
  sendsPerSec: number;
  expirationsPerSec: { event: number; poll: number };
  /** Share of cache reads that hit during the interval, 0–1; null when there were no reads. */
  hitRate: number | null;
}

/**
 * Differences two snapshots of the cumulative counters. Null when the interval is not
 * usable: no time passed (or the clock went back), or a counter went down (the stats were
 * reset), which would otherwise draw a negative spike.
 */
export function ratesBetween(prev: Stats, next: Stats): Rates | null {
  const seconds = (Date.parse(next.at) - Date.parse(prev.at)) / 1000;
  if (!(seconds > 0)) return null;
  const d = {
    sends: next.sends - prev.sends,
    hits: next.cacheHits - prev.cacheHits,
    misses: next.cacheMisses - prev.cacheMisses,
    event: next.expirations.event - prev.expirations.event,
    poll: next.expirations.poll - prev.expirations.poll,
  };
  if (Object.values(d).some((v) => v < 0)) return null;
  const reads = d.hits + d.misses;
  return {
    sendsPerSec: d.sends / seconds,
    expirationsPerSec: { event: d.event / seconds, poll: d.poll / seconds },
    hitRate: reads > 0 ? d.hits / reads : null,
  };
}

/** Hit rate over the whole life of the counters, 0–1; null before the first read. */
export function totalHitRate(s: Stats): number | null {
  const reads = s.cacheHits + s.cacheMisses;
  return reads > 0 ? s.cacheHits / reads : null;
}
