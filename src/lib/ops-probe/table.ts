/** Plain-text tables for terminal output (no colours: the output is also read by scripts and logs). */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** 1234567 → "1,234,567"; non-numbers as they are. */
export function fmt(n: unknown): string {
  if (typeof n === 'number') return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1);
  if (n === undefined || n === null) return '-';
  return String(n);
}

/** Bytes in a short human unit. */
export function bytes(n: unknown): string {
  if (typeof n !== 'number') return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
