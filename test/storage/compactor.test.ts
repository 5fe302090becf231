// Log compaction over PGlite and a local object store: the newest record per key stays at its offset,
// superseded records and expired tombstones go, offsets keep their gaps, untouched batches and
// transaction markers stay byte for byte, the newest row (the active segment) is never cleaned, and
// min.compaction.lag.ms / min.cleanable.dirty.ratio hold cleaning back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import { SqlStorageMetadata } from '../../metadata/storage-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { buildControlBatch, buildRecordBatch, readBatchHeader, readBatchRecords, CompressionType, type CompressionTypeValue, type RecordInput } from '../../protocol/record-batch.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { encodeSegmentObject } from '../../storage/segment-format.js';
import { Compactor, type CompactionPolicy } from '../../storage/compaction/compactor.js';

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
  async function row(topic: string, batches: Buffer[]) {
    const infos = batches.map((b) => {
      const h = readBatchHeader(b);
      return { buf: b, baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, recordsCount: h.recordsCount };
    });
    const enc = await encodeSegmentObject([{ topic, partitionId: 0, batches: infos }], { createdAt: NOW });
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
    const records: Array<{ offset: number; key: string; value: string | null }> = [];
    for (const b of batches) {
      if (readBatchHeader(b).isControl) continue;
      for (const r of await readBatchRecords(b)) records.push({ offset: r.offset, key: r.key!.toString(), value: r.value === null ? null : r.value.toString() });
    }
    return { batches, records };
  }

  function compactor(topic: string, policy: CompactionPolicy = POLICY) {
    return new Compactor({
      objectStore: objects,
      metadata: store,
      storage: reg,
      agentId: 'agent-c',
      leading: () => [{ topic, partitionId: 0, epoch: 1 }],
      stillLeading: () => true,
      policy: async () => policy,
    });
  }

  test('newest value per key at its offset; tombstones past delete.retention.ms go; markers and untouched batches stay byte for byte; the active row is kept', async () => {
    const topic = 'compacted-1';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    const old = NOW - 3_600_000;
    const b0 = await batch(0, [{ key: 'a', value: 'a1', timestamp: old }, { key: 'b', value: 'b1', timestamp: old }, { key: 'c', value: 'c1', timestamp: old }]);
    const marker = buildControlBatch('commit', { producerId: 9, producerEpoch: 0, coordinatorEpoch: 1, baseOffset: 3, timestamp: old });
    const b1 = await batch(4, [{ key: 'a', value: 'a2', timestamp: old }, { key: 'b', value: null, timestamp: old }], CompressionType.lz4);
    const b2 = await batch(6, [{ key: 'c', value: 'c2', timestamp: NOW }, { key: 'd', value: null, timestamp: NOW }]);
    const untouched = await batch(8, [{ key: 'e', value: 'e1', timestamp: NOW }]);
    const active = await batch(9, [{ key: 'a', value: 'a3', timestamp: NOW }]);
    await row(topic, [b0, marker]);
    await row(topic, [b1]);
    await row(topic, [b2, untouched]);
    await row(topic, [active]);
    const keep = { marker: Buffer.from(marker), untouched: Buffer.from(untouched), active: Buffer.from(active) };

    const c = compactor(topic);
    assert.equal(await c.runOnce(), 1);
    const { batches, records } = await readAll(topic);
    assert.deepEqual(records, [
      { offset: 4, key: 'a', value: 'a2' }, // a3 lives in the active row, so a2 is still the newest cleanable
      { offset: 6, key: 'c', value: 'c2' },
      { offset: 7, key: 'd', value: null }, // a tombstone younger than delete.retention.ms stays
      { offset: 8, key: 'e', value: 'e1' },
      { offset: 9, key: 'a', value: 'a3' },
    ]);
    assert.ok(batches.some((b) => b.equals(keep.marker)), 'the transaction marker is kept as it was');
    assert.ok(batches.some((b) => b.equals(keep.untouched)), 'a batch with nothing removed is kept byte for byte');
    assert.ok(batches[batches.length - 1]!.equals(keep.active), 'the active row is not cleaned');
    const rows = await store.listSegments(topic, 0);
    assert.equal(rows.length, 2, 'the cleaned rows became one');
    assert.equal(rows[0]!.baseOffset, 0);
    assert.equal(rows[0]!.endOffset, 8, 'offsets keep their place (the empty first batch keeps offset 0..2)');
    assert.ok(c.stats.tombstonesRemoved >= 1 && c.stats.recordsRemoved >= 4);
    assert.equal(await c.runOnce(), 0, 'nothing more to clean');
  });

  test('min.compaction.lag.ms and min.cleanable.dirty.ratio hold cleaning back', async () => {
    const topic = 'compacted-2';
    await store.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    await store.acquirePartitionLease(topic, 0, 'agent-c', 60_000);
    await row(topic, [await batch(0, [{ key: 'a', value: '1', timestamp: NOW }, { key: 'a', value: '2', timestamp: NOW }])]);
    await row(topic, [await batch(2, [{ key: 'b', value: '1', timestamp: NOW }])]);
    await row(topic, [await batch(3, [{ key: 'z', value: '1', timestamp: NOW }])]);
    assert.equal(await compactor(topic, { ...POLICY, minCompactionLagMs: 3_600_000 }).runOnce(), 0, 'records too young');
    assert.equal(await compactor(topic, { ...POLICY, minCleanableDirtyRatio: 0.9 }).runOnce(), 0, '1 of 3 superseded is below 0.9');
    assert.equal(await compactor(topic, { ...POLICY, segmentMs: 3_600_000 }).runOnce(), 0, 'not rolled yet (segment.ms)');
    assert.equal(await compactor(topic, { ...POLICY, minCleanableDirtyRatio: 0.3 }).runOnce(), 1);
    assert.deepEqual((await readAll(topic)).records.map((r) => [r.offset, r.value]), [[1, '2'], [2, '1'], [3, '1']]);
  });
});
