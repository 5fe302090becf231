// The produce handler's prepare step: what a batch looks like once accepted. maxTimestamp comes from
// the records (CreateTime; Kafka's setMaxTimestamp) or the broker clock (LogAppendTime), with a valid
// CRC either way, and an honest batch is left byte for byte as sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/errors.js';
import {
  buildRecordBatch, CompressionType, MAX_TIMESTAMP_OFFSET, readBatchHeader, recomputeBatchCrc, TimestampType, verifyBatchCrc,
} from '../../../protocol/record-batch.js';
import { checkProducedBatch } from '../../../src/handlers/00-produce.js';
import { resolveTopicConfig } from '../../../src/topics.js';

const NOW = 1_700_000_000_000;
const createTime = resolveTopicConfig({ config: {} });
const logAppendTime = resolveTopicConfig({ config: { 'message.timestamp.type': 'LogAppendTime' } });
const opts = (config = createTime) => ({ apiVersion: 9, config, nowMs: NOW + 60_000, maxDecompressedBytes: 1024 * 1024 });

for (const compression of [CompressionType.none, CompressionType.zstd]) {
  test(`codec ${compression}: a lying maxTimestamp is replaced by the records' maximum, CRC recomputed`, async () => {
    const records = [0, 7, 3].map((d) => ({ key: 'k', value: 'v', timestamp: NOW + d }));
    for (const lie of [2n ** 63n - 1n, 0n, -1n]) {
      const b = await buildRecordBatch({ compression, records });
      b.writeBigInt64BE(lie, MAX_TIMESTAMP_OFFSET);
      recomputeBatchCrc(b);
      const r = await checkProducedBatch(b, opts());
      assert.ok(r.ok);
      assert.equal(r.batch, b, 'rewritten in place');
      assert.equal(readBatchHeader(b).maxTimestamp, NOW + 7);
      assert.ok(verifyBatchCrc(b));
      assert.equal(r.logAppendTimeMs, -1);
    }
    const honest = await buildRecordBatch({ compression, records });
    const copy = Buffer.from(honest);
    assert.ok((await checkProducedBatch(honest, opts())).ok);
    assert.deepEqual(honest, copy, 'an honest batch is not touched');
  });
}

test('LogAppendTime topics stamp the broker clock; refused batches are left alone', async () => {
  const b = await buildRecordBatch({ compression: CompressionType.lz4, records: [{ key: 'k', value: 'v', timestamp: 5 }] });
  const r = await checkProducedBatch(b, opts(logAppendTime));
  assert.deepEqual(r.ok && r.logAppendTimeMs, NOW + 60_000);
  const h = readBatchHeader(b);
  assert.deepEqual([h.timestampType, h.maxTimestamp, verifyBatchCrc(b)], [TimestampType.logAppendTime, NOW + 60_000, true]);

  const keyless = await buildRecordBatch({ records: [{ key: null, value: 'v', timestamp: NOW }] });
  const copy = Buffer.from(keyless);
  const refused = await checkProducedBatch(keyless, opts(resolveTopicConfig({ config: { 'cleanup.policy': 'compact' } })));
  assert.deepEqual(!refused.ok && [refused.errorCode, refused.recordErrors?.map((e) => e.batchIndex)], [ErrorCode.INVALID_RECORD, [0]]);
  assert.deepEqual(keyless, copy);
});

test('many compressed batches at once all settle, refused ones included (validation slots are handed on)', async () => {
  const good = await buildRecordBatch({ compression: CompressionType.gzip, records: [{ key: 'k', value: 'x'.repeat(1000), timestamp: NOW }] });
  const bomb = await buildRecordBatch({ compression: CompressionType.gzip, records: [{ key: 'k', value: 'x'.repeat(2 * 1024 * 1024), timestamp: NOW }] });
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => checkProducedBatch(Buffer.from(i % 3 === 0 ? bomb : good), opts())));
  assert.deepEqual(
    results.map((r) => (r.ok ? ErrorCode.NONE : r.errorCode)),
    Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.NONE)),
  );
});
