// The benchmark's table: one row per figure, next to its peer, with the ratio and the target.

export type Target =
  /** value / peer at least this (rates: higher is better). */
  | { kind: 'ratio-at-least'; ratio: number }
  /** value / peer at most this (times: lower is better). */
  | { kind: 'ratio-at-most'; ratio: number }
  | { kind: 'below'; limit: number }
  | { kind: 'at-most'; limit: number }
  | { kind: 'above'; limit: number };

export interface Row {
  measurement: string;
  figure: string;
  value: number | null;
  unit: string;
  peer?: string;
  peerValue?: number | null;
  ratio?: number | null;
  target?: Target;
  /** null: not measured, or no target. */
  met: boolean | null;
  /** Why a figure is n/a, or what it was measured over. */
  note?: string;
}

export function row(r: Omit<Row, 'ratio' | 'met'>): Row {
  const ratio = r.value !== null && r.peerValue !== undefined && r.peerValue !== null && r.peerValue > 0 ? r.value / r.peerValue : r.peerValue === undefined ? undefined : null;
  let met: boolean | null = null;
  const t = r.target;
  if (t && r.value !== null) {
    if (t.kind === 'below') met = r.value < t.limit;
    else if (t.kind === 'at-most') met = r.value <= t.limit;
    else if (t.kind === 'above') met = r.value > t.limit;
    else if (ratio !== null && ratio !== undefined) met = t.kind === 'ratio-at-least' ? ratio >= t.ratio : ratio <= t.ratio;
  }
  return { ...r, ratio, met };
}

export function notAvailable(measurement: string, figure: string, reason: string, extra: Partial<Row> = {}): Row {
  return { measurement, figure, value: null, unit: '', met: null, ...extra, note: `n/a (${reason})` };
}

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 160);

function describeTarget(t: Target | undefined, unit: string): string {
  if (!t) return '';
  switch (t.kind) {
    case 'ratio-at-least':
      return `≥ ${t.ratio}×`;
    case 'ratio-at-most':
      return `≤ ${t.ratio}×`;
    case 'below':
      return `< ${fmt(t.limit)} ${unit}`;
    case 'at-most':
      return `≤ ${fmt(t.limit)} ${unit}`;
    case 'above':
      return `> ${fmt(t.limit)} ${unit}`;
  }
}

export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['figure', 'mailca', 'peer', 'peer value', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    r.figure,
    r.value === null ? (r.note ?? 'n/a') : `${fmt(r.value)} ${r.unit}`,
    r.peer ?? '',
    r.peerValue === undefined ? '' : r.peerValue === null ? 'n/a' : `${fmt(r.peerValue)} ${r.unit}`,
    r.ratio === undefined ? '' : r.ratio === null ? '—' : `${r.ratio >= 0.1 ? r.ratio.toFixed(2) : r.ratio.toPrecision(2)}×`,
    describeTarget(r.target, r.unit),
    r.met === null ? (r.target ? '—' : '') : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmtLine = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  // A note shared by consecutive rows (p50 and p99 of one series) is printed once.
  const notes = rows.filter((r, i) => r.value !== null && r.note && r.note !== rows[i - 1]?.note).map((r) => `  - ${r.figure}: ${r.note}`);
  return [fmtLine(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmtLine), ...(notes.length ? ['', 'notes:', ...notes] : [])].join('\n');
}
