// Aligned text tables for the admin commands, and the few value formats they share. Pure functions:
// rows in, text out. Numbers are right-aligned, everything else left-aligned; a missing value (null,
// undefined) prints as "-". Control characters (group and client ids may hold any string) are escaped,
// so one cell never breaks a line or moves the columns.

export type Cell = string | number | boolean | null | undefined;

export interface Column<R> {
  header: string;
  value: (row: R) => Cell;
  /** Default: right for numbers, left otherwise (decided per cell). */
  align?: 'left' | 'right';
}

const MISSING = '-';
const GAP = '  ';

/** One line of printable text: control characters as \n, \t, \xNN or \uNNNN. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

export function cellText(value: Cell): string {
  if (value === null || value === undefined) return MISSING;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : MISSING;
  return value === '' ? '""' : printable(value);
}

/** Display width: code points, wide East Asian characters and emoji counting two columns. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x300 && cp <= 0x36f) continue; // combining marks
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * The rows as an aligned table: a header line, then one line per row, columns separated by two
 * spaces, no trailing spaces. With no rows, `empty` (default "(none)") is printed under the header.
 */
export function formatTable<R>(columns: ReadonlyArray<Column<R>>, rows: readonly R[], opts: { empty?: string } = {}): string {
  const cells = rows.map((row) =>
    columns.map((c) => {
      const v = c.value(row);
      return { text: cellText(v), align: c.align ?? (typeof v === 'number' ? 'right' : 'left') } as const;
    }),
  );
  const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((r) => displayWidth(r[i].text))));
  // A column whose cells are all right-aligned gets a right-aligned header too.
  const headerAlign = columns.map((c, i) => c.align ?? (cells.length > 0 && cells.every((r) => r[i].align === 'right') ? 'right' : 'left'));
  const line = (parts: string[]) => parts.join(GAP).replace(/\s+$/, '');
  const out = [line(columns.map((c, i) => pad(c.header, widths[i], headerAlign[i])))];
  for (const r of cells) out.push(line(r.map((c, i) => pad(c.text, widths[i], c.align))));
  if (rows.length === 0) out.push(opts.empty ?? '(none)');
  return out.join('\n');
}

/** "Label: value" lines with the values aligned. */
export function formatFields(fields: ReadonlyArray<readonly [string, Cell]>): string {
  const width = Math.max(0, ...fields.map(([k]) => displayWidth(k) + 1));
  return fields.map(([k, v]) => `${pad(`${k}:`, width, 'left')} ${cellText(v)}`.replace(/\s+$/, '')).join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; below 1 KiB in bytes. */
export function formatBytes(bytes: number | null | undefined): string | null {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return null;
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[u]}`;
}

/** Epoch ms → "2026-12-03T07:01:02.345Z" (UTC, as the database clock). */
export function formatTime(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) return null;
  return new Date(ms).toISOString();
}

/** A duration in ms → "850 ms", "12.3 s", "4 min 5 s", "3 h 2 min", "2 d 4 h". */
export function formatDuration(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 60_000) return `${(a / 1000).toFixed(1)} s`;
  const s = Math.floor(a / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** `at` relative to `now`: "in 7.5 s", "3.2 s ago". */
export function formatRelative(at: number | null | undefined, now: number): string | null {
  if (at === null || at === undefined || !Number.isFinite(at)) return null;
  const d = at - now;
  return d >= 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
}

/** Partition lists: [0,1,2,5] → "0-2,5". */
export function formatRanges(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j - i >= 2 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}
