// The writer's own defence behind Produce validation: a batch whose header the segment format cannot
// hold is refused for that append alone; the flush cycle, and every other producer in it, go on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { MAX_TIMESTAMP_OFFSET, recomputeBatchCrc } from '../../protocol/record-batch.js';
import { makeBatch } from './batches.js';
import { rig } from './setup.js';

test('maxTimestamp 2^63-1 is refused at append; a neighbour appended with it commits', async () => {
  const r = await rig();
  try {
    const hostile = makeBatch({ records: 2 });
    hostile.writeBigInt64BE(2n ** 63n - 1n, MAX_TIMESTAMP_OFFSET);
    recomputeBatchCrc(hostile);
    const good = makeBatch({ records: 3 });
    const [bad, ok] = await Promise.allSettled([r.writer.append('t', 0, hostile), r.writer.append('t', 1, good)]);
    assert.equal(bad.status, 'rejected');
    assert.ok((bad as PromiseRejectedResult).reason instanceof KafkaError);
    assert.equal(((bad as PromiseRejectedResult).reason as KafkaError).code, ErrorCode.INVALID_TIMESTAMP);
    assert.deepEqual(ok, { status: 'fulfilled', value: { baseOffset: 0, lastOffset: 2 } });
    assert.equal(r.writer.highWatermark('t', 0), 0);
    assert.equal(r.writer.highWatermark('t', 1), 3);
    assert.equal(r.meta.segments('t', 1).length, 1);
    // The refused partition takes the next batch at offset 0.
    assert.deepEqual(await r.writer.append('t', 0, makeBatch({ records: 1 })), { baseOffset: 0, lastOffset: 0 });
  } finally {
    await r.cleanup();
  }
});
