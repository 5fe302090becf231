import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { readBatchHeader } from '../../protocol/record-batch.js';
import { decodeSegmentObject } from '../../storage/segment-format.js';
import { OrphanCleaner } from '../../storage/orphan-cleaner.js';
import type { CommitEvent, CycleEvent, RollbackEvent } from '../../storage/segment-writer.js';
import { makeBatch, makeCompressedBatch, producerView } from './batches.js';
import { AGENT, EPOCH, ManualTime, rig, settled } from './setup.js';

function isKafka(code: number) {
  return (e: unknown) => e instanceof KafkaError && e.code === code;
}

test('assigns offsets and leader epoch in place; stores batches byte for byte', async () => {
  const r = await rig();
  try {
    const a = makeBatch({ records: 3 });
    const b = await makeCompressedBatch({ records: 5, compression: 'lz4' });
    const c = makeBatch({ records: 2, producerId: 77 });
    const originals = [a, b, c].map((x) => producerView(x));
    const results = await Promise.all([r.writer.append('t', 0, a), r.writer.append('t', 0, b), r.writer.append('t', 0, c)]);
    assert.deepEqual(results, [
      { baseOffset: 0, lastOffset: 2 },
      { baseOffset: 3, lastOffset: 7 },
      { baseOffset: 8, lastOffset: 9 },
    ]);
    // Rewritten in the caller's buffer (no copy), outside the CRC.
    assert.equal(readBatchHeader(b).baseOffset, 3);
    assert.equal(readBatchHeader(b).partitionLeaderEpoch, EPOCH);
    assert.equal(readBatchHeader(c).producerId, 77);
    assert.equal(r.writer.highWatermark('t', 0), 10);
    assert.equal(r.writer.logEndOffset('t', 0), 10);
    const rows = r.meta.segments('t', 0);
    const stored = await Promise.all(
      [...new Set(rows.map((s) => s.s3Key))].map(async (k) => decodeSegmentObject(await r.store.inner.get(k), k)),
    );
    const batches = stored.flatMap((o) => o.chunks.flatMap((ch) => ch.batches));
    assert.deepEqual(batches, [a, b, c]);
    assert.deepEqual(batches.map(producerView), originals);
  } finally {
    await r.cleanup();
  }
});

test('an append is acked only after the upload and the metadata commit', async () => {
  const r = await rig();
  try {
    r.store.holdPuts();
    const p = r.writer.append('t', 0, makeBatch());
    assert.equal(await settled(p, 30), false);
    assert.equal(r.meta.segments('t', 0).length, 0);
    assert.equal(r.writer.highWatermark('t', 0), 0);
    assert.equal(r.writer.logEndOffset('t', 0), 3);
    r.meta.faults.commitDelayMs = 30;
    r.store.releasePuts();
    assert.equal(await settled(p, 10), false, 'still waiting for the commit');
    assert.deepEqual(await p, { baseOffset: 0, lastOffset: 2 });
    assert.equal(r.meta.segments('t', 0).length, 1);
    assert.equal(r.writer.highWatermark('t', 0), 3);
  } finally {
    await r.cleanup();
  }
});

test('one object and one commit per cycle, whatever the number of partitions', async () => {
  // Manual time: on a loaded machine 100 appends can take longer than flushMs, and an append that
  // finds its cycle due starts it at once.
  const time = new ManualTime();
  const r = await rig({ partitions: 100, flushMs: 20, clock: time, timers: time });
  try {
    const pending = Promise.all(Array.from({ length: 100 }, (_, p) => r.writer.append('t', p, makeBatch({ records: 1 }))));
    assert.equal(r.store.count('put'), 0);
    time.advance(20);
    const results = await pending;
    assert.ok(results.every((x) => x.baseOffset === 0));
    assert.equal(r.store.count('put'), 1);
    assert.equal(r.meta.commitCalls, 1);
    const keys = new Set<string>();
    for (let p = 0; p < 100; p++) for (const s of r.meta.segments('t', p)) keys.add(s.s3Key);
    assert.equal(keys.size, 1);
    const [key] = keys;
    const obj = await decodeSegmentObject(await r.store.inner.get(key), key);
    assert.equal(obj.chunks.length, 100);
    // Each row locates its partition's chunk inside the object.
    for (let p = 0; p < 100; p += 17) {
      const [row] = r.meta.segments('t', p);
      const ch = obj.chunks.find((c) => c.entry.partitionId === p)!;
      assert.equal(row.bytePosition, ch.entry.position);
      assert.equal(row.byteLength, ch.entry.length);
      assert.equal(row.recordCount, 1);
    }
  } finally {
    await r.cleanup();
  }
});

test('flushMs bounds how long an append waits; flushBytes starts a cycle at once', async () => {
  const time = new ManualTime();
  const r = await rig({ flushMs: 100, flushBytes: 4096, clock: time, timers: time });
  try {
    const p = r.writer.append('t', 0, makeBatch({ records: 1 }));
    assert.equal(await settled(p, 20), false);
    assert.equal(r.store.count('put'), 0);
    time.advance(99);
    assert.equal(await settled(p, 20), false);
    time.advance(1);
    assert.deepEqual(await p, { baseOffset: 0, lastOffset: 0 });
    assert.equal(r.store.count('put'), 1);
    // Over flushBytes: no timer needed.
    const big = makeBatch({ records: 20, valueSize: 300 });
    assert.ok(big.length > 4096);
    assert.deepEqual(await r.writer.append('t', 0, big), { baseOffset: 1, lastOffset: 20 });
    assert.equal(r.store.count('put'), 2);
  } finally {
    await r.cleanup();
  }
});

test('a failed upload fails the cycle with a retriable error and rolls offsets back', async () => {
  const r = await rig();
  const rollbacks: RollbackEvent[] = [];
  r.writer.onRollback((e) => rollbacks.push(e));
  try {
    await r.writer.append('t', 0, makeBatch()); // committed: 0..2
    r.store.failPuts = 1;
    const err = await r.writer.append('t', 0, makeBatch()).catch((e) => e);
    assert.ok(isKafka(ErrorCode.KAFKA_STORAGE_ERROR)(err), String(err));
    assert.equal((err as KafkaError).retriable, true);
    assert.equal(r.writer.logEndOffset('t', 0), 3);
    assert.equal(rollbacks.length, 1);
    assert.equal(rollbacks[0].highWatermark, 3);
    assert.equal(rollbacks[0].closed, false);
    assert.equal(r.meta.segments('t', 0).length, 1, 'nothing of the failed cycle is visible');
    // The next append reuses the rolled-back offsets.
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 3, lastOffset: 5 });
    // A PUT that landed but reported failure is deleted again (the orphan cleaner is the backstop).
    r.store.failPutsAfterWrite = 1;
    await assert.rejects(r.writer.append('t', 0, makeBatch()), isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    await new Promise((res) => setTimeout(res, 20));
    const referenced = new Set(r.meta.segments('t', 0).map((s) => s.s3Key));
    const objects = await r.store.inner.list('segments/');
    assert.deepEqual(objects.map((o) => o.key).sort(), [...referenced].sort());
  } finally {
    await r.cleanup();
  }
});

test('appends buffered behind a failed cycle fail too (their offsets followed the failed ones)', async () => {
  const r = await rig();
  try {
    r.store.holdPuts();
    const first = r.writer.append('t', 0, makeBatch());
    void r.writer.flushNow(); // start the cycle now, whatever the timer
    await new Promise((res) => setTimeout(res, 10));
    const second = r.writer.append('t', 0, makeBatch());
    const other = r.writer.append('t', 1, makeBatch());
    r.store.failPuts = 1;
    r.store.releasePuts();
    await assert.rejects(first, isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    await assert.rejects(second, isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    // Partition 1 was not in the failed cycle: it commits normally.
    assert.deepEqual(await other, { baseOffset: 0, lastOffset: 2 });
    assert.equal(r.writer.logEndOffset('t', 0), 0);
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 0, lastOffset: 2 });
  } finally {
    await r.cleanup();
  }
});

test('a commit that throws without applying is retried; one that keeps failing fails the produce', async () => {
  const r = await rig();
  try {
    r.meta.faults.commitThrows = 2;
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 0, lastOffset: 2 });
    assert.equal(r.meta.commitCalls, 3);
    r.meta.faults.commitThrows = 10;
    await assert.rejects(r.writer.append('t', 0, makeBatch()), (e: unknown) => isKafka(ErrorCode.KAFKA_STORAGE_ERROR)(e) && (e as KafkaError).retriable);
    assert.equal(r.writer.logEndOffset('t', 0), 3);
    assert.equal(r.meta.segments('t', 0).length, 1);
    r.meta.faults.commitThrows = 0;
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 3, lastOffset: 5 });
    await new Promise((res) => setTimeout(res, 20));
    // The failed attempts threw, so a late apply was possible: the object is left to the orphan
    // cleaner, which deletes it once it is older than the grace period and still unreferenced.
    assert.equal((await r.store.inner.list('segments/')).length, 3);
    const cleaner = new OrphanCleaner({ objectStore: r.store, metadata: r.meta, graceMs: 1000, clock: { now: () => Date.now() + 5000 } });
    assert.equal((await cleaner.runOnce()).deleted, 1);
    assert.equal((await r.store.inner.list('segments/')).length, 2);
  } finally {
    await r.cleanup();
  }
});

test('a commit that applied but lost its response is recognised as committed', async () => {
  const r = await rig();
  try {
    r.meta.faults.commitThrowsAfterApply = 1;
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 0, lastOffset: 2 });
    assert.equal(r.meta.segments('t', 0).length, 1);
    assert.equal(r.writer.highWatermark('t', 0), 3);
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 3, lastOffset: 5 });
    assert.equal(r.meta.segments('t', 0).length, 2);
  } finally {
    await r.cleanup();
  }
});

test('a commit that times out but applies later is recognised, and its object is not deleted', async () => {
  const r = await rig({ commitRetryDelayMs: 40 });
  try {
    r.meta.faults.commitAppliesLate = 1;
    r.meta.faults.lateApplyMs = 10;
    // Attempt 1 throws; the check finds nothing yet; the late statement applies; attempt 2 is
    // fenced on the offset; the second check finds our row: committed after all.
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 0, lastOffset: 2 });
    assert.equal(r.writer.isOpen('t', 0), true);
    assert.equal(r.meta.segments('t', 0).length, 1);
    await new Promise((res) => setTimeout(res, 20));
    assert.equal((await r.store.inner.list('segments/')).length, 1, 'the referenced object is still there');
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 3, lastOffset: 5 });
  } finally {
    await r.cleanup();
  }
});

test('an unknown commit outcome answers REQUEST_TIMED_OUT and resyncs before taking appends', async () => {
  const r = await rig({ commitResolveTimeoutMs: 30 });
  try {
    r.meta.faults.commitThrowsAfterApply = 1;
    r.meta.faults.findThrows = 1_000_000;
    await assert.rejects(r.writer.append('t', 0, makeBatch()), isKafka(ErrorCode.REQUEST_TIMED_OUT));
    await assert.rejects(r.writer.append('t', 0, makeBatch()), isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    r.meta.faults.findThrows = 0;
    for (let i = 0; i < 100 && !r.writer.isOpen('t', 0); i++) await new Promise((res) => setTimeout(res, 5));
    assert.equal(r.writer.highWatermark('t', 0), 3, 'the commit had applied');
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 3, lastOffset: 5 });
  } finally {
    await r.cleanup();
  }
});

test('a lease fence closes that partition with NOT_LEADER_OR_FOLLOWER; the others commit', async () => {
  const r = await rig({ flushMs: 10 });
  const rollbacks: RollbackEvent[] = [];
  r.writer.onRollback((e) => rollbacks.push(e));
  try {
    r.meta.setLease('t', 1, 'agent-2', EPOCH + 1);
    const [p0, p1] = await Promise.allSettled([r.writer.append('t', 0, makeBatch()), r.writer.append('t', 1, makeBatch())]);
    assert.deepEqual(p0, { status: 'fulfilled', value: { baseOffset: 0, lastOffset: 2 } });
    assert.equal(p1.status, 'rejected');
    assert.ok(isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER)((p1 as PromiseRejectedResult).reason));
    assert.equal(r.writer.isOpen('t', 1), false);
    assert.equal(r.meta.segments('t', 1).length, 0);
    assert.equal(r.meta.segments('t', 0).length, 1);
    assert.equal(r.store.count('put'), 1, 'the same object was committed for the survivors');
    assert.deepEqual(rollbacks.map((e) => [e.partitionId, e.closed, e.error.code]), [[1, true, ErrorCode.NOT_LEADER_OR_FOLLOWER]]);
    await assert.rejects(r.writer.append('t', 1, makeBatch()), isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
  } finally {
    await r.cleanup();
  }
});

test('backpressure: buffered bytes never exceed the limit; waiting appends keep their order', async () => {
  const batches = Array.from({ length: 12 }, () => makeBatch({ records: 2 }));
  const limit = batches[0].length + batches[1].length + batches[2].length;
  const r = await rig({ maxBufferedBytes: limit, flushMs: 1 });
  try {
    r.store.holdPuts();
    let peak = 0;
    const results: Array<Promise<{ baseOffset: number }>> = [];
    for (const b of batches) {
      results.push(r.writer.append('t', 0, b));
      peak = Math.max(peak, r.writer.bufferedBytes);
    }
    await new Promise((res) => setTimeout(res, 20));
    peak = Math.max(peak, r.writer.bufferedBytes);
    assert.ok(peak <= limit, `peak ${peak}`);
    assert.equal(r.writer.logEndOffset('t', 0), 6, 'only three appends were admitted');
    r.store.releasePuts();
    const offsets = (await Promise.all(results)).map((x) => x.baseOffset);
    assert.deepEqual(offsets, Array.from({ length: 12 }, (_, i) => i * 2));
    assert.equal(r.writer.bufferedBytes, 0);
  } finally {
    await r.cleanup();
  }
});

test('closePartition fails buffered appends; data already committing still settles', async () => {
  const r = await rig({ flushMs: 1 });
  try {
    r.store.holdPuts();
    const inflight = r.writer.append('t', 0, makeBatch());
    void r.writer.flushNow(); // start the cycle now, whatever the timer
    await new Promise((res) => setTimeout(res, 10));
    const buffered = r.writer.append('t', 0, makeBatch());
    const closing = r.writer.closePartition('t', 0);
    await assert.rejects(buffered, isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    r.store.releasePuts();
    await closing;
    // Closed before its commit: never committed, so the produce fails.
    await assert.rejects(inflight, isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    assert.equal(r.meta.segments('t', 0).length, 0);
    await assert.rejects(r.writer.append('t', 0, makeBatch()), isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    // Reopened (say at a new epoch), offsets continue from the high watermark given.
    r.meta.setLease('t', 0, AGENT, EPOCH + 1);
    r.writer.openPartition('t', 0, { leaseEpoch: EPOCH + 1, highWatermark: 0 });
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 0, lastOffset: 2 });
  } finally {
    await r.cleanup();
  }
});

test('drainPartition (graceful handoff): refuses new appends at once, commits and acks what was accepted, then closes', async () => {
  const r = await rig({ flushMs: 60_000, flushBytes: 1 << 30 });
  try {
    r.store.holdPuts();
    const accepted = [r.writer.append('t', 0, makeBatch()), r.writer.append('t', 0, makeBatch())];
    const other = r.writer.append('t', 1, makeBatch());
    const draining = r.writer.drainPartition('t', 0);
    await assert.rejects(r.writer.append('t', 0, makeBatch()), isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    assert.equal(r.writer.isOpen('t', 0), false);
    assert.equal(await settled(draining, 20), false, 'waits for the upload and the commit');
    r.store.releasePuts();
    await draining;
    assert.deepEqual(await Promise.all(accepted), [{ baseOffset: 0, lastOffset: 2 }, { baseOffset: 3, lastOffset: 5 }]);
    assert.equal(r.meta.segments('t', 0).at(-1)!.endOffset, 5);
    await assert.rejects(r.writer.append('t', 0, makeBatch()), isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    // Other partitions are untouched (the urgent cycle took them along).
    assert.deepEqual(await other, { baseOffset: 0, lastOffset: 2 });
    assert.equal(r.writer.isOpen('t', 1), true);
  } finally {
    await r.cleanup();
  }
});

test('close flushes what is buffered, then refuses appends', async () => {
  const r = await rig({ flushMs: 60_000, flushBytes: 1 << 30 });
  const commits: CommitEvent[] = [];
  r.writer.onCommit((e) => commits.push(e));
  try {
    const p = r.writer.append('t', 1, makeBatch({ records: 4 }));
    await r.writer.close();
    assert.deepEqual(await p, { baseOffset: 0, lastOffset: 3 });
    assert.equal(commits.length, 1);
    assert.deepEqual(
      { topic: commits[0].topic, partitionId: commits[0].partitionId, baseOffset: commits[0].baseOffset, highWatermark: commits[0].highWatermark, n: commits[0].batches.length },
      { topic: 't', partitionId: 1, baseOffset: 0, highWatermark: 4, n: 1 },
    );
    await assert.rejects(r.writer.append('t', 1, makeBatch()), isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
  } finally {
    await r.cleanup();
  }
});

test('flushNow starts a cycle at once and waits for it', async () => {
  const r = await rig({ flushMs: 60_000, flushBytes: 1 << 30 });
  try {
    const p = r.writer.append('t', 0, makeBatch());
    await r.writer.flushNow();
    assert.equal(await settled(p, 0), true);
    await r.writer.flushNow(); // nothing buffered: returns
  } finally {
    await r.cleanup();
  }
});

test('bad input is refused without consuming offsets', async () => {
  const r = await rig();
  try {
    const good = makeBatch();
    await assert.rejects(r.writer.append('t', 0, good.subarray(0, good.length - 1)), isKafka(ErrorCode.CORRUPT_MESSAGE));
    await assert.rejects(r.writer.append('t', 0, Buffer.alloc(0)), isKafka(ErrorCode.CORRUPT_MESSAGE));
    const v1 = Buffer.from(good);
    v1[16] = 1; // magic 1
    await assert.rejects(r.writer.append('t', 0, v1), isKafka(ErrorCode.CORRUPT_MESSAGE));
    await assert.rejects(r.writer.append('t', 9, good), isKafka(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    assert.equal(r.writer.logEndOffset('t', 0), 0);
    // Several batches in one buffer get consecutive offsets.
    const two = Buffer.concat([makeBatch({ records: 2 }), makeBatch({ records: 3 })]);
    assert.deepEqual(await r.writer.append('t', 0, two), { baseOffset: 0, lastOffset: 4 });
  } finally {
    await r.cleanup();
  }
});

test('cycles upload in parallel but settle in order; a failed cycle fails the later one\'s data for the same partition', async () => {
  const r = await rig({ flushMs: 1, maxInflightCycles: 2 });
  const order: string[] = [];
  try {
    r.store.holdEachPut = true;
    const a = r.writer.append('t', 0, makeBatch()).then((x) => (order.push('a'), x));
    void r.writer.flushNow(); // start the cycle now, whatever the timer
    await new Promise((res) => setTimeout(res, 10));
    const b = r.writer.append('t', 0, makeBatch()).then((x) => (order.push('b'), x));
    const c = r.writer.append('t', 1, makeBatch()).then((x) => (order.push('c'), x));
    void r.writer.flushNow(); // start the cycle now, whatever the timer
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(r.store.heldPuts.length, 2, 'the second cycle uploads while the first is still uploading');
    // The second upload finishes first; nothing is acked before the first cycle settles.
    r.store.heldPuts[1]();
    assert.equal(await settled(b, 20), false);
    assert.equal(await settled(c, 0), false);
    r.store.heldPuts[0]();
    assert.deepEqual(await Promise.all([a, b, c]), [
      { baseOffset: 0, lastOffset: 2 },
      { baseOffset: 3, lastOffset: 5 },
      { baseOffset: 0, lastOffset: 2 },
    ]);
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(r.store.count('put'), 2);

    // Now the first of two in-flight cycles fails: partition 0's data in the second is stale.
    r.store.heldPuts.length = 0;
    const d = r.writer.append('t', 0, makeBatch());
    void r.writer.flushNow(); // start the cycle now, whatever the timer
    await new Promise((res) => setTimeout(res, 10));
    const e = r.writer.append('t', 0, makeBatch());
    const f = r.writer.append('t', 1, makeBatch());
    void r.writer.flushNow(); // start the cycle now, whatever the timer
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(r.store.heldPuts.length, 2);
    r.store.failPuts = 1;
    r.store.heldPuts[0]();
    r.store.heldPuts[1]();
    await assert.rejects(d, isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    await assert.rejects(e, isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    assert.deepEqual(await f, { baseOffset: 3, lastOffset: 5 });
    assert.equal(r.writer.highWatermark('t', 0), 6);
    assert.equal(r.writer.logEndOffset('t', 0), 6);
    r.store.holdEachPut = false;
    for (const release of r.store.heldPuts.splice(0)) release();
    assert.deepEqual(await r.writer.append('t', 0, makeBatch()), { baseOffset: 6, lastOffset: 8 });
    assert.deepEqual(r.meta.segments('t', 0).map((s) => [s.baseOffset, s.endOffset]), [[0, 2], [3, 5], [6, 8]]);
  } finally {
    await r.cleanup();
  }
});

test('idempotent producers: a resent batch gets its original offsets, also while still in flight; a failed flush forgets it', async () => {
  const { buildRecordBatchSync } = await import('../../protocol/record-batch.js');
  const idem = (baseSequence: number, records = 2) =>
    buildRecordBatchSync({ producerId: 12, producerEpoch: 0, baseSequence, records: Array.from({ length: records }, (_, i) => ({ value: `s${baseSequence + i}`, timestamp: 1 })) });
  const r = await rig();
  try {
    assert.deepEqual(await r.writer.append('t', 0, idem(0)), { baseOffset: 0, lastOffset: 1 });
    // Resent while the original is still uploading: answered with the original's offsets once it commits.
    r.store.holdPuts();
    const first = r.writer.append('t', 0, idem(2));
    const resent = r.writer.append('t', 0, idem(2));
    assert.equal(await settled(resent, 20), false, 'the duplicate waits for the original');
    r.store.releasePuts();
    assert.deepEqual(await Promise.all([first, resent]), [{ baseOffset: 2, lastOffset: 3 }, { baseOffset: 2, lastOffset: 3 }]);
    assert.deepEqual(await r.writer.append('t', 0, idem(0)), { baseOffset: 0, lastOffset: 1 }, 'older committed batch resent');
    await assert.rejects(r.writer.append('t', 0, idem(9)), isKafka(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER));
    // A failed flush: the batch is forgotten with its offsets, so the producer's retry is written.
    r.store.failPuts = 1;
    await assert.rejects(r.writer.append('t', 0, idem(4)), isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    assert.deepEqual(await r.writer.append('t', 0, idem(4)), { baseOffset: 4, lastOffset: 5 });
    assert.equal(r.writer.highWatermark('t', 0), 6);
    const stored = r.meta.segments('t', 0).reduce((n, s) => n + s.recordCount, 0);
    assert.equal(stored, 6, 'every record once');
  } finally {
    await r.cleanup();
  }
});

test('onCycle: one event per settled flush cycle, with its partitions and object size; a failed upload is ok: false', async () => {
  const r = await rig({ flushMs: 60_000, flushBytes: 1 << 30 });
  const cycles: CycleEvent[] = [];
  r.writer.onCycle((e) => cycles.push(e));
  try {
    const a = r.writer.append('t', 0, makeBatch({ records: 2 }));
    const b = r.writer.append('t', 1, makeBatch({ records: 3 }));
    await r.writer.flushNow();
    await Promise.all([a, b]);
    assert.equal(cycles.length, 1);
    assert.equal(cycles[0].ok, true);
    assert.equal(cycles[0].partitions, 2);
    assert.ok(cycles[0].objectBytes > 0);
    assert.ok(cycles[0].durationMs >= 0);

    r.store.failPuts = 1;
    const c = r.writer.append('t', 0, makeBatch());
    await r.writer.flushNow();
    await assert.rejects(c);
    assert.equal(cycles.length, 2);
    assert.equal(cycles[1].ok, false);
  } finally {
    await r.cleanup();
  }
});
