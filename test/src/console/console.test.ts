// The console's pieces without an agent: escaping, the history rings, value formatting, and the record
// browser's paging over a fake partition log (limits, control batches, compressed batches, seeks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRecordBatch, CompressionType } from '../../../protocol/record-batch.js';
import { ConsoleHistory, Ring } from '../../../src/console/history.js';
import { escapeHtml, href, html, jsonData } from '../../../src/console/html.js';
import { browseRecords, formatValue, hexDump, MAX_RECORDS, type PartitionReader } from '../../../src/console/records.js';
import { recordsPage } from '../../../src/console/pages.js';

test('html escapes every interpolated value, keeps nested Html, joins arrays', () => {
  const evil = `<script>alert("x")</script>&'`;
  assert.equal(escapeHtml(evil), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  const inner = html`<b>${evil}</b>`;
  const out = html`<td title="${evil}">${inner}${[evil, null, undefined, false, 0]}</td>`.text;
  assert.ok(!out.includes('<script>'));
  assert.equal(out, `<td title="${escapeHtml(evil)}"><b>${escapeHtml(evil)}</b>${escapeHtml(evil)}0</td>`);
});

test('jsonData cannot close its script element', () => {
  const out = jsonData('d', { s: '</script><script>alert(1)</script><!--', l: '\u2028' }).text;
  assert.equal(out.match(/<\/script>/g)?.length, 1);
  assert.ok(!out.includes('<!--'));
  const json = out.slice(out.indexOf('>') + 1, out.lastIndexOf('</script>'));
  assert.deepEqual(JSON.parse(json), { s: '</script><script>alert(1)</script><!--', l: '\u2028' });
});

test('href encodes query values', () => {
  assert.equal(href('/console/group', { id: 'a&b=<c> d', x: undefined }), '/console/group?id=a%26b%3D%3Cc%3E+d');
});

test('Ring keeps the newest samples, oldest first', () => {
  const r = new Ring(3);
  for (let i = 1; i <= 5; i++) r.push(i * 10, [i, -i]);
  assert.deepEqual(r.columns(2), [[30, 40, 50], [3, 4, 5], [-3, -4, -5]]);
  assert.equal(r.lastTime, 50);
  assert.equal(r.size, 3);
});

test('ConsoleHistory: rates from counter differences, lag per group', async () => {
  let totals = { bytesIn: 0, messagesIn: 0, bytesOut: 0 };
  let lag = [{ groupId: 'g', totalLag: 5 }];
  const h = new ConsoleHistory({ throughput: async () => totals, groupLag: async () => lag });
  await h.sampleNow();
  await new Promise((r) => setTimeout(r, 50));
  totals = { bytesIn: 1000, messagesIn: 10, bytesOut: 500 };
  lag = [{ groupId: 'g', totalLag: 7 }];
  await h.sampleNow();
  const [times, bytesIn, messagesIn] = h.throughput.columns(3);
  assert.equal(times!.length, 1);
  assert.ok(bytesIn![0]! > 1000 && bytesIn![0]! <= 20_000, String(bytesIn));
  assert.ok(messagesIn![0]! > 10);
  assert.deepEqual(h.lag.get('g')!.columns(1)[1], [5, 7]);
  await h.stop();
});

test('formatValue: text, JSON (or not), hex, bounded', () => {
  assert.deepEqual(formatValue(Buffer.from('{"a":1}'), 'json'), { text: '{\n  "a": 1\n}', json: true, omitted: 0 });
  assert.deepEqual(formatValue(Buffer.from('nope'), 'json'), { text: 'nope', json: false, omitted: 0 });
  assert.equal(formatValue(Buffer.from([0xff, 0x41]), 'text').text, '\ufffdA');
  const big = formatValue(Buffer.alloc(5000, 0x61), 'text');
  assert.equal(big.text.length, 4096);
  assert.equal(big.omitted, 904);
  assert.equal(hexDump(Buffer.from('hello, world! 0123\n')), '00000000  68 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 20 30 31  |hello, world! 01|\n00000010  32 33 0a                                         |23.|');
});

/** A partition log holding the given batches; read() returns the batches from the one holding `offset`, up to maxBytes. */
function fakeLog(batches: Buffer[], hw: number, logStart = 0): PartitionReader & { reads: number } {
  const log = {
    reads: 0,
    state: async () => ({ highWatermark: hw, logStartOffset: logStart, leaderEpoch: 3 }),
    read: async (_t: string, _p: number, offset: number, maxBytes: number) => {
      log.reads++;
      const out: Buffer[] = [];
      let size = 0;
      for (const b of batches) {
        const base = Number(b.readBigInt64BE(0));
        const last = base + b.readInt32BE(23);
        if (last < offset) continue;
        if (out.length > 0 && size + b.length > maxBytes) break;
        out.push(b);
        size += b.length;
      }
      return out;
    },
    offsetForTimestamp: async (_t: string, _p: number, ts: number) => (ts <= 5000 ? { offset: Math.ceil(ts / 1000), timestamp: ts } : undefined),
  };
  return log;
}

test('browseRecords pages through plain, compressed and control batches', async () => {
  const batches = [
    await buildRecordBatch({ baseOffset: 0, records: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: i * 1000, headers: [{ key: 'h', value: `${i}` }] })) }),
    await buildRecordBatch({ baseOffset: 3, isControl: true, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]), timestamp: 3000 }] }),
    await buildRecordBatch({ baseOffset: 4, compression: CompressionType.lz4, records: [4, 5, 6].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: i * 1000 })) }),
  ];
  const log = fakeLog(batches, 7);
  const all = await browseRecords(log, { topic: 't', partition: 0 }, 1 << 20);
  assert.deepEqual(all.records.map((r) => r.offset), [0, 1, 2, 4, 5, 6]);
  assert.equal(all.records[0]!.headers[0]!.value!.toString(), '0');
  assert.equal(all.next, undefined);

  const page = await browseRecords(log, { topic: 't', partition: 0, offset: 1, limit: 3 }, 1 << 20);
  assert.deepEqual(page.records.map((r) => r.offset), [1, 2, 4]);
  assert.equal(page.next, 5);
  const rest = await browseRecords(log, { topic: 't', partition: 0, offset: page.next, limit: 3 }, 1 << 20);
  assert.deepEqual(rest.records.map((r) => r.key!.toString()), ['k5', 'k6']);

  assert.equal((await browseRecords(log, { topic: 't', partition: 0, timestamp: 4500 }, 1 << 20)).from, 5);
  assert.equal((await browseRecords(log, { topic: 't', partition: 0, timestamp: 9000 }, 1 << 20)).records.length, 0);
  // Offsets outside the log are clamped to it; the limit to MAX_RECORDS.
  assert.equal((await browseRecords(fakeLog(batches, 7, 2), { topic: 't', partition: 0, offset: 0 }, 1 << 20)).from, 2);
  assert.equal((await browseRecords(log, { topic: 't', partition: 0, offset: 99 }, 1 << 20)).from, 7);
  const many = await buildRecordBatch({ baseOffset: 0, records: Array.from({ length: MAX_RECORDS + 50 }, (_, i) => ({ value: `v${i}` })) });
  assert.equal((await browseRecords(fakeLog([many], MAX_RECORDS + 50), { topic: 't', partition: 0, limit: 10_000 }, 1 << 20)).records.length, MAX_RECORDS);
});

test('the records page shows hostile bytes as text', async () => {
  const batch = await buildRecordBatch({ baseOffset: 0, records: [{ key: '<script>k</script>', value: '<img src=x onerror=alert(1)>', headers: [{ key: '"><svg/onload=alert(2)>', value: '</code><b>' }] }] });
  const page = await browseRecords(fakeLog([batch], 1), { topic: 't', partition: 0 }, 1 << 20);
  const out = recordsPage(
    { title: 'Records of t', section: 'topics', self: { nodeId: 0, agentId: '<a>' } },
    { topic: 't', partitions: 1, partition: 0, offset: '"><script>', timestamp: '', limit: 50, format: 'text' },
    page,
    undefined,
  ).text;
  for (const bad of ['<script>k', '<img', '<svg', '</code><b>', '"><script>', '<a>']) assert.ok(!out.includes(bad), bad);
  assert.ok(out.includes('&lt;img src=x onerror=alert(1)&gt;'));
});
