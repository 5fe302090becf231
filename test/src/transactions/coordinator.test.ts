// The transaction coordinator's state machine with an in-memory store, shards and marker writer:
// Kafka's errors for each state, the decision stored before any marker, markers retried until written,
// zombies fenced by InitProducerId (KIP-360 included), timeouts aborting with a bumped epoch, and a
// decided transaction completed by the sweep of whoever owns its shard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, type ErrorCodeValue } from '../../../protocol/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { TransactionCoordinator } from '../../../src/transactions/coordinator.js';
import type { MarkerResult, MarkerTarget, MarkerWriter } from '../../../src/transactions/markers.js';
import type { TxnRecord, TxnStore } from '../../../src/transactions/store.js';

class FakeStore {
  rows = new Map<string, TxnRecord>();
  offsetsMoved: Array<{ id: string; action: string }> = [];
  now = 1_000;
  saves: TxnRecord[] = [];
  async get(id: string) {
    const r = this.rows.get(id);
    return r && structuredClone(r);
  }
  async save(t: Omit<TxnRecord, 'updatedAt'>, _fence: unknown, offsets: string) {
    const startedAt = t.startedAt === -2 ? this.now : t.startedAt;
    const row = { ...structuredClone(t), startedAt, updatedAt: this.now } as TxnRecord;
    this.rows.set(t.transactionalId, row);
    this.saves.push(structuredClone(row));
    if (offsets !== 'keep') this.offsetsMoved.push({ id: t.transactionalId, action: offsets });
    return { startedAt, updatedAt: this.now };
  }
  async listOpen() {
    return { txns: [...this.rows.values()].filter((r) => ['Ongoing', 'PrepareCommit', 'PrepareAbort'].includes(r.state)).map((r) => structuredClone(r)), dbNow: this.now };
  }
  async list() {
    return [...this.rows.values()];
  }
  async addOffsets() {
    return true;
  }
  async pendingOffsets() {
    return [];
  }
}

class FakeMarkers implements MarkerWriter {
  calls: Array<{ targets: MarkerTarget[]; producerId: number; epoch: number; commit: boolean }> = [];
  failuresLeft = 0;
  async write(targets: MarkerTarget[], producerId: number, epoch: number, commit: boolean): Promise<MarkerResult[]> {
    this.calls.push({ targets, producerId, epoch, commit });
    const code: ErrorCodeValue = this.failuresLeft > 0 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE;
    if (this.failuresLeft > 0) this.failuresLeft--;
    return targets.map((t) => ({ ...t, errorCode: code }));
  }
  close() {}
}

function setup() {
  const store = new FakeStore();
  const markers = new FakeMarkers();
  let nextId = 100;
  const coordinator = new TransactionCoordinator({
    agentId: 'a',
    store: store as unknown as TxnStore,
    shards: { check: async () => ({ ok: true, shard: 0, epoch: 7 }), owned: () => [{ shard: 0, epoch: 7 }], epochOf: () => 7, fenced: () => {}, shardOf: () => 0 },
    markers,
    allocateProducerId: async () => nextId++,
    topicPartitionCount: async (topic) => (topic === 'gone' ? undefined : 3),
    log: silentLogger(),
  });
  return { store, markers, coordinator };
}

test('a transaction: init, add, commit; markers carry the producer id and epoch; offsets move with the decision', async () => {
  const { store, markers, coordinator } = setup();
  const init = await coordinator.initProducerId('t1', 60_000, -1, -1);
  assert.deepEqual(init, { errorCode: ErrorCode.NONE, producerId: 100, producerEpoch: 0 });
  assert.deepEqual(await coordinator.addPartitions('t1', 100, 0, [['a', 0], ['a', 1]], false), [ErrorCode.NONE, ErrorCode.NONE]);
  assert.equal(await coordinator.addOffsets('t1', 100, 0, 'g'), ErrorCode.NONE);
  assert.equal(store.rows.get('t1')!.state, 'Ongoing');
  assert.equal(await coordinator.endTxn('t1', 100, 0, true), ErrorCode.NONE);
  // The decision (with the offsets' fate) was stored before the markers, then completed.
  assert.deepEqual(store.saves.map((s) => s.state), ['Empty', 'Ongoing', 'Ongoing', 'PrepareCommit', 'CompleteCommit']);
  assert.deepEqual(store.offsetsMoved, [{ id: 't1', action: 'commit' }]);
  assert.deepEqual(markers.calls, [{ targets: [{ topic: 'a', partitionId: 0 }, { topic: 'a', partitionId: 1 }], producerId: 100, epoch: 0, commit: true }]);
  // A retried EndTxn is answered as the first; the opposite decision is refused.
  assert.equal(await coordinator.endTxn('t1', 100, 0, true), ErrorCode.NONE);
  assert.equal(await coordinator.endTxn('t1', 100, 0, false), ErrorCode.INVALID_TXN_STATE);
});

test('Kafka errors: unknown producer id, fenced epoch, unknown partitions, EndTxn with nothing open, bad timeout', async () => {
  const { coordinator } = setup();
  assert.equal((await coordinator.initProducerId('t', 0, -1, -1)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  assert.equal((await coordinator.initProducerId('t', 900_001, -1, -1)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  await coordinator.initProducerId('t', 60_000, -1, -1);
  assert.deepEqual(await coordinator.addPartitions('t', 999, 0, [['a', 0]], false), [ErrorCode.INVALID_PRODUCER_ID_MAPPING]);
  assert.deepEqual(await coordinator.addPartitions('t', 100, 3, [['a', 0]], false), [ErrorCode.PRODUCER_FENCED]);
  assert.deepEqual(await coordinator.addPartitions('t', 100, 0, [['a', 0], ['gone', 0], ['a', 5]], false), [
    ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ]);
  assert.equal(await coordinator.endTxn('t', 100, 0, true), ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(await coordinator.addPartitions('t', 100, 0, [['a', 0]], true), [ErrorCode.INVALID_TXN_STATE], 'verify-only: not in the transaction');
  await coordinator.addPartitions('t', 100, 0, [['a', 0]], false);
  assert.deepEqual(await coordinator.addPartitions('t', 100, 0, [['a', 0], ['a', 1]], true), [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE]);
});

test('InitProducerId fences the previous instance: its open transaction is aborted with a bumped epoch', async () => {
  const { store, markers, coordinator } = setup();
  await coordinator.initProducerId('t', 60_000, -1, -1);
  await coordinator.addPartitions('t', 100, 0, [['a', 2]], false);
  const next = await coordinator.initProducerId('t', 60_000, -1, -1);
  assert.deepEqual(next, { errorCode: ErrorCode.NONE, producerId: 100, producerEpoch: 2 });
  assert.deepEqual(markers.calls, [{ targets: [{ topic: 'a', partitionId: 2 }], producerId: 100, epoch: 1, commit: false }]);
  assert.equal(store.rows.get('t')!.state, 'Empty');
  // The zombie (epoch 0) is fenced everywhere.
  assert.deepEqual(await coordinator.addPartitions('t', 100, 0, [['a', 0]], false), [ErrorCode.PRODUCER_FENCED]);
  assert.equal(await coordinator.endTxn('t', 100, 0, true), ErrorCode.PRODUCER_FENCED);
  // KIP-360: the current instance may bump its own epoch; an old one may not.
  assert.deepEqual(await coordinator.initProducerId('t', 60_000, 100, 2), { errorCode: ErrorCode.NONE, producerId: 100, producerEpoch: 3 });
  assert.equal((await coordinator.initProducerId('t', 60_000, 100, 1)).errorCode, ErrorCode.PRODUCER_FENCED);
  // A retry of the bump whose answer was lost gets the same epoch again.
  assert.deepEqual(await coordinator.initProducerId('t', 60_000, 100, 2), { errorCode: ErrorCode.NONE, producerId: 100, producerEpoch: 3 });
});

test('markers are retried until written; meanwhile the transaction is busy (CONCURRENT_TRANSACTIONS)', async () => {
  const { store, markers, coordinator } = setup();
  await coordinator.initProducerId('t', 60_000, -1, -1);
  await coordinator.addPartitions('t', 100, 0, [['a', 0]], false);
  markers.failuresLeft = 3;
  assert.equal(await coordinator.endTxn('t', 100, 0, false), ErrorCode.NONE);
  assert.equal(markers.calls.length, 4);
  assert.equal(store.rows.get('t')!.state, 'CompleteAbort');
  assert.deepEqual(store.offsetsMoved, [{ id: 't', action: 'abort' }]);
});

test('the sweep aborts timed-out transactions (epoch bumped) and completes decided ones left by a previous owner', async () => {
  const { store, markers, coordinator } = setup();
  await coordinator.initProducerId('slow', 5_000, -1, -1);
  await coordinator.addPartitions('slow', 100, 0, [['a', 0]], false);
  // A transaction decided by the shard's previous owner, markers not written.
  store.rows.set('left', { transactionalId: 'left', shard: 0, producerId: 55, producerEpoch: 4, state: 'PrepareCommit', timeoutMs: 60_000, partitions: [['b', 1]], groups: [], startedAt: 900, updatedAt: 900 });
  store.now += 6_000;
  await (coordinator as unknown as { sweep(): Promise<void> }).sweep();
  for (let i = 0; i < 50 && (store.rows.get('slow')!.state !== 'CompleteAbort' || store.rows.get('left')!.state !== 'CompleteCommit'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(store.rows.get('slow')!.state, 'CompleteAbort');
  assert.equal(store.rows.get('slow')!.producerEpoch, 1);
  assert.equal(store.rows.get('left')!.state, 'CompleteCommit');
  assert.deepEqual(
    markers.calls.map((c) => [c.producerId, c.epoch, c.commit]).sort(),
    [[100, 1, false], [55, 4, true]].sort(),
  );
  assert.equal(await coordinator.endTxn('slow', 100, 0, true), ErrorCode.PRODUCER_FENCED);
});
