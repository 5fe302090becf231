// Interop with real clients' own record batch code: kafkajs (encoder, decoder, gzip codec) and
// @platformatic/kafka (encoder/decoder with its own WebAssembly snappy and lz4). Batches they build
// must decode with our iterator; batches we build must decode with theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createRecordsBatch, readRecordsBatch, Reader } from '@platformatic/kafka';
import {
  buildControlBatch, buildRecordBatch, CompressionType, readBatchHeader, readBatchRecords, setBaseOffset,
  setLogAppendTime, setPartitionLeaderEpoch, TimestampType, validateBatchRecordsAsync, validateProduceRecords,
  verifyBatchCrc, type CompressionTypeValue, type RecordInput,
} from '../../protocol/record-batch.js';

const require = createRequire(import.meta.url);
const Long: any = require('kafkajs/src/utils/long');
const Decoder: any = require('kafkajs/src/protocol/decoder');
const KafkajsRecord: any = require('kafkajs/src/protocol/recordBatch/record/v0');
const { RecordBatch: kafkajsRecordBatch }: any = require('kafkajs/src/protocol/recordBatch/v0');
const kafkajsDecodeBatch: any = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const { Types: KafkajsCompression }: any = require('kafkajs/src/protocol/message/compression');

const T0 = 1_700_000_000_000;

interface Msg { key: Buffer | null; value: Buffer | null; headers: Record<string, string | string[]>; timestamp: number }

const MESSAGES: Msg[] = [
  { key: Buffer.from('user-1'), value: Buffer.from('{"a":1}'), headers: { trace: 'abc', multi: ['x', 'y'] }, timestamp: T0 },
  { key: null, value: Buffer.from('no key'), headers: {}, timestamp: T0 + 7 },
  { key: Buffer.from('tomb'), value: null, headers: { 'ünï': 'çødé' }, timestamp: T0 + 3 },
  { key: Buffer.from('big'), value: Buffer.alloc(50_000, 'q'), headers: {}, timestamp: T0 - 2000 },
];

/** kafkajs headers object → our ordered header list. */
function flatHeaders(h: Record<string, string | string[]>): Array<{ key: string; value: Buffer }> {
  return Object.entries(h).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => ({ key: k, value: Buffer.from(x) })));
}

/** Encodes like kafkajs's Produce v3+ request does. */
async function kafkajsBatch(compression: number, transactional = false): Promise<Buffer> {
  const records = MESSAGES.map((m, i) => KafkajsRecord({
    offsetDelta: i,
    timestampDelta: m.timestamp - T0,
    key: m.key,
    value: m.value,
    headers: m.headers,
  }));
  const encoder = await kafkajsRecordBatch({
    compression,
    firstOffset: Long.fromInt(0),
    firstTimestamp: T0,
    maxTimestamp: T0 + 7,
    partitionLeaderEpoch: 0,
    lastOffsetDelta: records.length - 1,
    transactional,
    producerId: Long.fromInt(4000),
    producerEpoch: 3,
    firstSequence: 12,
    records,
  });
  return encoder.buffer as Buffer;
}

for (const [name, kjs] of [['none', KafkajsCompression.None], ['gzip', KafkajsCompression.GZIP]] as const) {
  test(`kafkajs-encoded batch (${name}) decodes with our iterator and passes produce validation`, async () => {
    const batch = await kafkajsBatch(kjs, true);
    assert.equal(verifyBatchCrc(batch), true, 'kafkajs computes CRC-32C with its own code: ours must agree');
    const h = readBatchHeader(batch);
    assert.equal(h.compression, name === 'none' ? CompressionType.none : CompressionType.gzip);
    assert.deepEqual([h.baseOffset, h.producerId, h.producerEpoch, h.baseSequence, h.isTransactional, h.recordsCount, h.lastOffsetDelta],
      [0, 4000, 3, 12, true, MESSAGES.length, MESSAGES.length - 1]);
    const r = validateProduceRecords(batch, { apiVersion: 7, maxMessageBytes: 1 << 20 });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual(await validateBatchRecordsAsync(batch, h), { ok: true, maxTimestamp: T0 + 7 });

    const records = await readBatchRecords(batch);
    assert.equal(records.length, MESSAGES.length);
    records.forEach((rec, i) => {
      const m = MESSAGES[i];
      assert.equal(rec.offset, i);
      assert.equal(rec.timestamp, m.timestamp);
      assert.deepEqual(rec.key, m.key);
      assert.deepEqual(rec.value, m.value);
      assert.deepEqual(rec.headers, flatHeaders(m.headers));
    });
  });
}

/** Decodes one batch with kafkajs's consumer-side decoder. */
async function kafkajsDecode(batch: Buffer): Promise<any> {
  return kafkajsDecodeBatch(new Decoder(batch));
}

function ourInputs(): RecordInput[] {
  return MESSAGES.map((m) => ({ key: m.key, value: m.value, headers: flatHeaders(m.headers), timestamp: m.timestamp }));
}

for (const [name, compression] of [['none', CompressionType.none], ['gzip', CompressionType.gzip]] as const) {
  test(`our batch (${name}) decodes with kafkajs's RecordBatch decoder, after broker rewrites`, async () => {
    const batch = await buildRecordBatch({ compression, producerId: 9, producerEpoch: 1, baseSequence: 0, records: ourInputs() });
    setBaseOffset(batch, 5000);
    setPartitionLeaderEpoch(batch, 2);
    const decoded = await kafkajsDecode(batch);
    assert.equal(decoded.firstOffset, '5000');
    assert.equal(decoded.partitionLeaderEpoch, 2);
    assert.equal(decoded.lastOffsetDelta, MESSAGES.length - 1);
    assert.equal(decoded.producerId, '9');
    assert.equal(decoded.maxTimestamp, String(T0 + 7));
    assert.equal(decoded.records.length, MESSAGES.length);
    decoded.records.forEach((rec: any, i: number) => {
      const m = MESSAGES[i];
      assert.equal(rec.offset, String(5000 + i));
      assert.equal(rec.timestamp, String(m.timestamp));
      assert.deepEqual(rec.key, m.key);
      assert.deepEqual(rec.value, m.value);
      const headers = Object.fromEntries(Object.entries(rec.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]));
      assert.deepEqual(headers, m.headers);
    });

    setLogAppendTime(batch, T0 + 99_000);
    const lat = await kafkajsDecode(batch);
    assert.equal(lat.timestampType, 1);
    for (const rec of lat.records) assert.equal(rec.timestamp, String(T0 + 99_000));
  });
}

test('our control batch is seen as a control batch by kafkajs', async () => {
  const batch = buildControlBatch('commit', { producerId: 7, producerEpoch: 0, coordinatorEpoch: 3, baseOffset: 42, timestamp: T0 });
  const d = await kafkajsDecode(batch);
  assert.equal(d.isControlBatch, true);
  assert.equal(d.inTransaction, true);
  assert.equal(d.records.length, 1);
  assert.equal(d.records[0].offset, '42');
  assert.deepEqual(d.records[0].key, Buffer.from([0, 0, 0, 1]));
});

// --- @platformatic/kafka: independent (WebAssembly) snappy and lz4 ------------------------------

const PLATFORMATIC: Array<[string, 'none' | 'gzip' | 'snappy' | 'lz4', CompressionTypeValue]> = [
  ['none', 'none', CompressionType.none],
  ['gzip', 'gzip', CompressionType.gzip],
  ['snappy', 'snappy', CompressionType.snappy],
  ['lz4', 'lz4', CompressionType.lz4],
];

for (const [name, algo, type] of PLATFORMATIC) {
  test(`@platformatic/kafka batch (${name}) ↔ our codec and iterator`, async () => {
    const messages = MESSAGES.map((m) => ({
      topic: 't',
      partition: 0,
      key: m.key ?? undefined,
      value: m.value ?? Buffer.alloc(0),
      timestamp: BigInt(m.timestamp),
      headers: new Map(flatHeaders(m.headers).map((h) => [Buffer.from(h.key), h.value])),
    }));
    // Theirs → ours. (Their Map drops the duplicate 'multi' key: compare against what they encoded.)
    const theirs: Buffer = createRecordsBatch(messages, { compression: algo, producerId: 11n, producerEpoch: 0, partitionLeaderEpoch: 0 }).buffer;
    assert.equal(verifyBatchCrc(theirs), true);
    assert.equal(readBatchHeader(theirs).compression, type);
    const ours = await readBatchRecords(theirs);
    assert.equal(ours.length, messages.length);
    ours.forEach((rec, i) => {
      assert.equal(rec.timestamp, MESSAGES[i].timestamp);
      assert.deepEqual(rec.key, messages[i].key ?? null);
      assert.deepEqual(rec.value, messages[i].value);
      assert.deepEqual(rec.headers.map((h) => [h.key, h.value]), [...messages[i].headers].map(([k, v]) => [k.toString(), v]));
    });

    // Ours → theirs (snappy goes out xerial-framed, which their reader must accept).
    const batch = await buildRecordBatch({ compression: type, records: ourInputs() });
    const decoded = readRecordsBatch(Reader.from(batch));
    assert.equal(decoded.records.length, MESSAGES.length);
    assert.equal(decoded.maxTimestamp, BigInt(T0 + 7));
    decoded.records.forEach((rec, i) => {
      const m = MESSAGES[i];
      assert.equal(BigInt(T0) + rec.timestampDelta, BigInt(m.timestamp));
      assert.equal(rec.offsetDelta, i);
      assert.deepEqual(rec.key, m.key);
      assert.deepEqual(rec.value, m.value);
      assert.deepEqual(rec.headers.map(([k, v]) => [k?.toString(), v]), flatHeaders(m.headers).map((h) => [h.key, h.value]));
    });
  });
}

test('timestampType constants agree with kafkajs', () => {
  const TimestampTypes: any = require('kafkajs/src/protocol/timestampTypes');
  assert.equal(TimestampTypes.CREATE_TIME, TimestampType.createTime);
  assert.equal(TimestampTypes.LOG_APPEND_TIME, TimestampType.logAppendTime);
});
