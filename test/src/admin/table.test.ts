// The admin CLI's table formatter and value formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cellText,
  displayWidth,
  formatBytes,
  formatDuration,
  formatFields,
  formatRanges,
  formatRelative,
  formatTable,
  formatTime,
  printable,
  type Column,
} from '../../../src/admin/table.js';

interface Row {
  name: string;
  count: number | null;
  note?: string | null;
}

const columns: Array<Column<Row>> = [
  { header: 'NAME', value: (r) => r.name },
  { header: 'COUNT', value: (r) => r.count },
  { header: 'NOTE', value: (r) => r.note },
];

test('columns are aligned: text left, numbers right, two spaces between, no trailing spaces', () => {
  const out = formatTable(columns, [
    { name: 'orders', count: 3, note: 'x' },
    { name: 'a', count: 1200, note: null },
  ]);
  assert.equal(out, ['NAME    COUNT  NOTE', 'orders      3  x', 'a        1200  -'].join('\n'));
  for (const line of out.split('\n')) assert.equal(line, line.trimEnd());
});

test('a header wider than its cells sets the width; numeric columns get right-aligned headers', () => {
  const out = formatTable([{ header: 'HIGH-WATERMARK', value: (r: { hw: number }) => r.hw }], [{ hw: 5 }, { hw: 12 }]);
  assert.equal(out, ['HIGH-WATERMARK', '             5', '            12'].join('\n'));
});

test('explicit alignment wins, also for missing values', () => {
  const out = formatTable([{ header: 'A', value: (r: { a: number | null }) => r.a, align: 'right' }, { header: 'B', value: () => 'b' }], [{ a: null }, { a: 100 }]);
  assert.equal(out, ['  A  B', '  -  b', '100  b'].join('\n'));
});

test('no rows: the header and a placeholder line', () => {
  assert.equal(formatTable(columns, []), 'NAME  COUNT  NOTE\n(none)');
  assert.equal(formatTable(columns, [], { empty: '(no topics)' }), 'NAME  COUNT  NOTE\n(no topics)');
});

test('cells never break a line: control characters are escaped; empty strings are visible', () => {
  assert.equal(printable('a\nb\tc\u0000d\u001b'), 'a\\nb\\tc\\x00d\\x1b');
  assert.equal(printable('line\u2028sep'), 'line\\u2028sep');
  const out = formatTable(columns, [{ name: 'evil\ngroup', count: 1 }]);
  assert.equal(out.split('\n').length, 2);
  assert.match(out, /evil\\ngroup/);
  assert.equal(cellText(''), '""');
  assert.equal(cellText(true), 'yes');
  assert.equal(cellText(false), 'no');
  assert.equal(cellText(Number.NaN), '-');
  assert.equal(cellText(undefined), '-');
});

test('wide characters count two columns, combining marks none', () => {
  assert.equal(displayWidth('abc'), 3);
  assert.equal(displayWidth('日本'), 4);
  assert.equal(displayWidth('e\u0301'), 1);
  const out = formatTable([{ header: 'G', value: (r: { g: string }) => r.g }, { header: 'N', value: () => 1 }], [{ g: '日本' }, { g: 'abcd' }]);
  const [, a, b] = out.split('\n');
  assert.equal(displayWidth(a), displayWidth(b));
});

test('fields: labels padded so the values line up', () => {
  assert.equal(formatFields([['Topic', 'orders'], ['Partitions', 3], ['Topic id', null]]), ['Topic:      orders', 'Partitions: 3', 'Topic id:   -'].join('\n'));
});

test('bytes, times, durations, relative times, partition ranges', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(formatBytes(150 * 1024 ** 2), '150 MiB');
  assert.equal(formatBytes(null), null);
  assert.equal(formatTime(Date.UTC(2026, 11, 3, 7, 1, 2, 345)), '2026-12-03T07:01:02.345Z');
  assert.equal(formatTime(0), null);
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(12_345), '12.3 s');
  assert.equal(formatDuration(245_000), '4 min 5 s');
  assert.equal(formatDuration(3 * 3600_000 + 120_000), '3 h 2 min');
  assert.equal(formatDuration(2 * 86_400_000 + 4 * 3600_000), '2 d 4 h');
  assert.equal(formatRelative(10_000, 2_500), 'in 7.5 s');
  assert.equal(formatRelative(1_000, 4_200), '3.2 s ago');
  assert.equal(formatRelative(null, 0), null);
  assert.equal(formatRanges([5, 0, 1, 2, 7, 8]), '0-2,5,7,8');
  assert.equal(formatRanges([3, 3, 4, 5, 6]), '3-6');
  assert.equal(formatRanges([]), '');
});
