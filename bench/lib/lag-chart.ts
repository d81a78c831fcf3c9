import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchResult } from './bench-result.js';

interface Bar {
  label: string;
  p50: number;
  p99: number;
  system: boolean;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The bars of the lag scenarios found in `results` (system and baseline of each). */
function bars(results: readonly BenchResult[]): Bar[] {
  const out: Bar[] = [];
  const add = (
    label: string,
    p50: number | undefined,
    p99: number | undefined,
    system: boolean,
  ) => {
    if (p50 !== undefined && p99 !== undefined && Number.isFinite(p50) && Number.isFinite(p99)) {
      out.push({ label, p50, p99, system });
    }
  };
  const steady = results.find((r) => r.id === 'expiry-lag-steady');
  if (steady) {
    add('steady: expiry daemon', steady.p50, steady.p99, true);
    add('steady: BullMQ 6 delayed jobs', steady.baselineP50, steady.baselineP99, false);
  }
  const bg = results.find((r) => r.id === 'expiry-lag-background');
  if (bg) {
    add('background keys: expiry daemon', bg.p50, bg.p99, true);
    add('background keys: plain keyevent subscriber', bg.baselineP50, bg.baselineP99, false);
  }
  return out;
}

/**
 * Renders expiration lag p50/p99 of the daemon against BullMQ and the plain subscriber as
 * an SVG bar chart on a log scale (the figures span milliseconds to tens of seconds), by
 * hand: no chart library for one picture. Returns the SVG, or undefined with no lag rows.
 */
export function renderLagChart(
  results: readonly BenchResult[],
  subtitle: string,
): string | undefined {
  const data = bars(results);
  if (data.length === 0) return undefined;
  const left = 290;
  const width = 900;
  const plotWidth = width - left - 110; // room for the value labels right of the longest bar
  const rowHeight = 46;
  const top = 70;
  const height = top + data.length * rowHeight + 60;
  const maxMs = Math.max(...data.map((d) => d.p99), 100);
  const decades = Math.ceil(Math.log10(maxMs));
  const x = (ms: number) => left + (Math.log10(Math.max(ms, 1)) / decades) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Expiration lag (processed − deadline), ms, log scale</text>`,
    `<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
  ];
  for (let d = 0; d <= decades; d++) {
    const gx = x(10 ** d);
    parts.push(
      `<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${top + data.length * rowHeight}" stroke="#ddd"/>`,
      `<text x="${gx}" y="${top + data.length * rowHeight + 18}" text-anchor="middle" fill="#555">${(10 ** d).toLocaleString('en-US')}</text>`,
    );
  }
  const goal = x(100);
  parts.push(
    `<line x1="${goal}" y1="${top - 8}" x2="${goal}" y2="${top + data.length * rowHeight}" stroke="#c00" stroke-dasharray="4 3"/>`,
    `<text x="${goal + 4}" y="${top - 12}" fill="#c00">goal p99 ≤ 100 ms</text>`,
  );
  data.forEach((d, i) => {
    const y = top + i * rowHeight;
    const color = d.system ? '#2b6cb0' : '#999';
    parts.push(
      `<text x="${left - 10}" y="${y + 22}" text-anchor="end">${esc(d.label)}</text>`,
      `<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(d.p99) - left)}" height="14" fill="${color}" opacity="0.45"/>`,
      `<rect x="${left}" y="${y + 22}" width="${Math.max(1, x(d.p50) - left)}" height="14" fill="${color}"/>`,
      `<text x="${x(d.p99) + 5}" y="${y + 18}" fill="#333">p99 ${Math.round(d.p99).toLocaleString('en-US')}</text>`,
      `<text x="${x(d.p50) + 5}" y="${y + 34}" fill="#333">p50 ${Math.round(d.p50).toLocaleString('en-US')}</text>`,
    );
  });
  parts.push(
    `<text x="${left}" y="${height - 14}" fill="#555">blue: this system · grey: baseline · light bar p99, dark bar p50 (values below 1 ms drawn at 1 ms)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

/** Writes the chart to `file` (and a copy to `copyTo`); false when there is nothing to draw. */
export function writeLagChart(
  results: readonly BenchResult[],
  file: string,
  subtitle: string,
  copyTo?: string,
): boolean {
  const svg = renderLagChart(results, subtitle);
  if (!svg) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, svg);
  if (copyTo) copyFileSync(file, copyTo);
  return true;
}
