// Rolling time-series charts on uPlot (vendored from npm, served from /dashboard/vendor/).

/** Points kept per chart: five minutes at one row a second. */
const WINDOW = 300;
const COLORS = ['#3fb6a8', '#e6a23c', '#e15759', '#8d7bd8', '#5b9bd5'];

export class RollingChart {
  /**
   * @param {HTMLElement} el  the <figure> to draw in
   * @param {string} title
   * @param {string[]} labels  one per series
   * @param {(v: number) => string} fmt  axis value format
   */
  constructor(el, title, labels, fmt) {
    this.el = el;
    this.data = [[], ...labels.map(() => [])];
    const caption = document.createElement('figcaption');
    caption.textContent = title;
    el.append(caption);
    const width = Math.max(280, el.clientWidth - 16);
    this.plot = new window.uPlot(
      {
        width,
        height: 180,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#9aa4b2', grid: { stroke: '#2a3140' } },
          { stroke: '#9aa4b2', grid: { stroke: '#2a3140' }, size: 60, values: (_u, vals) => vals.map(fmt) },
        ],
        series: [{}, ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
      },
      this.data,
      el,
    );
    el.dataset.points = '0';
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(280, el.clientWidth - 16), height: 180 })).observe(el);
  }

  /** Adds a point at `t` (seconds); a point in the same second as the last one replaces it. */
  push(t, values) {
    const xs = this.data[0];
    const sec = Math.floor(t);
    const same = xs.length > 0 && xs[xs.length - 1] === sec;
    if (!same) xs.push(sec);
    values.forEach((v, i) => {
      const s = this.data[i + 1];
      if (same) s[s.length - 1] = v;
      else s.push(v);
    });
    if (xs.length > WINDOW) for (const s of this.data) s.shift();
    this.plot.setData(this.data);
    // For tests and people: how many points and the newest values.
    this.el.dataset.points = String(xs.length);
    this.el.dataset.last = values.join(',');
  }

  clear() {
    for (const s of this.data) s.length = 0;
    this.plot.setData(this.data);
    this.el.dataset.points = '0';
  }
}
