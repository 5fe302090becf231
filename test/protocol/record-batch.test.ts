import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../protocol/crc32c.js';
import { ErrorCode } from '../../protocol/errors.js';
import {
  ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET, BATCH_LENGTH_OFFSET, buildControlBatch, buildRecordBatch,
  buildRecordBatchSync, CompressionType, ControlRecordType, CRC_OFFSET, decompressBatchRecords,
  iterateRecords, LAST_OFFSET_DELTA_OFFSET, MAGIC_OFFSET,
  RECORD_BATCH_OVERHEAD, RECORDS_COUNT_OFFSET, RECORDS_OFFSET, readBatchHeader, readBatchRecords,
  readControlRecord, recomputeBatchCrc, setBaseOffset, setLogAppendTime, setMaxTimestamp,
  setPartitionLeaderEpoch, splitBatches, splitBatchesLenient, TimestampType, validateBatchRecords,
  validateBatchRecordsAsync, validateProduceRecords, verifyBatchCrc, type BuildRecordBatchOptions,
  type CompressionTypeValue, type ProduceValidationOptions, type RecordInput,
} from '../../protocol/record-batch.js';
import { DecodeError, writeVarint, writeVarlong } from '../../protocol/varint.js';

const isDecodeError = (e: unknown) => e instanceof DecodeError;
const isCorruptBatch = (e: unknown) => e instanceof DecodeError && e.kind === 'corrupt_batch';

// --- a batch built byte by byte, independent of our builder -------------------------------------

/** One record: key "k1", value "hello", header ("h", "v") and ("n", null), timestampDelta -5, offsetDelta 0. */
function handRecord(): Buffer {
  const body = Buffer.alloc(64);
  let p = 0;
  body[p++] = 0; // attributes
  p = writeVarlong(body, p, -5);
  p = writeVarint(body, p, 0);
  p = writeVarint(body, p, 2);
  p += body.write('k1', p);
  p = writeVarint(body, p, 5);
  p += body.write('hello', p);
  p = writeVarint(body, p, 2);
  p = writeVarint(body, p, 1);
  p += body.write('h', p);
  p = writeVarint(body, p, 1);
  p += body.write('v', p);
  p = writeVarint(body, p, 1);
  p += body.write('n', p);
  p = writeVarint(body, p, -1);
  const len = Buffer.alloc(5);
  const lp = writeVarint(len, 0, p);
  return Buffer.concat([len.subarray(0, lp), body.subarray(0, p)]);
}

function handBatch(): Buffer {
  const rec = handRecord();
  const b = Buffer.alloc(RECORD_BATCH_OVERHEAD + rec.length);
  b.writeBigInt64BE(1234567890123n, 0);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(77, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(0x0010 | 0x0008, 21); // transactional + LogAppendTime, uncompressed
  b.writeInt32BE(0, 23);
  b.writeBigInt64BE(1_700_000_000_000n, 27);
  b.writeBigInt64BE(1_700_000_000_999n, 35);
  b.writeBigInt64BE(424242n, 43);
  b.writeInt16BE(3, 51);
  b.writeInt32BE(17, 53);
  b.writeInt32BE(1, 57);
  rec.copy(b, 61);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

test('readBatchHeader: every field of a hand-built batch', () => {
  const b = handBatch();
  const h = readBatchHeader(b);
  assert.deepEqual(h, {
    baseOffset: 1234567890123,
    batchLength: b.length - 12,
    partitionLeaderEpoch: 77,
    magic: 2,
    crc: b.readUInt32BE(17),
    attributes: 0x18,
    compression: CompressionType.none,
    timestampType: TimestampType.logAppendTime,
    isTransactional: true,
    isControl: false,
    hasDeleteHorizon: false,
    lastOffsetDelta: 0,
    baseTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_999,
    producerId: 424242,
    producerEpoch: 3,
    baseSequence: 17,
    recordsCount: 1,
  });
  assert.equal(verifyBatchCrc(b), true);

  const other = Buffer.from(b);
  other.writeInt16BE(0x0020 | 0x0040 | 0x0004, 21);
  other.writeBigInt64BE(-1n, 0);
  other.writeBigInt64BE(-1n, 43);
  other.writeInt16BE(-1, 51);
  other.writeInt32BE(-1, 53);
  const h2 = readBatchHeader(other);
  assert.equal(h2.compression, CompressionType.zstd);
  assert.equal(h2.isControl, true);
  assert.equal(h2.hasDeleteHorizon, true);
  assert.equal(h2.isTransactional, false);
  assert.equal(h2.timestampType, TimestampType.createTime);
  assert.equal(h2.baseOffset, -1);
  assert.equal(h2.producerId, -1);
  assert.equal(h2.producerEpoch, -1);
  assert.equal(h2.baseSequence, -1);
  assert.equal(verifyBatchCrc(other), false);
});

test('readBatchHeader: short buffers and other magics are DecodeErrors', () => {
  const b = handBatch();
  assert.throws(() => readBatchHeader(b.subarray(0, 60)), isDecodeError);
  const v1 = Buffer.from(b);
  v1[MAGIC_OFFSET] = 1;
  assert.throws(() => readBatchHeader(v1), isCorruptBatch);
});

test('iterateRecords: the hand-built record, as views into the batch', () => {
  const b = handBatch();
  const records = [...iterateRecords(b)];
  assert.equal(records.length, 1);
  const r = records[0];
  assert.equal(r.attributes, 0);
  assert.equal(r.timestampDelta, -5);
  assert.equal(r.offsetDelta, 0);
  assert.equal(r.offset, 1234567890123);
  assert.equal(r.timestamp, 1_700_000_000_999); // LogAppendTime: maxTimestamp for every record
  assert.equal(r.key?.toString(), 'k1');
  assert.equal(r.value?.toString(), 'hello');
  assert.deepEqual(r.headers.map((h) => [h.key, h.value?.toString() ?? null]), [['h', 'v'], ['n', null]]);
  assert.equal(r.value?.buffer, b.buffer, 'value is a view, not a copy');

  const create = Buffer.from(b);
  create.writeInt16BE(0x0010, 21);
  assert.equal([...iterateRecords(create)][0].timestamp, 1_700_000_000_000 - 5);
});

// --- builder round trips ------------------------------------------------------------------------

const T0 = 1_700_000_000_000;
const ROUND_TRIP_RECORDS: RecordInput[] = [
  { key: 'key-0', value: 'value-0', timestamp: T0 },
  { key: null, value: Buffer.from([0, 1, 2, 255]), timestamp: T0 + 10 },
  { key: Buffer.from('tombstone'), value: null, timestamp: T0 - 100_000 }, // negative delta
  {
    key: 'h',
    value: '',
    timestamp: 2 ** 50, // large delta (varlong beyond 32 bits)
    headers: [
      { key: 'dup', value: 'a' },
      { key: 'dup', value: Buffer.from('b') },
      { key: 'null', value: null },
      { key: '', value: '' },
      { key: 'ünïcødé', value: '✓' },
    ],
  },
  { value: 'x'.repeat(70_000), timestamp: -5 }, // negative timestamp, > one snappy block
  { key: '', value: 'last', timestamp: T0 + 1 },
];

const CODECS: Array<[string, CompressionTypeValue]> = Object.entries(CompressionType) as Array<[string, CompressionTypeValue]>;

for (const [name, compression] of CODECS) {
  test(`builder → iterator round trip (${name})`, async () => {
    const batch = await buildRecordBatch({
      baseOffset: 1000,
      partitionLeaderEpoch: 4,
      producerId: 99,
      producerEpoch: 2,
      baseSequence: 10,
      isTransactional: true,
      compression,
      records: ROUND_TRIP_RECORDS,
    });
    assert.equal(verifyBatchCrc(batch), true);
    const h = readBatchHeader(batch);
    assert.equal(h.batchLength, batch.length - 12);
    assert.equal(h.compression, compression);
    assert.equal(h.recordsCount, ROUND_TRIP_RECORDS.length);
    assert.equal(h.lastOffsetDelta, ROUND_TRIP_RECORDS.length - 1);
    assert.equal(h.baseTimestamp, T0);
    assert.equal(h.maxTimestamp, 2 ** 50);
    assert.equal(h.isTransactional, true);
    assert.equal(h.partitionLeaderEpoch, 4);
    assert.deepEqual([h.producerId, h.producerEpoch, h.baseSequence], [99, 2, 10]);
    if (compression !== CompressionType.none) {
      assert.throws(() => [...iterateRecords(batch)], isDecodeError, 'compressed batches need decompressing first');
    }
    const bytes = await decompressBatchRecords(batch);
    const out = [...iterateRecords(batch, bytes)];
    assert.equal(out.length, ROUND_TRIP_RECORDS.length);
    out.forEach((r, i) => {
      const input = ROUND_TRIP_RECORDS[i];
      const asBuf = (v: Buffer | string | null | undefined) => (v === null || v === undefined ? null : Buffer.from(v));
      assert.equal(r.offset, 1000 + i);
      assert.equal(r.offsetDelta, i);
      assert.equal(r.timestamp, input.timestamp);
      assert.deepEqual(r.key, asBuf(input.key), `key ${i}`);
      assert.deepEqual(r.value, asBuf(input.value), `value ${i}`);
      assert.deepEqual(r.headers, (input.headers ?? []).map((x) => ({ key: x.key, value: asBuf(x.value) })));
    });
    assert.deepEqual(await readBatchRecords(batch), out);
    assert.deepEqual(validateProduceRecords(batch, { apiVersion: 9, maxMessageBytes: 1 << 20 }).ok, true);
    assert.deepEqual(await validateBatchRecordsAsync(batch, h), { ok: true, maxTimestamp: 2 ** 50 });
  });
}

test('builder: defaults (now, -1 sentinels), offsetDelta override, empty batch', async () => {
  const before = Date.now();
  const b = buildRecordBatchSync({ records: [{ value: 'a' }, { value: 'b' }] });
  const h = readBatchHeader(b);
  assert.ok(h.baseTimestamp >= before && h.baseTimestamp <= Date.now());
  assert.deepEqual(
    [h.baseOffset, h.partitionLeaderEpoch, h.producerId, h.producerEpoch, h.baseSequence, h.attributes],
    [0, -1, -1, -1, -1, 0],
  );
  const gaps = buildRecordBatchSync({ records: [{ value: 'a', offsetDelta: 0 }, { value: 'b', offsetDelta: 5 }] });
  assert.equal(readBatchHeader(gaps).lastOffsetDelta, 5);
  assert.deepEqual([...iterateRecords(gaps)].map((r) => r.offset), [0, 5]);
  const empty = buildRecordBatchSync({ records: [] });
  assert.equal(empty.length, RECORD_BATCH_OVERHEAD);
  assert.equal(readBatchHeader(empty).recordsCount, 0);
  assert.equal(readBatchHeader(empty).lastOffsetDelta, -1);
  assert.deepEqual([...iterateRecords(empty)], []);
  assert.throws(() => buildRecordBatchSync({ compression: CompressionType.gzip, records: [] }), TypeError);
  const lat = await buildRecordBatch({ timestampType: TimestampType.logAppendTime, maxTimestamp: 5, records: [{ value: 'x', timestamp: 1 }] });
  assert.equal(readBatchHeader(lat).timestampType, TimestampType.logAppendTime);
  assert.equal([...iterateRecords(lat)][0].timestamp, 5);
});

test('buildControlBatch: transaction markers', () => {
  for (const type of ['commit', 'abort'] as const) {
    const b = buildControlBatch(type, { producerId: 7, producerEpoch: 1, coordinatorEpoch: 12, baseOffset: 50, timestamp: T0 });
    const h = readBatchHeader(b);
    assert.equal(verifyBatchCrc(b), true);
    assert.deepEqual([h.isControl, h.isTransactional, h.producerId, h.producerEpoch, h.baseSequence, h.recordsCount],
      [true, true, 7, 1, -1, 1]);
    const [r] = [...iterateRecords(b)];
    assert.equal(r.offset, 50);
    assert.equal(r.timestamp, T0);
    assert.deepEqual(readControlRecord(r), {
      version: 0,
      type: type === 'commit' ? ControlRecordType.commit : ControlRecordType.abort,
      coordinatorEpoch: 12,
    });
  }
  assert.throws(() => readControlRecord({ key: Buffer.alloc(2), value: null }), isCorruptBatch);
  assert.throws(() => readControlRecord({ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(3) }), isCorruptBatch);
});

// --- splitting ----------------------------------------------------------------------------------

test('splitBatches: back-to-back batches become views; partial tails are errors (or dropped when lenient)', async () => {
  const a = buildRecordBatchSync({ baseOffset: 0, records: [{ value: 'a' }] });
  const b = await buildRecordBatch({ baseOffset: 1, compression: CompressionType.lz4, records: [{ value: 'b' }, { value: 'c' }] });
  const c = buildRecordBatchSync({ baseOffset: 3, records: [{ value: 'd' }] });
  const all = Buffer.concat([a, b, c]);
  const parts = splitBatches(all);
  assert.deepEqual(parts, [a, b, c]);
  assert.equal(parts[1].buffer, all.buffer);
  assert.equal(parts[1].byteOffset, all.byteOffset + a.length);
  assert.deepEqual(splitBatches(Buffer.alloc(0)), []);

  for (const cut of [1, 11, 12, 20, c.length - 1]) {
    const partial = all.subarray(0, all.length - cut);
    assert.throws(() => splitBatches(partial), isCorruptBatch, `cut ${cut}`);
    assert.deepEqual(splitBatchesLenient(partial), [a, b], `lenient cut ${cut}`);
  }
  const short = Buffer.from(all);
  short.writeInt32BE(48, a.length + BATCH_LENGTH_OFFSET);
  assert.throws(() => splitBatches(short), isCorruptBatch);
  assert.throws(() => splitBatchesLenient(short), isCorruptBatch);
  const v1 = Buffer.from(all);
  v1[a.length + MAGIC_OFFSET] = 1;
  assert.throws(() => splitBatches(v1), isCorruptBatch);
});

// --- in-place rewrites --------------------------------------------------------------------------

test('setBaseOffset / setPartitionLeaderEpoch: in place, outside the CRC', () => {
  const pool = Buffer.alloc(4096, 0xee);
  const built = buildRecordBatchSync({ records: [{ value: 'a' }, { value: 'b' }] });
  built.copy(pool, 100);
  const batch = pool.subarray(100, 100 + built.length); // a view, as on the produce path
  const crc = batch.readUInt32BE(CRC_OFFSET);
  setBaseOffset(batch, 2 ** 40 + 3);
  setPartitionLeaderEpoch(batch, 9);
  assert.equal(batch.readUInt32BE(CRC_OFFSET), crc);
  assert.equal(verifyBatchCrc(batch), true);
  assert.deepEqual(batch.subarray(MAGIC_OFFSET), built.subarray(MAGIC_OFFSET));
  const h = readBatchHeader(batch);
  assert.equal(h.baseOffset, 2 ** 40 + 3);
  assert.equal(h.partitionLeaderEpoch, 9);
  assert.deepEqual([...iterateRecords(batch)].map((r) => r.offset), [2 ** 40 + 3, 2 ** 40 + 4]);
  assert.equal(pool[99], 0xee);
  assert.equal(pool[100 + built.length], 0xee);
  assert.throws(() => setBaseOffset(batch, 2 ** 64), RangeError);
});

test('setLogAppendTime / setMaxTimestamp: recompute the CRC, no-op when unchanged', () => {
  const batch = buildRecordBatchSync({ records: [{ value: 'a', timestamp: T0 }, { value: 'b', timestamp: T0 + 5 }] });
  const crc = batch.readUInt32BE(CRC_OFFSET);
  setLogAppendTime(batch, T0 + 1000);
  assert.notEqual(batch.readUInt32BE(CRC_OFFSET), crc);
  assert.equal(verifyBatchCrc(batch), true);
  const h = readBatchHeader(batch);
  assert.equal(h.timestampType, TimestampType.logAppendTime);
  assert.equal(h.maxTimestamp, T0 + 1000);
  assert.deepEqual([...iterateRecords(batch)].map((r) => r.timestamp), [T0 + 1000, T0 + 1000]);

  const snapshot = Buffer.from(batch);
  setLogAppendTime(batch, T0 + 1000);
  assert.deepEqual(batch, snapshot);

  setMaxTimestamp(batch, T0 + 2000); // keeps LogAppendTime
  assert.equal(readBatchHeader(batch).timestampType, TimestampType.logAppendTime);
  assert.equal(verifyBatchCrc(batch), true);
  setMaxTimestamp(batch, T0 + 5, TimestampType.createTime);
  assert.equal(readBatchHeader(batch).attributes, 0);
  assert.equal(verifyBatchCrc(batch), true);
  assert.deepEqual([...iterateRecords(batch)].map((r) => r.timestamp), [T0, T0 + 5]);

  const bad = Buffer.from(batch);
  bad.writeInt32BE(1 << 20, BATCH_LENGTH_OFFSET);
  const badCopy = Buffer.from(bad);
  assert.throws(() => setLogAppendTime(bad, 1), isDecodeError);
  assert.deepEqual(bad, badCopy, 'nothing written when the batch does not fit its buffer');
});

// --- produce validation -------------------------------------------------------------------------

const OPTS: ProduceValidationOptions = { apiVersion: 9, maxMessageBytes: 1 << 20 };

function good(overrides: Partial<BuildRecordBatchOptions> = {}): Buffer {
  return buildRecordBatchSync({
    producerId: 5, producerEpoch: 0, baseSequence: 0,
    records: [{ key: 'a', value: '1', timestamp: T0 }, { key: 'b', value: '2', timestamp: T0 + 3 }],
    ...overrides,
  });
}

/** Edits a header field and re-seals the CRC, so only the edited rule can fail. */
function tamper(edit: (b: Buffer) => void, base = good()): Buffer {
  const b = Buffer.from(base);
  edit(b);
  recomputeBatchCrc(b);
  return b;
}

test('validateProduceRecords: accepts a good batch without copying', () => {
  const pool = Buffer.concat([Buffer.alloc(7), good(), Buffer.alloc(9)]);
  const records = pool.subarray(7, pool.length - 9);
  const r = validateProduceRecords(records, OPTS);
  assert.ok(r.ok);
  assert.equal(r.batch.buffer, pool.buffer);
  assert.equal(r.batch.byteOffset, records.byteOffset);
  assert.equal(r.header.recordsCount, 2);
  assert.equal(r.recordsChecked, true);
  assert.equal(r.recordsMaxTimestamp, T0 + 3);
  const unchecked = validateProduceRecords(records, { ...OPTS, checkRecords: false });
  assert.ok(unchecked.ok && !unchecked.recordsChecked);
});

test('validateProduceRecords: each Kafka error code', async () => {
  const code = (records: Buffer | null, opts = OPTS) => {
    const r = validateProduceRecords(records, opts);
    return r.ok ? ErrorCode.NONE : r.errorCode;
  };
  const g = good();
  assert.equal(code(null), ErrorCode.INVALID_RECORD);
  assert.equal(code(Buffer.alloc(0)), ErrorCode.INVALID_RECORD);
  assert.equal(code(Buffer.alloc(10)), ErrorCode.CORRUPT_MESSAGE);
  assert.equal(code(tamper((b) => (b[MAGIC_OFFSET] = 1))), ErrorCode.INVALID_RECORD);
  assert.equal(code(Buffer.concat([g, good()])), ErrorCode.INVALID_RECORD);
  assert.equal(code(Buffer.concat([g, Buffer.alloc(5)])), ErrorCode.CORRUPT_MESSAGE);
  assert.equal(code(g.subarray(0, g.length - 1)), ErrorCode.CORRUPT_MESSAGE);
  const tooShort = Buffer.from(g);
  tooShort.writeInt32BE(48, BATCH_LENGTH_OFFSET);
  assert.equal(code(tooShort), ErrorCode.CORRUPT_MESSAGE);
  assert.equal(code(g, { ...OPTS, maxMessageBytes: g.length - 1 }), ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal(code(g, { ...OPTS, maxMessageBytes: g.length }), ErrorCode.NONE);

  const flipped = Buffer.from(g);
  flipped[flipped.length - 1] ^= 1;
  assert.equal(code(flipped), ErrorCode.CORRUPT_MESSAGE);
  const flippedAttr = Buffer.from(g);
  flippedAttr[ATTRIBUTES_OFFSET + 1] |= 0x08; // attributes are inside the CRC
  assert.equal(code(flippedAttr), ErrorCode.CORRUPT_MESSAGE);

  const zstd = await buildRecordBatch({ compression: CompressionType.zstd, records: [{ value: 'z' }] });
  assert.equal(code(zstd, { ...OPTS, apiVersion: 6 }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  assert.equal(code(zstd, { ...OPTS, apiVersion: 7 }), ErrorCode.NONE);
  for (const id of [5, 6, 7]) {
    assert.equal(code(tamper((b) => b.writeInt16BE(id, ATTRIBUTES_OFFSET))), ErrorCode.INVALID_RECORD, `codec ${id}`);
  }
  assert.equal(code(tamper((b) => b.writeInt32BE(0, LAST_OFFSET_DELTA_OFFSET))), ErrorCode.INVALID_RECORD);
  assert.equal(code(buildRecordBatchSync({ records: [] })), ErrorCode.INVALID_RECORD);
  assert.equal(code(tamper((b) => b.writeInt32BE(-1, RECORDS_COUNT_OFFSET))), ErrorCode.INVALID_RECORD);
  assert.equal(code(buildControlBatch('commit', { producerId: 1, producerEpoch: 0, coordinatorEpoch: 0 })), ErrorCode.INVALID_RECORD);
  assert.equal(code(tamper((b) => b.writeInt32BE(-1, BASE_SEQUENCE_OFFSET))), ErrorCode.INVALID_RECORD);
  assert.equal(code(good({ producerId: -1, producerEpoch: -1, baseSequence: -1 })), ErrorCode.NONE);

  // Record-level rules (uncompressed batches are walked by default).
  const gap = good({ records: [{ value: 'a', offsetDelta: 0 }, { value: 'b', offsetDelta: 2 }] });
  assert.equal(code(tamper((b) => b.writeInt32BE(1, LAST_OFFSET_DELTA_OFFSET), gap)), ErrorCode.INVALID_RECORD);
  const noKey = good({ records: [{ key: 'a', value: '1' }, { key: null, value: '2' }] });
  assert.equal(code(noKey), ErrorCode.NONE);
  assert.equal(code(noKey, { ...OPTS, requireKeys: true }), ErrorCode.INVALID_RECORD);
  const window = { nowMs: T0, beforeMaxMs: 1000, afterMaxMs: 2 };
  assert.equal(code(g, { ...OPTS, timestampWindow: window }), ErrorCode.INVALID_TIMESTAMP);
  assert.equal(code(g, { ...OPTS, timestampWindow: { ...window, afterMaxMs: 3 } }), ErrorCode.NONE);
  assert.equal(code(g, { ...OPTS, timestampWindow: { ...window, nowMs: T0 + 2000 } }), ErrorCode.INVALID_TIMESTAMP);
  // A record whose length runs past the batch, CRC re-sealed: structure error, not CRC.
  const badLen = tamper((b) => (b[RECORDS_OFFSET] = 0x7e));
  assert.equal(code(badLen), ErrorCode.INVALID_RECORD);
  assert.equal(code(badLen, { ...OPTS, checkRecords: false }), ErrorCode.NONE);
  // Declared count larger than the records present (lastOffsetDelta kept consistent).
  const moreDeclared = tamper((b) => {
    b.writeInt32BE(3, RECORDS_COUNT_OFFSET);
    b.writeInt32BE(2, LAST_OFFSET_DELTA_OFFSET);
  });
  assert.equal(code(moreDeclared), ErrorCode.INVALID_RECORD);
});

test('validateBatchRecords(Async): compressed batches after decompression', async () => {
  const batch = await buildRecordBatch({ compression: CompressionType.snappy, records: [{ value: 'a', timestamp: T0 }, { value: 'b', timestamp: T0 - 1 }] });
  const r = validateProduceRecords(batch, OPTS);
  assert.ok(r.ok && !r.recordsChecked);
  assert.deepEqual(await validateBatchRecordsAsync(batch, r.header), { ok: true, maxTimestamp: T0 });
  assert.equal(validateBatchRecords(batch, r.header, undefined).ok, false);
  // Garbage in place of the compressed stream, CRC re-sealed: passes header checks, fails decompression.
  const garbage = tamper((b) => b.fill(0x41, RECORDS_OFFSET), batch);
  const g = validateProduceRecords(garbage, OPTS);
  assert.ok(g.ok);
  const deep = await validateBatchRecordsAsync(garbage, g.header);
  assert.ok(!deep.ok && deep.errorCode === ErrorCode.CORRUPT_MESSAGE);
  await assert.rejects(decompressBatchRecords(garbage), isCorruptBatch);
});

// --- iterator edge cases ------------------------------------------------------------------------

test('iterateRecords: count mismatches and trailing bytes are DecodeErrors', () => {
  const b = good();
  const more = Buffer.from(b);
  more.writeInt32BE(3, RECORDS_COUNT_OFFSET);
  assert.throws(() => [...iterateRecords(more)], isDecodeError);
  const fewer = Buffer.from(b);
  fewer.writeInt32BE(1, RECORDS_COUNT_OFFSET);
  assert.throws(() => [...iterateRecords(fewer)], isDecodeError);
  const negativeKey = handBatch();
  // key length varint sits after length(1) + attributes(1) + tsDelta(1) + offsetDelta(1)
  negativeKey[RECORDS_OFFSET + 4] = 0x03; // zig-zag -2
  assert.throws(() => [...iterateRecords(negativeKey)], (e: unknown) => e instanceof DecodeError && e.kind === 'invalid_length');
  const cut = Buffer.from(b);
  cut.writeInt32BE(cut.length - 12 + 10, BATCH_LENGTH_OFFSET); // claims more bytes than present
  assert.throws(() => [...iterateRecords(cut)], isCorruptBatch);
});

// --- fuzz ---------------------------------------------------------------------------------------

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Buffer, rand: () => number, resealCrc: boolean): Buffer {
  const pick = rand();
  let b: Buffer;
  if (pick < 0.15) b = Buffer.from(src.subarray(0, Math.floor(rand() * src.length)));
  else if (pick < 0.25) b = Buffer.concat([src, Buffer.from([Math.floor(rand() * 256), Math.floor(rand() * 256)])]);
  else {
    b = Buffer.from(src);
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      // Bias towards the header and the first records, where the structure lives.
      const pos = rand() < 0.5 ? Math.floor(rand() * Math.min(b.length, 90)) : Math.floor(rand() * b.length);
      b[pos] = rand() < 0.3 ? [0x00, 0xff, 0x7f, 0x80][Math.floor(rand() * 4)] : Math.floor(rand() * 256);
    }
  }
  if (resealCrc && b.length >= RECORD_BATCH_OVERHEAD) {
    try {
      recomputeBatchCrc(b);
    } catch {
      // batchLength no longer fits: leave the CRC as it is
    }
  }
  return b;
}

async function expectOnlyDecodeErrors(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) {
      assert.fail(`${what} threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
}

test('fuzz: mutated batches only ever produce DecodeErrors or validation failures', async () => {
  const rand = rng(0x5eed);
  const seeds: Buffer[] = [handBatch(), good(), buildControlBatch('abort', { producerId: 1, producerEpoch: 1, coordinatorEpoch: 1 })];
  for (const compression of [CompressionType.gzip, CompressionType.snappy, CompressionType.lz4, CompressionType.zstd]) {
    seeds.push(await buildRecordBatch({ compression, records: ROUND_TRIP_RECORDS.slice(0, 4) }));
  }
  let validated = 0;
  for (let i = 0; i < 3000; i++) {
    const seed = seeds[i % seeds.length];
    const b = mutate(seed, rand, rand() < 0.7);
    const v = validateProduceRecords(b, OPTS); // must return, never throw
    if (v.ok) {
      validated++;
      const deep = await validateBatchRecordsAsync(v.batch, v.header);
      assert.equal(typeof deep.ok, 'boolean');
    }
    await expectOnlyDecodeErrors('readBatchHeader', () => readBatchHeader(b));
    await expectOnlyDecodeErrors('splitBatches', () => splitBatches(b));
    await expectOnlyDecodeErrors('splitBatchesLenient', () => splitBatchesLenient(b));
    await expectOnlyDecodeErrors('verifyBatchCrc', () => verifyBatchCrc(b));
    await expectOnlyDecodeErrors('readBatchRecords', () => readBatchRecords(b));
    await expectOnlyDecodeErrors('iterateRecords', () => {
      for (const r of iterateRecords(b)) void r;
    });
    await expectOnlyDecodeErrors('setLogAppendTime', () => setLogAppendTime(Buffer.from(b), T0));
  }
  assert.ok(validated > 0, 'some mutations (e.g. in values) still validate');
});
