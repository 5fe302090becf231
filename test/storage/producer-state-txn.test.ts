// The transactional part of the producer state: open transactions bound the last stable offset, a
// marker closes them and fences older epochs, and all of it survives a snapshot (format v2) and a
// read-back of the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/errors.js';
import { buildControlBatch, buildRecordBatchSync } from '../../protocol/record-batch.js';
import { scanProducedBatches } from '../../storage/batch.js';
import { ProducerStateTable, type SequenceCheck } from '../../storage/producer-state.js';

function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, records = 2): Buffer {
  return buildRecordBatchSync({ producerId, producerEpoch, baseSequence, isTransactional: true, records: Array.from({ length: records }, (_, i) => ({ value: `v${i}`, timestamp: 1 })) });
}

function appendTo(table: ProducerStateTable, log: { next: number }, buf: Buffer): SequenceCheck {
  const infos = scanProducedBatches(buf);
  const r = table.check(buf, infos);
  if (r.kind === 'append') {
    for (const info of infos) {
      info.baseOffset = log.next;
      info.lastOffset = log.next + info.offsetCount - 1;
      buf.writeBigInt64BE(BigInt(log.next), info.position);
      log.next += info.offsetCount;
    }
    table.record(r, Promise.resolve(), 0);
  }
  return r;
}

test('an open transaction bounds the LSO until its marker; the marker fences older epochs', () => {
  const t = new ProducerStateTable();
  const log = { next: 10 };
  assert.equal(t.firstUnstableOffset(), undefined);
  assert.equal(appendTo(t, log, txnBatch(5, 0, 0)).kind, 'append');
  assert.equal(appendTo(t, log, txnBatch(6, 3, 0)).kind, 'append');
  assert.equal(appendTo(t, log, txnBatch(5, 0, 2)).kind, 'append');
  assert.equal(t.openTransaction(5), 10);
  assert.equal(t.openTransaction(6), 12);
  assert.equal(t.firstUnstableOffset(), 10);
  // The coordinator aborted producer 5's transaction with a bumped epoch.
  assert.equal(appendTo(t, log, buildControlBatch('abort', { producerId: 5, producerEpoch: 1, coordinatorEpoch: 0 })).kind, 'append');
  assert.equal(t.openTransaction(5), undefined);
  assert.equal(t.firstUnstableOffset(), 12);
  const zombie = appendTo(t, log, txnBatch(5, 0, 4));
  assert.equal(zombie.kind, 'refused');
  if (zombie.kind === 'refused') assert.equal(zombie.error.code, ErrorCode.INVALID_PRODUCER_EPOCH);
  // A stale marker is refused too.
  assert.equal(appendTo(t, log, buildControlBatch('commit', { producerId: 6, producerEpoch: 2, coordinatorEpoch: 0 })).kind, 'refused');
  assert.equal(appendTo(t, log, buildControlBatch('commit', { producerId: 6, producerEpoch: 3, coordinatorEpoch: 0 })).kind, 'append');
  assert.equal(t.firstUnstableOffset(), undefined);
  // The same producer's next transaction (same epoch) opens again.
  assert.equal(appendTo(t, log, txnBatch(6, 3, 2)).kind, 'append');
  assert.equal(t.openTransaction(6), log.next - 2);
});

test('snapshots (v2) and read-backs keep open transactions and marker epochs; v1 snapshots still load', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  const written: Buffer[] = [];
  const add = (b: Buffer) => {
    assert.equal(appendTo(t, log, b).kind, 'append');
    written.push(b);
  };
  add(txnBatch(1, 0, 0));
  add(txnBatch(2, 0, 0));
  add(buildControlBatch('abort', { producerId: 1, producerEpoch: 1, coordinatorEpoch: 0 }));
  add(txnBatch(3, 0, 0));
  const snap = t.snapshot(log.next);
  assert.equal(snap.readUInt8(0), 2);

  const restored = new ProducerStateTable();
  restored.restoreSnapshot(snap, 0);
  assert.deepEqual(restored.openTransactions().sort((a, b) => a.producerId - b.producerId), [{ producerId: 2, firstOffset: 2 }, { producerId: 3, firstOffset: 5 }]);
  assert.equal(restored.firstUnstableOffset(), 2);
  const zombie = restored.check(txnBatch(1, 0, 2), scanProducedBatches(txnBatch(1, 0, 2)));
  assert.equal(zombie.kind, 'refused');

  const readBack = new ProducerStateTable();
  for (const b of written) readBack.restore(b, 0);
  assert.deepEqual(readBack.openTransactions().sort((a, b) => a.producerId - b.producerId), [{ producerId: 2, firstOffset: 2 }, { producerId: 3, firstOffset: 5 }]);

  // A version 1 snapshot (batches only) is still read.
  const v1 = Buffer.from(snap.subarray(0, 5 + snap.readUInt32BE(1) * 34));
  v1.writeUInt8(1, 0);
  const old = new ProducerStateTable();
  old.restoreSnapshot(v1, 0);
  assert.equal(old.firstUnstableOffset(), undefined);
  assert.throws(() => old.restoreSnapshot(Buffer.concat([snap, Buffer.alloc(1)]), 0), /wrong length/);
});

test('a rewind drops transactions whose first batch was rewound', () => {
  const t = new ProducerStateTable();
  const log = { next: 0 };
  appendTo(t, log, txnBatch(1, 0, 0));
  appendTo(t, log, txnBatch(2, 0, 0));
  t.rewind(2);
  assert.equal(t.openTransaction(2), undefined);
  assert.equal(t.openTransaction(1), 0);
});
