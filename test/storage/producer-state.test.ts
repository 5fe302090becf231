// The idempotent-producer rules on their own: duplicates, sequence gaps, epochs, wrap-around, rewind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { scanProducedBatches } from '../../storage/batch.js';
import { ProducerStateTable, PRODUCER_BATCH_WINDOW, addSequence, type SequenceCheck } from '../../storage/producer-state.js';

function batch(producerId: number, producerEpoch: number, baseSequence: number, records = 3): Buffer {
  return buildRecordBatchSync({ producerId, producerEpoch, baseSequence, records: Array.from({ length: records }, (_, i) => ({ value: `v${i}`, timestamp: 1 })) });
}

/** Checks, then (when accepted) records the batch at the next offsets, like the writer does. */
function appendTo(table: ProducerStateTable, log: { next: number }, buf: Buffer, now = 0): SequenceCheck {
  const infos = scanProducedBatches(buf);
  const r = table.check(buf, infos);
  if (r.kind === 'append') {
    for (const info of infos) {
      info.baseOffset = log.next;
      info.lastOffset = log.next + info.offsetCount - 1;
      log.next += info.offsetCount;
    }
    table.record(r, Promise.resolve(), now);
  }
  return r;
}

const refusedWith = (r: SequenceCheck, code: number) => {
  assert.equal(r.kind, 'refused');
  if (r.kind === 'refused') {
    assert.ok(r.error instanceof KafkaError);
    assert.equal(r.error.code, code, r.error.message);
  }
};

test('in-sequence batches are appended; a resent one is a duplicate carrying its original offsets', () => {
  const t = new ProducerStateTable();
  const log = { next: 100 };
  assert.equal(appendTo(t, log, batch(7, 0, 0)).kind, 'append');
  assert.equal(appendTo(t, log, batch(7, 0, 3)).kind, 'append');
  assert.equal(appendTo(t, log, batch(8, 0, 0, 2)).kind, 'append'); // another producer: its own sequence
  const dup = appendTo(t, log, batch(7, 0, 0));
  assert.equal(dup.kind, 'duplicate');
  if (dup.kind === 'duplicate') assert.deepEqual([dup.of.baseOffset, dup.of.lastOffset], [100, 102]);
  const dup2 = appendTo(t, log, batch(7, 0, 3));
  if (dup2.kind !== 'duplicate') assert.fail('second batch resent: duplicate expected');
  assert.deepEqual([dup2.of.baseOffset, dup2.of.lastOffset], [103, 105]);
  assert.equal(log.next, 108, 'duplicates take no offsets');
});

test('gaps and overlaps are OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  appendTo(t, log, batch(1, 2, 0));
  refusedWith(appendTo(t, log, batch(1, 2, 4)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER); // skips 3
  refusedWith(appendTo(t, log, batch(1, 2, 2)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER); // overlaps, not a known batch
  refusedWith(appendTo(t, log, batch(1, 1, 3)), ErrorCode.INVALID_PRODUCER_EPOCH);
  refusedWith(appendTo(t, log, batch(1, 3, 3)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER); // new epoch starts at 0
  assert.equal(appendTo(t, log, batch(1, 3, 0)).kind, 'append');
  refusedWith(appendTo(t, log, batch(1, 2, 3)), ErrorCode.INVALID_PRODUCER_EPOCH); // fenced now
  assert.equal(log.next, 6);
});

test('an unknown producer is accepted at any sequence; non-idempotent batches are not tracked', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  assert.equal(appendTo(t, log, batch(5, 0, 42)).kind, 'append');
  assert.equal(appendTo(t, log, batch(5, 0, 45)).kind, 'append');
  assert.equal(appendTo(t, log, batch(-1, -1, -1)).kind, 'append');
  assert.equal(appendTo(t, log, batch(-1, -1, -1)).kind, 'append');
  assert.equal(t.size, 1);
});

test('only the last five batches are remembered: an older resend is out of order', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  for (let i = 0; i < PRODUCER_BATCH_WINDOW + 1; i++) appendTo(t, log, batch(9, 0, i * 3));
  assert.equal(t.batchesOf(9).length, PRODUCER_BATCH_WINDOW);
  refusedWith(appendTo(t, log, batch(9, 0, 0)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal(appendTo(t, log, batch(9, 0, 3)).kind, 'duplicate');
});

test('sequences wrap from 2^31 - 1 to 0', () => {
  assert.equal(addSequence(0x7fffffff, 1), 0);
  assert.equal(addSequence(0x7ffffffe, 3), 1);
  const t = new ProducerStateTable();
  const log = { next: 0 };
  appendTo(t, log, batch(3, 0, 0x7ffffffe, 2)); // sequences 2^31-2 and 2^31-1
  assert.equal(appendTo(t, log, batch(3, 0, 0)).kind, 'append');
});

test('rewind forgets the batches at or after the new log end; a retry is then appended again', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  appendTo(t, log, batch(4, 0, 0)); // offsets 0-2, committed
  appendTo(t, log, batch(4, 0, 3)); // offsets 3-5, its flush fails
  appendTo(t, log, batch(6, 0, 0)); // offsets 6-8, same flush
  t.rewind(3);
  log.next = 3;
  assert.deepEqual(t.batchesOf(4).map((b) => b.firstSeq), [0]);
  assert.equal(t.batchesOf(6).length, 0);
  const retry = appendTo(t, log, batch(4, 0, 3));
  assert.equal(retry.kind, 'append', 'the retried batch is written, not taken for a duplicate');
  assert.equal(appendTo(t, log, batch(4, 0, 0)).kind, 'duplicate');
});

test('restore rebuilds the last five batches per producer from committed batches, in any order', () => {
  const t = new ProducerStateTable();
  const committed = Array.from({ length: 7 }, (_, i) => {
    const b = batch(11, 2, i * 3);
    b.writeBigInt64BE(BigInt(100 + i * 3), 0); // the offsets the log gave them
    return b;
  });
  for (const b of [...committed].reverse()) t.restore(b, 0);
  t.restore(committed[6]!, 0); // read twice: kept once
  t.restore(batch(-1, -1, -1), 0);
  assert.deepEqual(t.batchesOf(11).map((b) => [b.firstSeq, b.baseOffset, b.lastOffset]), [[6, 106, 108], [9, 109, 111], [12, 112, 114], [15, 115, 117], [18, 118, 120]]);
  const log = { next: 121 };
  const dup = appendTo(t, log, batch(11, 2, 18));
  assert.ok(dup.kind === 'duplicate' && dup.of.baseOffset === 118);
  refusedWith(appendTo(t, log, batch(11, 2, 22)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal(appendTo(t, log, batch(11, 2, 21)).kind, 'append');
});

test('producers idle longer than the expiration are forgotten; active ones are kept', () => {
  const t = new ProducerStateTable(1000);
  const log = { next: 0 };
  appendTo(t, log, batch(1, 0, 0), 0);
  appendTo(t, log, batch(2, 0, 0), 0);
  appendTo(t, log, batch(2, 0, 3), 900); // producer 2 stays active
  appendTo(t, log, batch(3, 0, 0), 1500); // the sweep runs: producer 1 has been idle 1500 ms
  assert.deepEqual([t.batchesOf(1).length, t.batchesOf(2).length, t.batchesOf(3).length], [0, 2, 1]);
  assert.equal(t.size, 2);
  // Forgotten means unknown: its next batch is accepted at any sequence, as in Kafka.
  assert.equal(appendTo(t, log, batch(1, 0, 77), 1600).kind, 'append');
});

test('batches found committed after their appends failed answer a retry with their offsets', async () => {
  const t = new ProducerStateTable();
  const timedOut = Promise.reject(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'outcome unknown'));
  timedOut.catch(() => undefined);
  const record = (buf: Buffer, baseOffset: number, written: Promise<unknown>) => {
    const infos = scanProducedBatches(buf);
    const r = t.check(buf, infos);
    assert.equal(r.kind, 'append');
    infos[0]!.baseOffset = baseOffset;
    infos[0]!.lastOffset = baseOffset + infos[0]!.offsetCount - 1;
    if (r.kind === 'append') t.record(r, written, 0);
  };
  record(batch(2, 0, 0), 0, Promise.resolve()); // offsets 0-2
  record(batch(2, 0, 3), 3, timedOut); // offsets 3-5: answered REQUEST_TIMED_OUT, later found committed
  record(batch(2, 0, 6), 6, timedOut); // offsets 6-8: not in that commit
  t.committed(3, 5);
  const dup = t.check(batch(2, 0, 3), scanProducedBatches(batch(2, 0, 3)));
  if (dup.kind !== 'duplicate') assert.fail('the retry is a duplicate');
  assert.deepEqual([dup.of.baseOffset, dup.of.lastOffset], [3, 5]);
  await dup.of.written; // resolves: the retry is answered with those offsets
  const other = t.check(batch(2, 0, 6), scanProducedBatches(batch(2, 0, 6)));
  if (other.kind !== 'duplicate') assert.fail('the later batch is still remembered');
  await assert.rejects(other.of.written, (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.REQUEST_TIMED_OUT);
});

test('a snapshot as of a high watermark carries the batches below it to a fresh table: duplicates, gaps and epochs judged as before', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  for (let i = 0; i < 7; i++) appendTo(t, log, batch(7, 2, 3 * i)); // offsets 0..20, sequences 0..20
  appendTo(t, log, batch(8, 0, 0)); // offsets 21..23
  appendTo(t, log, batch(9, 0, 0)); // offsets 24..26: not committed yet (high watermark 24)
  const copy = new ProducerStateTable();
  copy.restoreSnapshot(t.snapshot(24), 0);
  assert.equal(copy.batchesOf(7).length, PRODUCER_BATCH_WINDOW);
  assert.deepEqual(copy.batchesOf(7).map((b) => [b.baseOffset, b.firstSeq]), t.batchesOf(7).map((b) => [b.baseOffset, b.firstSeq]));
  assert.equal(copy.batchesOf(9).length, 0, 'a batch at or above the high watermark is not in the snapshot');
  const next = { next: 24 };
  const dup = appendTo(copy, next, batch(7, 2, 18));
  assert.equal(dup.kind, 'duplicate');
  assert.equal(dup.kind === 'duplicate' && dup.of.baseOffset, 18);
  refusedWith(appendTo(copy, next, batch(7, 2, 30)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  refusedWith(appendTo(copy, next, batch(7, 1, 21)), ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal(appendTo(copy, next, batch(7, 2, 21)).kind, 'append');
  assert.equal(appendTo(copy, next, batch(8, 0, 3)).kind, 'append');
  // Empty, truncated or foreign snapshots: refused whole, nothing changed.
  const empty = new ProducerStateTable();
  empty.restoreSnapshot(new ProducerStateTable().snapshot(0), 0);
  assert.equal(empty.size, 0);
  const s = t.snapshot(24);
  assert.throws(() => empty.restoreSnapshot(s.subarray(0, s.length - 1), 0), /length/);
  assert.throws(() => empty.restoreSnapshot(Buffer.from([9, 0, 0, 0, 0]), 0), /format/);
  assert.equal(empty.size, 0);
});
