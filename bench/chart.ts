/** A hand-rolled SVG bar chart of benchmark results (no plotting dependency). */

export interface BarGroup {
  readonly title: string;
  readonly unit: string;
  /** Contender → value (median). */
  readonly values: readonly { readonly name: string; readonly value: number }[];
  /** Higher is better (else lower is). */
  readonly higherIsBetter: boolean;
}

const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#805ad5', '#b83280', '#4a5568'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (v >= 1e4) return (v / 1e3).toFixed(0) + 'k';
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(v >= 10 ? 1 : 2);
}

/** One panel per group, horizontal bars, stacked vertically. */
export function barChartSvg(title: string, groups: readonly BarGroup[], names: readonly string[]): string {
  const width = 760;
  const left = 150;
  const barH = 18;
  const gap = 6;
  const panelPad = 34;
  let y = 40;
  const parts: string[] = [];
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  for (const g of groups) {
    parts.push(
      `<text x="10" y="${y + 14}" font-size="13" font-weight="bold">${esc(g.title)} (${esc(g.unit)}, ${g.higherIsBetter ? 'higher' : 'lower'} is better)</text>`,
    );
    y += panelPad - 10;
    const max = Math.max(1e-9, ...g.values.map((v) => (Number.isFinite(v.value) ? v.value : 0)));
    for (const v of g.values) {
      const color = COLORS[Math.max(0, names.indexOf(v.name)) % COLORS.length]!;
      const w = Number.isFinite(v.value) ? Math.max(1, ((width - left - 90) * v.value) / max) : 0;
      parts.push(`<text x="${left - 8}" y="${y + barH - 5}" text-anchor="end" font-size="12">${esc(v.name)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
      parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + barH - 5}" font-size="12">${fmt(v.value)}</text>`);
      y += barH + gap;
    }
    y += 14;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" viewBox="0 0 ${width} ${y + 10}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`
  );
}
