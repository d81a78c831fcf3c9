import { el } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Options of a {@link LineChart}. */
export interface LineChartOptions {
  /** The lines, in drawing order; each gets the CSS class `s<index>` for its colour. */
  series: string[];
  /** Samples kept (one per poll: a minute at 1 s). @defaultValue 60 */
  points?: number;
  /** Formats a value for the axis and the legend. @defaultValue two significant decimals */
  format?: (value: number) => string;
  /** The y axis never shrinks below this top value (keeps flat-zero charts readable). @defaultValue 1 */
  minTop?: number;
  /** A fixed top value (e.g. 100 for percentages). */
  fixedTop?: number;
}

const WIDTH = 320;
const HEIGHT = 120;
const PAD = { left: 40, right: 8, top: 8, bottom: 16 };

function defaultFormat(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toFixed(2)).toString();
}

/** 1, 2 or 5 times a power of ten, at least `v`: axis tops people can read. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

/**
 * A small hand-written SVG line chart of the last N samples of a few series, redrawn on
 * every {@link LineChart.push}. A null sample is a gap in its line (e.g. a hit rate over an
 * interval without reads). Text goes through `textContent` like everywhere else.
 */
export class LineChart {
  private readonly svg: SVGSVGElement;
  private readonly legend: HTMLElement;
  private readonly data: Array<Array<number | null>>;
  private readonly points: number;
  private readonly format: (value: number) => string;

  constructor(
    container: HTMLElement,
    private readonly opts: LineChartOptions,
  ) {
    this.points = opts.points ?? 60;
    this.format = opts.format ?? defaultFormat;
    this.data = opts.series.map(() => []);
    this.svg = document.createElementNS(SVG_NS, 'svg');
    this.svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    this.svg.setAttribute('role', 'img');
    this.legend = el('div', { class: 'legend' });
    container.replaceChildren(this.svg, this.legend);
    this.draw();
  }

  /** Appends one sample per series (same order as `series`) and redraws. */
  push(values: Array<number | null>): void {
    this.data.forEach((line, i) => {
      line.push(values[i] ?? null);
      if (line.length > this.points) line.shift();
    });
    this.draw();
  }

  private draw(): void {
    const all = this.data.flat().filter((v): v is number => v !== null && Number.isFinite(v));
    const top = this.opts.fixedTop ?? niceCeil(Math.max(this.opts.minTop ?? 1, ...all));
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const x = (i: number) => PAD.left + (plotW * i) / Math.max(1, this.points - 1);
    const y = (v: number) => PAD.top + plotH - (plotH * Math.min(Math.max(v, 0), top)) / top;

    const nodes: SVGElement[] = [];
    for (const v of [0, top / 2, top]) {
      nodes.push(
        svgEl('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }),
      );
      const label = svgEl('text', { class: 'axis', x: PAD.left - 4, y: y(v) + 3 });
      label.textContent = this.format(v);
      nodes.push(label);
    }
    const span = svgEl('text', { class: 'axis', x: WIDTH - PAD.right, y: HEIGHT - 3 });
    span.setAttribute('text-anchor', 'end');
    span.textContent = `last ${this.points} s`;
    nodes.push(span);

    this.data.forEach((line, s) => {
      // Right-aligned: the newest sample is always at the right edge.
      const offset = this.points - line.length;
      const ok = (v: number | null | undefined): v is number => v != null && Number.isFinite(v);
      let d = '';
      line.forEach((v, i) => {
        if (!ok(v)) return;
        const px = x(offset + i).toFixed(1);
        const py = y(v).toFixed(1);
        const joined = ok(line[i - 1]);
        d += `${joined ? 'L' : 'M'}${px},${py}`;
        // A sample between two gaps is no line at all: mark it with a dot.
        if (!joined && !ok(line[i + 1])) {
          nodes.push(svgEl('circle', { class: `dot s${s}`, cx: px, cy: py, r: 2 }));
        }
      });
      if (d !== '') nodes.push(svgEl('path', { class: `line s${s}`, d }));
    });
    this.svg.replaceChildren(...nodes);

    this.legend.replaceChildren(
      ...this.opts.series.map((name, s) => {
        const last = this.data[s]?.at(-1);
        const item = el('span', { class: `key s${s}` });
        item.append(
          el('span', { class: 'swatch' }),
          el(
            'span',
            {},
            `${name} ${last === null || last === undefined ? '–' : this.format(last)}`,
          ),
        );
        return item;
      }),
    );
  }
}

function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}
