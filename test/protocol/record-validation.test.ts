// Produce validation of records, compressed batches included (Kafka's LogValidator): each bad record
// is named (record_errors), timestamps decide INVALID_TIMESTAMP over INVALID_RECORD, decompression is
// bounded (MESSAGE_TOO_LARGE) and broken streams are CORRUPT_MESSAGE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { codecFor, CompressionType } from '../../protocol/compression.js';
import { ErrorCode } from '../../protocol/errors.js';
import {
  ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, buildRecordBatch, buildRecordBatchSync, LAST_OFFSET_DELTA_OFFSET, MAX_RECORD_ERRORS,
  iterateRecords, readBatchHeader, recomputeBatchCrc, RECORD_BATCH_OVERHEAD, RECORDS_COUNT_OFFSET, validateBatchRecords,
  validateProduceBatch, type RecordInput,
} from '../../protocol/record-batch.js';

const NOW = 1_700_000_000_000;
const OPTS = { apiVersion: 9, maxMessageBytes: 10_000_000, maxDecompressedBytes: 1024 * 1024 };
const CODECS = [CompressionType.none, CompressionType.gzip, CompressionType.snappy, CompressionType.lz4, CompressionType.zstd] as const;

const recs = (n: number, f: (i: number) => Partial<RecordInput> = () => ({})): RecordInput[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: NOW + i, ...f(i) }));

/** A batch of `codec` whose records section is `plain` (uncompressed records bytes), header for `count` records. */
async function assemble(codec: number, plain: Buffer, count: number): Promise<Buffer> {
  const body = await codecFor(codec).compress(plain);
  const b = Buffer.alloc(RECORD_BATCH_OVERHEAD + body.length);
  buildRecordBatchSync({ records: recs(1) }).copy(b, 0, 0, RECORD_BATCH_OVERHEAD);
  body.copy(b, RECORD_BATCH_OVERHEAD);
  b.writeInt32BE(b.length - 12, BATCH_LENGTH_OFFSET);
  b.writeInt16BE(codec, ATTRIBUTES_OFFSET);
  b.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  b.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  recomputeBatchCrc(b);
  return b;
}

for (const codec of CODECS) {
  test(`codec ${codec}: every bad record is named; a timestamp error makes it INVALID_TIMESTAMP`, async () => {
    const keys = await buildRecordBatch({ compression: codec, records: recs(6, (i) => (i === 1 || i === 4 ? { key: null } : {})) });
    const r = await validateProduceBatch(keys, { ...OPTS, requireKeys: true });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(r.recordErrors!.map((e) => e.batchIndex), [1, 4]);

    const window = { nowMs: NOW, beforeMaxMs: 1000, afterMaxMs: 1000 };
    const mixed = await buildRecordBatch({ compression: codec, records: recs(4, (i) => (i === 0 ? { key: null } : i === 2 ? { timestamp: NOW - 5000 } : {})) });
    const m = await validateProduceBatch(mixed, { ...OPTS, requireKeys: true, timestampWindow: window });
    assert.ok(!m.ok);
    assert.equal(m.errorCode, ErrorCode.INVALID_TIMESTAMP);
    assert.deepEqual(m.recordErrors!.map((e) => e.batchIndex), [0, 2]);

    const fine = await validateProduceBatch(await buildRecordBatch({ compression: codec, records: recs(4) }), { ...OPTS, requireKeys: true, timestampWindow: window });
    assert.deepEqual(fine.ok && [fine.recordsChecked, fine.recordsMaxTimestamp], [true, NOW + 3]);
  });

  test(`codec ${codec}: a malformed record is named; a short count or trailing bytes fail the batch`, async () => {
    const plain = buildRecordBatchSync({ records: recs(4) }).subarray(RECORD_BATCH_OVERHEAD);
    const broken = Buffer.from(plain);
    // Record 2's length varint says 63 bytes: it then runs into record 3 and does not end on a field.
    let pos = 0;
    for (let i = 0; i < 2; i++) pos += 1 + ((broken[pos]! >>> 1) ^ -(broken[pos]! & 1));
    broken[pos] = 126;
    const r = await validateProduceBatch(await assemble(codec, broken, 4), OPTS);
    assert.ok(!r.ok);
    assert.equal(r.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(r.recordErrors!.map((e) => e.batchIndex), [2]);

    const more = await validateProduceBatch(await assemble(codec, plain, 5), OPTS);
    assert.deepEqual(!more.ok && [more.errorCode, more.recordErrors], [ErrorCode.INVALID_RECORD, undefined]);
    const fewer = await validateProduceBatch(await assemble(codec, plain, 3), OPTS);
    assert.deepEqual(!fewer.ok && fewer.errorCode, ErrorCode.INVALID_RECORD);
    const huge = await validateProduceBatch(await assemble(codec, plain, 2 ** 31 - 1), OPTS);
    assert.deepEqual(!huge.ok && huge.errorCode, ErrorCode.INVALID_RECORD);
  });
}

test('record_errors stop at MAX_RECORD_ERRORS; the message counts them all', async () => {
  const n = MAX_RECORD_ERRORS + 500;
  const batch = await buildRecordBatch({ compression: CompressionType.lz4, records: recs(n, () => ({ key: null })) });
  const r = await validateProduceBatch(batch, { ...OPTS, requireKeys: true });
  assert.ok(!r.ok);
  assert.equal(r.recordErrors!.length, MAX_RECORD_ERRORS);
  assert.equal(r.recordErrors![MAX_RECORD_ERRORS - 1]!.batchIndex, MAX_RECORD_ERRORS - 1);
  assert.match(r.message, new RegExp(`^${n} of ${n} records rejected`));
});

test('timestamps storage cannot hold exactly are INVALID_TIMESTAMP even with the default window', async () => {
  const b = buildRecordBatchSync({ records: recs(2) });
  b.writeBigInt64BE(2n ** 63n - 1n, 27); // baseTimestamp
  recomputeBatchCrc(b);
  const r = await validateProduceBatch(b, { ...OPTS, timestampWindow: { nowMs: NOW, beforeMaxMs: 2 ** 63, afterMaxMs: 2 ** 63 } });
  assert.ok(!r.ok);
  assert.equal(r.errorCode, ErrorCode.INVALID_TIMESTAMP);
  assert.deepEqual(r.recordErrors!.map((e) => e.batchIndex), [0, 1]);
});

test('producers may not set LogAppendTime', async () => {
  const b = buildRecordBatchSync({ records: recs(1), timestampType: 1 });
  const r = await validateProduceBatch(b, OPTS);
  assert.deepEqual(!r.ok && r.errorCode, ErrorCode.INVALID_TIMESTAMP);
});

test('compressed records beyond maxDecompressedBytes are MESSAGE_TOO_LARGE; broken streams CORRUPT_MESSAGE', async () => {
  const bomb = Buffer.concat([Buffer.alloc(RECORD_BATCH_OVERHEAD), gzipSync(Buffer.alloc(4 * 1024 * 1024))]);
  buildRecordBatchSync({ records: recs(1) }).copy(bomb, 0, 0, RECORD_BATCH_OVERHEAD);
  bomb.writeInt32BE(bomb.length - 12, BATCH_LENGTH_OFFSET);
  bomb.writeInt16BE(CompressionType.gzip, ATTRIBUTES_OFFSET);
  recomputeBatchCrc(bomb);
  const r = await validateProduceBatch(bomb, OPTS);
  assert.deepEqual(!r.ok && r.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.match(!r.ok ? r.message : '', /gzip: records decompress to more than 1048576 bytes/);

  const broken = await buildRecordBatch({ compression: CompressionType.zstd, records: recs(50) });
  for (let i = RECORD_BATCH_OVERHEAD + 8; i < broken.length; i++) broken[i] ^= 0x55;
  recomputeBatchCrc(broken);
  const c = await validateProduceBatch(broken, OPTS);
  assert.deepEqual(!c.ok && c.errorCode, ErrorCode.CORRUPT_MESSAGE);
});

test('whatever the walk accepts, the record iterator reads back whole (random damage to records)', () => {
  const base = buildRecordBatchSync({
    records: recs(8, (i) => ({ value: 'v'.repeat(i * 40), headers: i % 2 ? [{ key: 'h', value: `x${i}` }] : [], key: i === 3 ? null : `k${i}` })),
  });
  const header = readBatchHeader(base);
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  let accepted = 0;
  for (let round = 0; round < 3000; round++) {
    const b = Buffer.from(base);
    for (let k = 0, hits = 1 + rand(3); k < hits; k++) b[RECORD_BATCH_OVERHEAD + rand(b.length - RECORD_BATCH_OVERHEAD)] = rand(256);
    const r = validateBatchRecords(b, header, undefined, {});
    if (!r.ok) continue;
    accepted++;
    const records = [...iterateRecords(b)];
    assert.deepEqual(records.map((x) => x.offsetDelta), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(r.maxTimestamp, Math.max(...records.map((x) => x.timestamp)));
  }
  assert.ok(accepted > 0, 'some damage (inside values) leaves the batch valid');
});
