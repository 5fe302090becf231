// Log compaction over PGlite and a local object store: the newest record per key stays at its offset,
// superseded records go, tombstones get a delete horizon (KIP-534) and go on a pass after it, offsets
// keep their gaps, untouched batches stay byte for byte, the newest row (the active segment) is never
// cleaned, min.compaction.lag.ms / min.cleanable.dirty.ratio hold cleaning back; transactions as
// Kafka's cleaner (aborted data goes, committed data is compacted, markers go once alone and past
// their horizon, open transactions are not cleaned past, a producer's last batch stays); the cleaner
// checkpoint decides from row sizes without reading objects, survives a lease handoff and retention.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import { SqlStorageMetadata } from '../../metadata/storage-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { buildControlBatch, buildRecordBatch, readBatchHeader, readBatchRecords, CompressionType, type CompressionTypeValue, type RecordInput } from '../../protocol/record-batch.js';
import type { ObjectStore } from '../../storage/types.js';
import type { SegmentRecord } from '../../metadata/types.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { encodeSegmentObject } from '../../storage/segment-format.js';
import { Compactor, type CompactionPolicy, type LeaderProducerState } from '../../storage/compaction/compactor.js';
import type { AbortedTxnEntry } from '../../storage/compaction/transactions.js';
import { TxnStore } from '../../src/transactions/store.js';

const NOW = Date.now();
const POLICY: CompactionPolicy = { deleteRetentionMs: 60_000, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER, minCleanableDirtyRatio: 0, segmentMs: 0, segmentBytes: 1 << 30 };

describe('log compaction (PGlite)', () => {
  let store: MetadataStore;
  let reg: SqlStorageMetadata;
  let dataDir: string;
  let dir: string;
  let objects: LocalObjectStore;
  let n = 0;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'streamhouse-compact-pglite-'));
    store = await openMetadataStore({ dataDir });
    reg = new SqlStorageMetadata((store as SqlMetadataStore).driver);
    dir = await mkdtemp(join(tmpdir(), 'streamhouse-compact-objects-'));
    objects = new LocalObjectStore({ kind: 'local', dir, fsync: false });
  });
  after(async () => {
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  /** One row (its own object) holding the given batches, offsets as given. */
  async function row(topic: string, batches: Buffer[], createdAt = NOW) {
    const infos = batches.map((b) => {
      const h = readBatchHeader(b);
      return { buf: b, baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, recordsCount: h.recordsCount };
    });
    const enc = await encodeSegmentObject([{ topic, partitionId: 0, batches: infos }], { createdAt });
    const key = `segments/test/${String(n++).padStart(6, '0')}.seg`;
    await reg.registerObject({ key, bucket: objects.bucket, sizeBytes: enc.size, agentId: 'agent-c' });
    await objects.put(key, enc.parts);
    const c = enc.chunks[0]!;
    await store.addSegment({ topic, partitionId: 0, baseOffset: c.baseOffset, endOffset: c.lastOffset, recordCount: c.recordCount, sizeBytes: c.sizeBytes, s3Bucket: objects.bucket, s3Key: key, bytePosition: c.position, byteLength: c.length, maxTimestamp: c.maxTimestamp });
    await store.updateHighWatermark(topic, 0, c.lastOffset + 1);
  }

  const batch = (baseOffset: number, records: RecordInput[], compression: CompressionTypeValue = CompressionType.none) =>
    buildRecordBatch({ baseOffset, partitionLeaderEpoch: 1, records, compression });

  async function readAll(topic: string) {
    const hw = (await store.getPartition(topic, 0))!.highWatermark;
    const reader = new SegmentReader({ objectStore: objects, metadata: store, tailCacheBytes: 0 });
    const batches = await reader.read(topic, 0, 0, 1 << 24, hw);
    const records: Array<{ offset: number; key: string; value: string | null; timestamp: number }> = [];
    const markers: number[] = [];
    for (const b of batches) {
      const h = readBatchHeader(b);
      if (h.isControl) {
        markers.push(h.baseOffset);
        continue;
      }
      for (const r of await readBatchRecords(b)) records.push({ offset: r.offset, key: r.key!.toString(), value: r.value === null ? null : r.value.toString(), timestamp: r.timestamp });
    }
    return { batches, records, markers, offsets: records.map((r) => [r.offset, r.key, r.value]) };
  }

  /** The object store with its ranged GETs counted. */
  function counting(): ObjectStore & { gets: number } {
    const c = Object.assign(Object.create(objects) as ObjectStore, { gets: 0 });
    c.get = (key, range) => {
      c.gets++;
      return objects.get(key, range);
    };
    return c;
  }

  interface Opts {
    policy?: CompactionPolicy;
    now?: () => number;
    agentId?: string;
    epoch?: number;
    store?: ObjectStore;
    producers?: LeaderProducerState;
    aborted?: AbortedTxnEntry[] | 'store';
    maxKeys?: number;
  }
  function compactor(topic: string, o: Opts | CompactionPolicy = {}) {
    const opts: Opts = 'deleteRetentionMs' in o ? { policy: o } : o;
    return new Compactor({
      objectStore: opts.store ?? objects,
      metadata: store,
      storage: reg,
      agentId: opts.agentId ?? 'agent-c',
      leading: () => [{ topic, partitionId: 0, epoch: opts.epoch ?? 1 }],
      stillLeading: () => true,
      policy: async () => opts.policy ?? POLICY,
      producerState: opts.producers && (async () => opts.producers),
      abortedTransactions: async (t, p, from) =>
        opts.aborted === 'store' ? new TxnStore((store as SqlMetadataStore).driver).loadAborted(t, p, from) : (opts.aborted ?? []).filter((e) => e.lastOffset === null || e.lastOffset >= from),
      maxKeys: opts.maxKeys,
      clock: { now: opts.now ?? (() => NOW) },
    });
  }

  const txnBatch = (baseOffset: number, producerId: number, baseSequence: number, records: RecordInput[]) =>
    buildRecordBatch({ baseOffset, partitionLeaderEpoch: 1, producerId, producerEpoch: 0, baseSequence, isTransactional: true, records });
  const marker = (type: 'commit' | 'abort', producerId: number, baseOffset: number) =>
    buildControlBatch(type, { producerId, producerEpoch: 0, coordinatorEpoch: 1, baseOffset, timestamp: NOW - 3_600_000 });

  test('newest value per key at its offset; a tombstone gets a delete horizon, then goes after it; markers and untouched batches stay; record timestamps unchanged', async () => {
    const topic = 'compacted-1';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    const old = NOW - 3_600_000;
    const b0 = await batch(0, [{ key: 'a', value: 'a1', timestamp: old }, { key: 'b', value: 'b1', timestamp: old }, { key: 'c', value: 'c1', timestamp: old }]);
    const mk = buildControlBatch('commit', { producerId: 9, producerEpoch: 0, coordinatorEpoch: 1, baseOffset: 3, timestamp: old });
    const b1 = await batch(4, [{ key: 'a', value: 'a2', timestamp: old }, { key: 'b', value: null, timestamp: old + 7 }], CompressionType.lz4);
    const b2 = await batch(6, [{ key: 'c', value: 'c2', timestamp: NOW }, { key: 'd', value: null, timestamp: NOW - 5 }]);
    const untouched = await batch(8, [{ key: 'e', value: 'e1', timestamp: NOW }]);
    const active = await batch(9, [{ key: 'a', value: 'a3', timestamp: NOW }]);
    await row(topic, [b0, mk]);
    await row(topic, [b1]);
    await row(topic, [b2, untouched]);
    await row(topic, [active]);
    const keep = { untouched: Buffer.from(untouched), active: Buffer.from(active) };

    let now = NOW;
    const c = compactor(topic, { now: () => now });
    assert.equal(await c.runOnce(), 1);
    let r = await readAll(topic);
    assert.deepEqual(r.offsets, [
      [4, 'a', 'a2'], // a3 lives in the active row, so a2 is still the newest cleanable
      [5, 'b', null], // tombstones stay until a pass after their delete horizon
      [6, 'c', 'c2'],
      [7, 'd', null],
      [8, 'e', 'e1'],
      [9, 'a', 'a3'],
    ]);
    assert.deepEqual(r.markers, [3], 'a marker of a transaction with no batch before it stays until its horizon passed');
    const withTombstone = r.batches.find((b) => readBatchHeader(b).baseOffset === 4)!;
    const h = readBatchHeader(withTombstone);
    assert.ok(h.hasDeleteHorizon, 'the batch holding a tombstone has its delete horizon set');
    assert.equal(h.baseTimestamp, NOW + POLICY.deleteRetentionMs, 'the horizon is cleaning time + delete.retention.ms');
    assert.equal(h.compression, CompressionType.lz4, 'the codec is kept');
    assert.deepEqual(r.records.filter((x) => x.offset <= 7).map((x) => x.timestamp), [old, old + 7, NOW, NOW - 5], 'record timestamps do not change');
    assert.ok(r.batches.some((b) => b.equals(keep.untouched)), 'a batch with nothing removed is kept byte for byte');
    assert.ok(r.batches[r.batches.length - 1]!.equals(keep.active), 'the active row is not cleaned');
    const rows = await store.listSegments(topic, 0);
    assert.equal(rows.length, 2, 'the cleaned rows became one');
    assert.equal(rows[0]!.baseOffset, 0);
    assert.equal(rows[0]!.endOffset, 8, 'offsets keep their place (the empty first batch keeps offset 0..2)');
    assert.deepEqual(await reg.compactionCheckpoint(topic, 0), { firstDirtyOffset: 9, deleteHorizon: NOW + POLICY.deleteRetentionMs });
    assert.equal(await c.runOnce(), 0, 'nothing dirty, horizon not passed: nothing to do');

    now = NOW + POLICY.deleteRetentionMs + 1;
    assert.equal(await c.runOnce(), 1, 'the pending horizon passed: cleaning is due');
    r = await readAll(topic);
    assert.deepEqual(r.offsets, [[4, 'a', 'a2'], [6, 'c', 'c2'], [8, 'e', 'e1'], [9, 'a', 'a3']]);
    assert.deepEqual(r.markers, [], 'the marker with nothing before it went after its horizon');
    assert.equal(c.stats.markersRemoved, 1);
    assert.equal(c.stats.tombstonesRemoved, 2);
    assert.deepEqual(await reg.compactionCheckpoint(topic, 0), { firstDirtyOffset: 9, deleteHorizon: null });
    assert.equal(await c.runOnce(), 0, 'nothing more to clean');
  });

  test('min.compaction.lag.ms, min.cleanable.dirty.ratio (row sizes) and segment.ms hold cleaning back', async () => {
    const topic = 'compacted-2';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    await row(topic, [await batch(0, [{ key: 'a', value: '1', timestamp: NOW }, { key: 'a', value: '2', timestamp: NOW }])]);
    await row(topic, [await batch(2, [{ key: 'b', value: '1', timestamp: NOW }])]);
    await row(topic, [await batch(3, [{ key: 'z', value: '1', timestamp: NOW }])]);
    assert.equal(await compactor(topic, { ...POLICY, minCompactionLagMs: 3_600_000 }).runOnce(), 0, 'records too young');
    assert.equal(await compactor(topic, { ...POLICY, segmentMs: 3_600_000 }).runOnce(), 0, 'not rolled yet (segment.ms)');
    assert.equal(await compactor(topic, { ...POLICY, minCleanableDirtyRatio: 0.3 }).runOnce(), 1, 'never cleaned: everything is dirty');
    assert.deepEqual((await readAll(topic)).offsets, [[1, 'a', '2'], [2, 'b', '1'], [3, 'z', '1']]);
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 3);
    // A small dirty part: below the ratio, decided without reading an object.
    await row(topic, [await batch(4, [{ key: 'a', value: '3', timestamp: NOW }])]);
    const s = counting();
    assert.equal(await compactor(topic, { policy: { ...POLICY, minCleanableDirtyRatio: 0.9 }, store: s }).runOnce(), 0, 'dirty bytes are well below 90 % of the cleanable bytes');
    assert.equal(s.gets, 0, 'no object was read to decide');
    assert.equal(await compactor(topic, { policy: { ...POLICY, maxCompactionLagMs: 60_000, minCleanableDirtyRatio: 0.9 }, now: () => NOW + 120_000, store: s }).runOnce(), 1, 'max.compaction.lag.ms forces it');
    assert.deepEqual((await readAll(topic)).offsets, [[1, 'a', '2'], [2, 'b', '1'], [3, 'z', '1'], [4, 'a', '3']], 'a@4 is in the active row: nothing to remove yet');
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 4);
  });

  test('the dirty ratio comes from row sizes: dirty bytes over cleanable bytes (a row across the checkpoint by its share)', () => {
    const r = (baseOffset: number, endOffset: number, sizeBytes: number, maxTimestamp = NOW) => ({ baseOffset, endOffset, sizeBytes, maxTimestamp }) as SegmentRecord;
    const rows = [r(0, 99, 1000), r(100, 199, 1000), r(200, 299, 2000)];
    const d = Compactor.cleaningDue(rows, 150, { firstDirtyOffset: 150, deleteHorizon: null }, { ...POLICY, minCleanableDirtyRatio: 0.5 }, NOW);
    assert.equal(d.dirtyBytes, 500 + 2000);
    assert.equal(d.ratio, 2500 / 4000);
    assert.equal(d.due, true);
    assert.equal(Compactor.cleaningDue(rows, 300, { firstDirtyOffset: 300, deleteHorizon: null }, POLICY, NOW).due, false, 'nothing dirty');
    assert.equal(Compactor.cleaningDue(rows, 300, { firstDirtyOffset: 300, deleteHorizon: NOW - 1 }, POLICY, NOW).due, true, 'a pending horizon passed');
    assert.equal(Compactor.cleaningDue(rows, 200, undefined, { ...POLICY, minCleanableDirtyRatio: 0.5 }, NOW).due, false, '2000 of 4000 is not above 0.5');
    assert.equal(Compactor.cleaningDue(rows, 200, undefined, { ...POLICY, minCleanableDirtyRatio: 0.5, maxCompactionLagMs: 1000 }, NOW + 2000).due, true, 'max.compaction.lag.ms');
  });

  test('transactions: aborted data goes, committed data is compacted, markers go once alone and past their horizon, a producer keeps its last batch', async () => {
    const topic = 'compacted-txn';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    const t = NOW - 3_600_000;
    await row(topic, [
      await batch(0, [{ key: 'k0', value: 'a0', timestamp: t }]),
      await txnBatch(1, 1, 0, [{ key: 'k1', value: 'v1', timestamp: t }, { key: 'k2', value: 'v2', timestamp: t }]), // committed T1
      await txnBatch(3, 2, 0, [{ key: 'k1', value: 'x1', timestamp: t }, { key: 'k3', value: 'x3', timestamp: t }]), // aborted T2
      marker('commit', 1, 5),
      marker('abort', 2, 6),
    ]);
    await row(topic, [
      await batch(7, [{ key: 'k1', value: 'v3', timestamp: t }]),
      await txnBatch(8, 1, 2, [{ key: 'k2', value: 'v4', timestamp: t }]), // committed T3
      marker('commit', 1, 9),
    ]);
    const p2Last = await buildRecordBatch({ baseOffset: 10, partitionLeaderEpoch: 1, producerId: 2, producerEpoch: 0, baseSequence: 2, records: [{ key: 'k5', value: 'z', timestamp: t }] });
    await row(topic, [p2Last, await batch(11, [{ key: 'k6', value: 'w', timestamp: t }])]);
    await row(topic, [await batch(12, [{ key: 'k5', value: 'z2', timestamp: t }])]);
    await row(topic, [await batch(13, [{ key: 'k9', value: 'q', timestamp: NOW }])]); // active
    // The aborted-transactions index as the leader writes it (aborted_txns).
    const txns = new TxnStore((store as SqlMetadataStore).driver);
    assert.ok(await txns.addAborted('agent-c', 1, topic, 0, 2, 3));
    await txns.setAbortedLast(topic, 0, 2, 3, 6);
    const producers = { lastStableOffset: 14, lastDataOffsets: new Map([[1, 8], [2, 10]]) };
    let now = NOW;
    const c = compactor(topic, { now: () => now, aborted: 'store', producers });

    assert.equal(await c.runOnce(), 1);
    let r = await readAll(topic);
    assert.deepEqual(r.offsets, [[0, 'k0', 'a0'], [7, 'k1', 'v3'], [8, 'k2', 'v4'], [11, 'k6', 'w'], [12, 'k5', 'z2'], [13, 'k9', 'q']], 'no aborted record; committed ones compacted');
    assert.deepEqual(r.markers, [5, 6, 9], 'markers stay while their transactions had batches in this pass');
    const empty = r.batches.map(readBatchHeader).find((h) => h.baseOffset === 10)!;
    assert.ok(empty !== undefined && empty.recordsCount === 0, "producer 2's last batch stays, empty");
    assert.deepEqual([empty.producerId, empty.baseSequence, empty.lastOffsetDelta], [2, 2, 0], 'with its producer fields, so its sequence survives');
    assert.equal(c.stats.abortedRemoved, 2);
    assert.equal((await txns.loadAborted(topic, 0, 0)).length, 1, 'the index entry stays while its marker follows batches seen in this pass');
    for (const b of r.batches) {
      const h = readBatchHeader(b);
      if (h.baseOffset === 1 || h.baseOffset === 3) assert.fail(`batch ${h.baseOffset} should be gone`);
    }

    // Pass 2 (more data): markers 5 and 6 have no batch before them any more → delete horizon set.
    await row(topic, [await batch(14, [{ key: 'k9', value: 'q2', timestamp: NOW }])]);
    assert.equal(await c.runOnce(), 1);
    r = await readAll(topic);
    assert.deepEqual(r.markers, [5, 6, 9]);
    for (const b of r.batches) {
      const h = readBatchHeader(b);
      if (h.isControl) assert.equal(h.hasDeleteHorizon, h.baseOffset !== 9, `marker ${h.baseOffset}: horizon only when its transaction's batches are gone`);
    }
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.deleteHorizon, NOW + POLICY.deleteRetentionMs);
    assert.deepEqual(await txns.loadAborted(topic, 0, 0), [], 'no batch of the aborted transaction is left: its index entry went (before its marker)');
    // Pass 3 after the horizon: those two markers go; the one whose transaction still has data stays.
    now = NOW + POLICY.deleteRetentionMs + 1;
    assert.equal(await c.runOnce(), 1);
    r = await readAll(topic);
    assert.deepEqual(r.markers, [9]);
    assert.equal(c.stats.markersRemoved, 2);
    assert.deepEqual(r.offsets, [[0, 'k0', 'a0'], [7, 'k1', 'v3'], [8, 'k2', 'v4'], [11, 'k6', 'w'], [12, 'k5', 'z2'], [13, 'k9', 'q'], [14, 'k9', 'q2']]);
  });

  test('an open transaction is not cleaned past (cleaning ends before the last stable offset)', async () => {
    const topic = 'compacted-open';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    await row(topic, [await batch(0, [{ key: 'k', value: 'a', timestamp: NOW }, { key: 'k', value: 'b', timestamp: NOW }])]);
    await row(topic, [await txnBatch(2, 3, 0, [{ key: 'k', value: 'open', timestamp: NOW }])]); // open: no marker yet
    await row(topic, [await batch(3, [{ key: 'k', value: 'c', timestamp: NOW }])]);
    await row(topic, [await batch(4, [{ key: 'z', value: 'z', timestamp: NOW }])]);
    const c = compactor(topic, { producers: { lastStableOffset: 2, lastDataOffsets: new Map([[3, 2]]) } });
    assert.equal(await c.runOnce(), 1);
    assert.deepEqual((await readAll(topic)).offsets, [[1, 'k', 'b'], [2, 'k', 'open'], [3, 'k', 'c'], [4, 'z', 'z']], 'only the rows before the open transaction were cleaned');
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 2);
    // The transaction is aborted: its marker and index entry arrive, the LSO moves on.
    await row(topic, [marker('abort', 3, 5)]);
    await row(topic, [await batch(6, [{ key: 'z', value: 'z2', timestamp: NOW }])]);
    const c2 = compactor(topic, { producers: { lastStableOffset: 7, lastDataOffsets: new Map() }, aborted: [{ producerId: 3, firstOffset: 2, lastOffset: 5 }] });
    assert.equal(await c2.runOnce(), 1);
    const r = await readAll(topic);
    assert.deepEqual(r.offsets, [[3, 'k', 'c'], [4, 'z', 'z'], [6, 'z', 'z2']], 'the aborted record is gone, b superseded by c');
    assert.deepEqual(r.markers, [5], 'its marker stays this pass (its batch was seen)');
  });

  test('a producer whose aborted transaction was cleaned before the checkpoint: its later committed batches enter the key map', async () => {
    const topic = 'compacted-after-abort';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    await row(topic, [await batch(0, [{ key: 'k', value: 'a', timestamp: NOW }])]);
    await row(topic, [await txnBatch(1, 4, 0, [{ key: 'k', value: 'ab', timestamp: NOW }]), marker('abort', 4, 2)]);
    await row(topic, [await batch(3, [{ key: 'z', value: 'z', timestamp: NOW }])]);
    const aborted = [{ producerId: 4, firstOffset: 1, lastOffset: 2 }];
    const producers = { lastStableOffset: 100, lastDataOffsets: new Map<number, number>() };
    assert.equal(await compactor(topic, { aborted, producers }).runOnce(), 1);
    assert.deepEqual((await readAll(topic)).offsets, [[0, 'k', 'a'], [3, 'z', 'z']]);
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 3);
    await row(topic, [await txnBatch(4, 4, 1, [{ key: 'k', value: 'c', timestamp: NOW }]), marker('commit', 4, 5)]);
    await row(topic, [await batch(6, [{ key: 'z', value: 'z2', timestamp: NOW }])]);
    assert.equal(await compactor(topic, { aborted, producers }).runOnce(), 1);
    assert.deepEqual((await readAll(topic)).offsets, [[3, 'z', 'z'], [4, 'k', 'c'], [6, 'z', 'z2']], 'k=c (committed, same producer) superseded k=a');
  });

  test('the key map is bounded: when full, the dirty section ends there and the checkpoint says so', async () => {
    const topic = 'compacted-maxkeys';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    await row(topic, [await batch(0, [{ key: 'a', value: '1', timestamp: NOW }, { key: 'b', value: '1', timestamp: NOW }])]);
    await row(topic, [await batch(2, [{ key: 'c', value: '1', timestamp: NOW }, { key: 'a', value: '2', timestamp: NOW }])]);
    await row(topic, [await batch(4, [{ key: 'a', value: '3', timestamp: NOW }])]);
    await row(topic, [await batch(5, [{ key: 'z', value: '1', timestamp: NOW }])]);
    const c = compactor(topic, { maxKeys: 2 });
    assert.equal(await c.runOnce(), 0, 'the map held a and b only: nothing to remove in row 0');
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 2, 'the dirty section ended where the map filled');
    assert.equal(await c.runOnce(), 1, 'the next pass goes on from there');
    assert.deepEqual((await readAll(topic)).offsets, [[1, 'b', '1'], [2, 'c', '1'], [4, 'a', '3'], [5, 'z', '1']]);
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 5);
  });

  test('the checkpoint survives a lease handoff (fenced: the old leader can move neither rows nor checkpoint) and follows retention', async () => {
    const topic = 'compacted-handoff';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    for (let i = 0; i < 4; i++) await row(topic, [await batch(i, [{ key: 'k', value: String(i), timestamp: NOW }])]);
    assert.equal(await compactor(topic).runOnce(), 1);
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 3);
    await store.releasePartitionLease(topic, 0, 'agent-c');
    const lease = (await store.acquirePartitionLease(topic, 0, 'agent-d', 60_000))!;
    assert.equal(lease.epoch, 2);
    const s = counting();
    assert.equal(await compactor(topic, { agentId: 'agent-d', epoch: 2, store: s }).runOnce(), 0, 'the new leader finds nothing dirty');
    assert.equal(s.gets, 0, 'and reads no object to know it');
    await row(topic, [await batch(4, [{ key: 'k', value: '4', timestamp: NOW }])]);
    const stale = compactor(topic, { agentId: 'agent-c', epoch: 1 });
    assert.equal(await stale.runOnce(), 0, 'the old leader is fenced');
    assert.equal(stale.stats.refused, 1);
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 3, 'and did not move the checkpoint');
    assert.equal(await compactor(topic, { agentId: 'agent-d', epoch: 2 }).runOnce(), 1);
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 4);
    // Retention takes the log past the checkpoint: the dirty section starts at the log start.
    await row(topic, [await batch(5, [{ key: 'k', value: '5', timestamp: NOW }])]);
    await row(topic, [await batch(6, [{ key: 'j', value: '6', timestamp: NOW }])]);
    await store.setLogStartOffset(topic, 0, 5);
    await store.deleteSegmentsBefore(topic, 0, 5);
    assert.equal(await compactor(topic, { agentId: 'agent-d', epoch: 2 }).runOnce(), 0, 'one row left besides the active one, holding one record: nothing to remove');
    assert.equal((await reg.compactionCheckpoint(topic, 0))!.firstDirtyOffset, 6, 'the checkpoint moved on from the log start');
    // Topic deletion takes the checkpoint with it.
    await store.deleteTopic(topic);
    assert.equal(await reg.compactionCheckpoint(topic, 0), undefined);
  });
});
