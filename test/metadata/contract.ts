// The metadata store contract: one set of test bodies, run against every back end (PGlite, PostgreSQL)
// and against the read-through cache over each (see pglite.test.ts, postgres.test.ts).
// The tests share one database per run, so every test uses its own topic, group and agent names and
// checks lists by containment.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultMigrationsFolder } from '../../metadata/migrate.js';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError, type ErrorCodeValue } from '../../protocol/errors.js';
import { MAX_PARTITIONS_PER_TOPIC } from '../../metadata/validate.js';
import type { AclBinding, FlushCommitPartition, MetadataStore, NewSegment } from '../../metadata/types.js';
import { AgentIdInUseError } from '../../metadata/errors.js';

export interface ContractContext {
  /** The store under test (possibly cached). */
  readonly store: MetadataStore;
  /** A second store on the same database, for races between agents (PGlite: the same store again,
   * since one process owns a PGlite directory). Cached if `store` is. */
  readonly second: MetadataStore;
  /** Uncached view of the database, to check what was really written. */
  readonly raw: MetadataStore;
  /** True when `second` is a separate connection pool (real concurrency). */
  readonly concurrent: boolean;
}

const runId = Math.random().toString(36).slice(2, 7);
let counter = 0;
export const unique = (prefix: string) => `${prefix}-${runId}-${++counter}`;

export async function rejectsWith(promise: Promise<unknown>, code: ErrorCodeValue, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KafkaError, `expected a KafkaError, got ${String(err)}`);
    assert.equal(err.code, code, `expected error code ${code}, got ${err.code}: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

export function segment(topic: string, partitionId: number, baseOffset: number, count: number, extra: Partial<NewSegment> = {}): NewSegment {
  return {
    topic,
    partitionId,
    baseOffset,
    endOffset: baseOffset + count - 1,
    recordCount: count,
    sizeBytes: count * 100,
    s3Bucket: 'bucket',
    s3Key: `objects/${topic}/${baseOffset}.seg`,
    bytePosition: 64,
    byteLength: count * 90,
    maxTimestamp: 1_700_000_000_000 + baseOffset,
    ...extra,
  };
}

export function flushEntry(topic: string, partitionId: number, epoch: number, hw: number, count: number): FlushCommitPartition {
  return { topic, partitionId, leaseEpoch: epoch, expectedHighWatermark: hw, segment: segment(topic, partitionId, hw, count) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function metadataContract(ctx: ContractContext): void {
  // --- topics ------------------------------------------------------------------------------------------

  it('creates a topic with its partitions in one step, readable by name and by id', async () => {
    const { store, raw } = ctx;
    const name = unique('orders');
    const before = await raw.now();
    const t = await store.createTopic({ name, partitionCount: 16, retentionMs: 86_400_000, config: { 'cleanup.policy': 'delete' } });
    assert.equal(t.name, name);
    assert.match(t.topicId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(t.partitionCount, 16);
    assert.equal(t.retentionMs, 86_400_000);
    assert.deepEqual(t.config, { 'cleanup.policy': 'delete' });
    assert.ok(t.createdAt >= before - 1 && t.updatedAt === t.createdAt);
    assert.deepEqual(await store.getTopic(name), t);
    assert.deepEqual(await store.getTopicById(t.topicId), t);
    const parts = await store.getPartitions(name);
    assert.deepEqual(parts.map((p) => p.partitionId), [...Array(16).keys()]);
    for (const p of parts) {
      assert.equal(p.topic, name);
      assert.equal(p.highWatermark, 0);
      assert.equal(p.logStartOffset, 0);
      assert.equal(p.leaderEpoch, 0);
    }
    assert.deepEqual(await store.getPartition(name, 15), parts[15]);
    assert.equal(await store.getPartition(name, 16), undefined);
    assert.ok((await store.listTopics()).some((x) => x.name === name && x.topicId === t.topicId));
  });

  it('refuses a second topic of the same name, also when two creations race', async () => {
    const { store, second } = ctx;
    const name = unique('dup');
    await store.createTopic({ name, partitionCount: 1 });
    await rejectsWith(store.createTopic({ name, partitionCount: 2 }), ErrorCode.TOPIC_ALREADY_EXISTS);
    const raced = unique('race');
    const results = await Promise.allSettled([
      store.createTopic({ name: raced, partitionCount: 3 }),
      second.createTopic({ name: raced, partitionCount: 5 }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((failed.reason as KafkaError).code, ErrorCode.TOPIC_ALREADY_EXISTS);
    const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ partitionCount: number }>).value;
    assert.equal((await ctx.raw.getPartitions(raced)).length, winner.partitionCount);
  });

  it('rejects illegal topic names and partition counts', async () => {
    const { store } = ctx;
    for (const name of ['', '.', '..', 'has space', 'slash/ed', 'ümlaut', 'x'.repeat(250), 'tab\t']) {
      await rejectsWith(store.createTopic({ name, partitionCount: 1 }), ErrorCode.INVALID_TOPIC_EXCEPTION);
    }
    const longest = `${unique('l')}-`.padEnd(249, 'x');
    assert.equal((await store.createTopic({ name: longest, partitionCount: 1 })).name, longest);
    const ok = unique('legal_Name.with-chars');
    await store.createTopic({ name: ok, partitionCount: 1 });
    for (const count of [0, -1, 1.5, Number.NaN, MAX_PARTITIONS_PER_TOPIC + 1]) {
      await rejectsWith(store.createTopic({ name: unique('bad'), partitionCount: count }), ErrorCode.INVALID_PARTITIONS);
    }
    await rejectsWith(store.createTopic({ name: unique('ret'), partitionCount: 1, retentionMs: 0 }), ErrorCode.INVALID_CONFIG);
    assert.equal(await store.getTopic('no/such topic'), undefined);
    assert.equal(await store.getTopicById('not-a-uuid'), undefined);
    assert.equal(await store.getTopicById('00000000-0000-4000-8000-000000000000'), undefined);
  });

  it('deletes a topic with its partitions, segments, leases and committed offsets', async () => {
    const { store, raw } = ctx;
    const name = unique('gone');
    const t = await store.createTopic({ name, partitionCount: 2 });
    const lease = (await store.acquirePartitionLease(name, 0, unique('agent'), 10_000))!;
    const agent = lease.leaderAgentId;
    assert.deepEqual(await store.commitFlush(agent, [flushEntry(name, 0, lease.epoch, 0, 10)]), { committed: true });
    const group = unique('g');
    await store.commitOffsets(group, [{ topic: name, partitionId: 0, offset: 5, leaderEpoch: 1, metadata: null }]);
    assert.equal(await store.deleteTopic(name), true);
    assert.equal(await store.deleteTopic(name), false);
    assert.equal(await store.getTopic(name), undefined);
    assert.equal(await store.getTopicById(t.topicId), undefined);
    assert.deepEqual(await raw.getPartitions(name), []);
    assert.deepEqual(await raw.listSegments(name, 0), []);
    assert.deepEqual(await raw.listPartitionLeases(name), []);
    assert.deepEqual(await raw.fetchOffsets(group), []);
    // The name can be used again: a new id, fresh partitions.
    const again = await store.createTopic({ name, partitionCount: 1 });
    assert.notEqual(again.topicId, t.topicId);
    assert.equal((await store.getPartition(name, 0))!.highWatermark, 0);
  });

  it('adds partitions to a topic, never removes any', async () => {
    const { store } = ctx;
    const name = unique('grow');
    await store.createTopic({ name, partitionCount: 2 });
    const lease = (await store.acquirePartitionLease(name, 0, unique('agent'), 10_000))!;
    await store.commitFlush(lease.leaderAgentId, [flushEntry(name, 0, lease.epoch, 0, 3)]);
    const grown = await store.addPartitions(name, 5);
    assert.equal(grown.partitionCount, 5);
    assert.ok(grown.updatedAt >= grown.createdAt);
    const parts = await store.getPartitions(name);
    assert.deepEqual(parts.map((p) => [p.partitionId, p.highWatermark]), [[0, 3], [1, 0], [2, 0], [3, 0], [4, 0]]);
    assert.equal((await store.getTopic(name))!.partitionCount, 5);
    await rejectsWith(store.addPartitions(name, 5), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(store.addPartitions(name, 3), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(store.addPartitions(name, MAX_PARTITIONS_PER_TOPIC + 1), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(store.addPartitions(unique('missing'), 3), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('updates topic config and retention', async () => {
    const { store } = ctx;
    const name = unique('conf');
    await store.createTopic({ name, partitionCount: 1, retentionMs: 1000 });
    const a = await store.updateTopicConfig(name, { 'retention.bytes': '1024' });
    assert.deepEqual(a.config, { 'retention.bytes': '1024' });
    assert.equal(a.retentionMs, 1000, 'retention unchanged when not given');
    const b = await store.updateTopicConfig(name, {}, null);
    assert.deepEqual(b.config, {});
    assert.equal(b.retentionMs, null);
    const c = await store.updateTopicConfig(name, { 'cleanup.policy': 'delete' }, -1);
    assert.equal(c.retentionMs, -1);
    assert.deepEqual(await store.getTopic(name), c);
    await rejectsWith(store.updateTopicConfig(unique('missing'), {}), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('creates and lists a 10,000-partition topic', async () => {
    const { store } = ctx;
    const name = unique('wide');
    await store.createTopic({ name, partitionCount: 10_000 });
    const parts = await store.getPartitions(name);
    assert.equal(parts.length, 10_000);
    assert.equal(parts[9_999]!.partitionId, 9_999);
    assert.equal(await store.deleteTopic(name), true);
  });

  // --- partitions ----------------------------------------------------------------------------------

  it('moves the log start offset forward only, never past the high watermark', async () => {
    const { store } = ctx;
    const name = unique('lso');
    await store.createTopic({ name, partitionCount: 1 });
    await store.updateHighWatermark(name, 0, 100);
    assert.equal((await store.getPartition(name, 0))!.highWatermark, 100);
    assert.equal(await store.setLogStartOffset(name, 0, 40), 40);
    assert.equal(await store.setLogStartOffset(name, 0, 10), 40, 'never backward');
    assert.equal(await store.setLogStartOffset(name, 0, 100), 100);
    await rejectsWith(store.setLogStartOffset(name, 0, 101), ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal((await store.getPartition(name, 0))!.logStartOffset, 100);
    await rejectsWith(store.setLogStartOffset(name, 1, 0), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(store.updateHighWatermark(name, 7, 1), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(store.updateHighWatermark(name, 0, -1), ErrorCode.INVALID_REQUEST);
  });

  // --- segments ------------------------------------------------------------------------------------

  it('indexes segments: find by offset, list from an offset, delete below an offset', async () => {
    const { store } = ctx;
    const name = unique('seg');
    await store.createTopic({ name, partitionCount: 2 });
    const added = [];
    for (let base = 0; base < 50; base += 10) added.push(await store.addSegment(segment(name, 0, base, 10, { id: `${name}-s${base}` })));
    assert.equal(added[0]!.id, `${name}-s0`);
    assert.equal(added[0]!.bytePosition, 64);
    assert.equal(added[0]!.byteLength, 900);
    assert.equal(added[0]!.maxTimestamp, 1_700_000_000_000);
    assert.ok(added[0]!.createdAt > 0);
    const noId = await store.addSegment(segment(name, 1, 0, 5));
    assert.ok(noId.id.length > 0);
    for (const [offset, base] of [[0, 0], [9, 0], [10, 10], [25, 20], [49, 40]] as const) {
      const s = await store.findSegmentForOffset(name, 0, offset);
      assert.equal(s?.baseOffset, base, `offset ${offset}`);
    }
    assert.deepEqual(await store.findSegmentForOffset(name, 0, 13), added[1]);
    assert.equal(await store.findSegmentForOffset(name, 0, 50), undefined);
    assert.equal(await store.findSegmentForOffset(name, 1, 5), undefined);
    assert.equal(await store.findSegmentForOffset(unique('none'), 0, 0), undefined);
    assert.deepEqual((await store.listSegments(name, 0, 25)).map((s) => s.baseOffset), [20, 30, 40]);
    assert.deepEqual((await store.listSegments(name, 0, 0, 2)).map((s) => s.baseOffset), [0, 10]);
    assert.deepEqual((await store.listSegments(name, 0)).length, 5);
    const deleted = await store.deleteSegmentsBefore(name, 0, 25);
    assert.deepEqual(deleted.map((s) => s.baseOffset).sort((a, b) => a - b), [0, 10]);
    assert.deepEqual((await store.listSegments(name, 0)).map((s) => s.baseOffset), [20, 30, 40]);
    assert.equal(await store.findSegmentForOffset(name, 0, 5), undefined);
    await rejectsWith(store.addSegment(segment(name, 9, 0, 1)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(store.addSegment(segment(name, 0, 10, 1, { endOffset: 5 })), ErrorCode.INVALID_REQUEST);
  });

  it('segment statistics per partition: counts and bytes, of one topic or all', async () => {
    const { store } = ctx;
    const name = unique('stats');
    await store.createTopic({ name, partitionCount: 3 });
    for (let base = 0; base < 30; base += 10) await store.addSegment(segment(name, 0, base, 10));
    await store.addSegment(segment(name, 2, 0, 4));
    assert.deepEqual(await store.segmentStats(name), [
      { topic: name, partitionId: 0, segmentCount: 3, recordCount: 30, sizeBytes: 3000, storedBytes: 2700 },
      { topic: name, partitionId: 2, segmentCount: 1, recordCount: 4, sizeBytes: 400, storedBytes: 360 },
    ]);
    const all = await store.segmentStats();
    assert.deepEqual(all.filter((s) => s.topic === name).map((s) => s.partitionId), [0, 2]);
    assert.deepEqual(await store.segmentStats(unique('none')), []);
    assert.deepEqual(await store.segmentStats('bad name!'), []);
  });

  // --- the fenced flush commit -------------------------------------------------------------------

  it('flush commit: records the segments and advances every high watermark at once', async () => {
    const { store, raw } = ctx;
    const a = unique('flushA');
    const b = unique('flushB');
    await store.createTopic({ name: a, partitionCount: 3 });
    await store.createTopic({ name: b, partitionCount: 1 });
    const agent = unique('agent');
    const leases = await store.acquirePartitionLeases(agent, [{ topic: a, partitionId: 0 }, { topic: a, partitionId: 2 }, { topic: b, partitionId: 0 }], 10_000);
    assert.equal(leases.length, 3);
    const epoch = (t: string, p: number) => leases.find((l) => l.topic === t && l.partitionId === p)!.epoch;
    const first = await store.commitFlush(agent, [flushEntry(a, 0, epoch(a, 0), 0, 10), flushEntry(a, 2, epoch(a, 2), 0, 4), flushEntry(b, 0, epoch(b, 0), 0, 1)]);
    assert.deepEqual(first, { committed: true });
    const second = await store.commitFlush(agent, [flushEntry(a, 0, epoch(a, 0), 10, 5), flushEntry(b, 0, epoch(b, 0), 1, 1)]);
    assert.deepEqual(second, { committed: true });
    assert.deepEqual((await raw.getPartitions(a)).map((p) => p.highWatermark), [15, 0, 4]);
    assert.equal((await raw.getPartition(b, 0))!.highWatermark, 2);
    const seg = (await store.findSegmentForOffset(a, 0, 12))!;
    assert.equal(seg.baseOffset, 10);
    assert.equal(seg.endOffset, 14);
    assert.equal(seg.s3Key, `objects/${a}/10.seg`);
    assert.equal(seg.byteLength, 450);
    assert.deepEqual((await raw.listSegments(a, 0)).map((s) => [s.baseOffset, s.endOffset]), [[0, 9], [10, 14]]);
    assert.deepEqual(await store.commitFlush(agent, []), { committed: true });
  });

  it('flush commit by a deposed leader is fenced and writes nothing', async () => {
    const { store, second, raw } = ctx;
    const name = unique('deposed');
    await store.createTopic({ name, partitionCount: 1 });
    const oldLeader = unique('old');
    const newLeader = unique('new');
    const l1 = (await store.acquirePartitionLease(name, 0, oldLeader, 10_000))!;
    assert.deepEqual(await store.commitFlush(oldLeader, [flushEntry(name, 0, l1.epoch, 0, 10)]), { committed: true });
    // The lease runs out (here: released) and another agent takes over with the next epoch.
    await store.releasePartitionLease(name, 0, oldLeader);
    const l2 = (await second.acquirePartitionLease(name, 0, newLeader, 10_000))!;
    assert.equal(l2.epoch, l1.epoch + 1);
    assert.equal((await raw.getPartition(name, 0))!.leaderEpoch, l2.epoch, 'leader epoch = lease epoch');
    const result = await store.commitFlush(oldLeader, [flushEntry(name, 0, l1.epoch, 10, 5)]);
    assert.equal(result.committed, false);
    assert.deepEqual(result.committed === false && result.fenced, [
      { topic: name, partitionId: 0, reason: 'lease', highWatermark: 10, leaderAgentId: newLeader, leaseEpoch: l2.epoch },
    ]);
    // Nothing written: high watermark and segments as before.
    assert.equal((await raw.getPartition(name, 0))!.highWatermark, 10);
    assert.equal((await raw.listSegments(name, 0)).length, 1);
    // Even with the right epoch number, the old agent is not the holder.
    const spoof = await store.commitFlush(oldLeader, [flushEntry(name, 0, l2.epoch, 10, 5)]);
    assert.equal(spoof.committed === false && spoof.fenced[0]!.reason, 'lease');
    // The new leader commits on top of what the database says.
    assert.deepEqual(await second.commitFlush(newLeader, [flushEntry(name, 0, l2.epoch, 10, 5)]), { committed: true });
    assert.equal((await raw.getPartition(name, 0))!.highWatermark, 15);
  });

  it("a new run of an agent ends its previous run's leases: taken again, they have the next epoch", async () => {
    const { store, raw } = ctx;
    const name = unique('rerun');
    await store.createTopic({ name, partitionCount: 2 });
    const agent = unique('agent');
    const [l0] = await store.acquirePartitionLeases(agent, [{ topic: name, partitionId: 0 }], 10_000);
    const again = await store.acquirePartitionLeases(agent, [{ topic: name, partitionId: 0 }], 10_000);
    assert.equal(again[0]!.epoch, l0!.epoch, 'the same run extends its lease');
    const shard = 1_000_000 + Math.floor(Math.random() * 1_000_000);
    const [c0] = await store.acquireCoordinatorLeases(agent, [shard], 10_000);
    assert.deepEqual(await store.endAgentLeases(agent), { partitions: 1, shards: 1 });
    assert.deepEqual(await store.endAgentLeases(agent), { partitions: 0, shards: 0 });
    const [l1] = await store.acquirePartitionLeases(agent, [{ topic: name, partitionId: 0 }], 10_000);
    assert.equal(l1!.epoch, l0!.epoch + 1);
    assert.equal((await raw.getPartition(name, 0))!.leaderEpoch, l1!.epoch);
    const [c1] = await store.acquireCoordinatorLeases(agent, [shard], 10_000);
    assert.equal(c1!.epoch, c0!.epoch + 1);
    // The old epoch's flush commit is fenced.
    const r = await store.commitFlush(agent, [flushEntry(name, 0, l0!.epoch, 0, 5)]);
    assert.equal(r.committed, false);
  });

  it('producer snapshots: saved only by the lease holder at its epoch, never replaced by an older one, gone with the topic', async () => {
    const { store, second, raw } = ctx;
    const name = unique('snapshots');
    await store.createTopic({ name, partitionCount: 2 });
    const a = unique('leader');
    const b = unique('next');
    const l1 = (await store.acquirePartitionLease(name, 0, a, 10_000))!;
    const state = (n: number) => Buffer.from([1, 0, 0, 0, 0, n]);
    // Partition 1 is not leased by `a`: skipped. A wrong epoch: skipped.
    assert.equal(
      await store.saveProducerSnapshots(a, [
        { topic: name, partitionId: 0, leaseEpoch: l1.epoch, endOffset: 10, state: state(1) },
        { topic: name, partitionId: 1, leaseEpoch: 1, endOffset: 10, state: state(2) },
      ]),
      1,
    );
    assert.equal(await store.saveProducerSnapshots(a, [{ topic: name, partitionId: 0, leaseEpoch: l1.epoch + 1, endOffset: 20, state: state(3) }]), 0);
    assert.deepEqual(await raw.loadProducerSnapshot(name, 0), { leaseEpoch: l1.epoch, endOffset: 10, state: state(1) });
    assert.equal(await raw.loadProducerSnapshot(name, 1), undefined);
    // An older offset of the same epoch does not replace a newer one; a further one does.
    assert.equal(await store.saveProducerSnapshots(a, [{ topic: name, partitionId: 0, leaseEpoch: l1.epoch, endOffset: 5, state: state(4) }]), 0);
    assert.equal(await store.saveProducerSnapshots(a, [{ topic: name, partitionId: 0, leaseEpoch: l1.epoch, endOffset: 12, state: Buffer.alloc(0) }]), 1);
    assert.deepEqual(await raw.loadProducerSnapshot(name, 0), { leaseEpoch: l1.epoch, endOffset: 12, state: Buffer.alloc(0) });
    // Handed over: the old holder saves nothing any more, the new one does.
    await store.releasePartitionLease(name, 0, a);
    const l2 = (await second.acquirePartitionLease(name, 0, b, 10_000))!;
    assert.equal(await store.saveProducerSnapshots(a, [{ topic: name, partitionId: 0, leaseEpoch: l1.epoch, endOffset: 30, state: state(5) }]), 0);
    assert.equal(await second.saveProducerSnapshots(b, [{ topic: name, partitionId: 0, leaseEpoch: l2.epoch, endOffset: 12, state: state(6) }]), 1);
    assert.deepEqual(await raw.loadProducerSnapshot(name, 0), { leaseEpoch: l2.epoch, endOffset: 12, state: state(6) });
    await rejectsWith(store.saveProducerSnapshots(b, [{ topic: name, partitionId: 0, leaseEpoch: l2.epoch, endOffset: -1, state: state(7) }]), ErrorCode.INVALID_REQUEST);
    await store.deleteTopic(name);
    assert.equal(await raw.loadProducerSnapshot(name, 0), undefined);
  });

  it('flush commit is fenced once the lease has expired, even if nobody took it over', async () => {
    const { store, raw } = ctx;
    const name = unique('expired');
    await store.createTopic({ name, partitionCount: 1 });
    const agent = unique('agent');
    const lease = (await store.acquirePartitionLease(name, 0, agent, 50))!;
    await sleep(80);
    const result = await store.commitFlush(agent, [flushEntry(name, 0, lease.epoch, 0, 1)]);
    assert.equal(result.committed === false && result.fenced[0]!.reason, 'lease');
    assert.equal((await raw.getPartition(name, 0))!.highWatermark, 0);
    // No lease at all: fenced too.
    const other = unique('nolease');
    await store.createTopic({ name: other, partitionCount: 1 });
    const none = await store.commitFlush(agent, [flushEntry(other, 0, 1, 0, 1)]);
    assert.deepEqual(none.committed === false && none.fenced, [{ topic: other, partitionId: 0, reason: 'lease', highWatermark: 0 }]);
  });

  it('flush commit with a gap or an overlap (expected high watermark mismatch) is fenced', async () => {
    const { store, raw } = ctx;
    const name = unique('gap');
    await store.createTopic({ name, partitionCount: 1 });
    const agent = unique('agent');
    const lease = (await store.acquirePartitionLease(name, 0, agent, 10_000))!;
    await store.commitFlush(agent, [flushEntry(name, 0, lease.epoch, 0, 10)]);
    for (const expected of [12, 5, 0]) {
      const result = await store.commitFlush(agent, [flushEntry(name, 0, lease.epoch, expected, 3)]);
      assert.equal(result.committed, false, `expected HW ${expected}`);
      assert.deepEqual(result.committed === false && result.fenced, [
        { topic: name, partitionId: 0, reason: 'offset', highWatermark: 10, leaderAgentId: agent, leaseEpoch: lease.epoch },
      ]);
    }
    assert.equal((await raw.getPartition(name, 0))!.highWatermark, 10);
    assert.deepEqual((await raw.listSegments(name, 0)).map((s) => s.baseOffset), [0]);
  });

  it('a multi-partition flush commit with one fenced partition commits nothing', async () => {
    const { store, raw } = ctx;
    const name = unique('multi');
    await store.createTopic({ name, partitionCount: 4 });
    const agent = unique('agent');
    const leases = await store.acquirePartitionLeases(agent, [0, 1, 2, 3].map((partitionId) => ({ topic: name, partitionId })), 10_000);
    const e = leases.map((l) => l.epoch);
    await store.commitFlush(agent, [flushEntry(name, 2, e[2]!, 0, 7)]);
    const missing = unique('missing');
    const result = await store.commitFlush(agent, [
      flushEntry(name, 0, e[0]!, 0, 5),
      flushEntry(name, 1, e[1]!, 0, 5),
      flushEntry(name, 2, e[2]!, 0, 5), // stale: HW is 7
      flushEntry(name, 3, e[3]!, 0, 5),
    ]);
    assert.equal(result.committed, false);
    assert.deepEqual(result.committed === false && result.fenced.map((f) => [f.partitionId, f.reason]), [[2, 'offset']]);
    assert.deepEqual((await raw.getPartitions(name)).map((p) => p.highWatermark), [0, 0, 7, 0]);
    assert.deepEqual(await raw.listSegments(name, 0), []);
    assert.deepEqual(await raw.listSegments(name, 3), []);
    // An unknown partition in the batch fences the batch too.
    await store.createTopic({ name: missing, partitionCount: 1 });
    const unknown = await store.commitFlush(agent, [flushEntry(name, 0, e[0]!, 0, 5), flushEntry(missing, 5, 1, 0, 1)]);
    assert.deepEqual(unknown.committed === false && unknown.fenced, [{ topic: missing, partitionId: 5, reason: 'unknown_partition' }]);
    assert.equal((await raw.getPartition(name, 0))!.highWatermark, 0);
    // Several fenced partitions are all reported, each with its reason.
    const other = unique('otheragent');
    const several = await store.commitFlush(other, [flushEntry(name, 0, e[0]!, 0, 5), flushEntry(name, 2, e[2]!, 7, 1)]);
    assert.deepEqual(several.committed === false && several.fenced.map((f) => [f.partitionId, f.reason]), [[0, 'lease'], [2, 'lease']]);
  });

  it('flush commit rejects malformed input before touching the database', async () => {
    const { store } = ctx;
    const name = unique('bad');
    await store.createTopic({ name, partitionCount: 1 });
    const lease = (await store.acquirePartitionLease(name, 0, 'agent-x', 10_000))!;
    const entry = flushEntry(name, 0, lease.epoch, 0, 3);
    await rejectsWith(store.commitFlush('agent-x', [{ ...entry, expectedHighWatermark: 1 }]), ErrorCode.INVALID_REQUEST, /expected high watermark/);
    await rejectsWith(store.commitFlush('agent-x', [entry, entry]), ErrorCode.INVALID_REQUEST, /twice/);
    await rejectsWith(store.commitFlush('agent-x', [{ ...entry, segment: { ...entry.segment, partitionId: 1 } }]), ErrorCode.INVALID_REQUEST);
    await rejectsWith(store.commitFlush('', [entry]), ErrorCode.INVALID_REQUEST);
    await rejectsWith(store.commitFlush('agent-x', [{ ...entry, segment: { ...entry.segment, recordCount: -1 } }]), ErrorCode.INVALID_REQUEST);
    assert.equal((await ctx.raw.getPartition(name, 0))!.highWatermark, 0);
  });

  it('two flush commits racing on the same partition: exactly one wins', async () => {
    const { store, second, raw } = ctx;
    const name = unique('flushrace');
    await store.createTopic({ name, partitionCount: 1 });
    const agent = unique('agent');
    const lease = (await store.acquirePartitionLease(name, 0, agent, 10_000))!;
    let hw = 0;
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([
        store.commitFlush(agent, [flushEntry(name, 0, lease.epoch, hw, 2)]),
        second.commitFlush(agent, [flushEntry(name, 0, lease.epoch, hw, 3)]),
      ]);
      const winners = results.filter((r) => r.committed);
      assert.equal(winners.length, 1, `round ${round}`);
      const loser = results.find((r) => !r.committed)!;
      assert.equal(loser.committed === false && loser.fenced[0]!.reason, 'offset');
      hw = (await raw.getPartition(name, 0))!.highWatermark;
    }
    const segs = await raw.listSegments(name, 0);
    assert.equal(segs.length, 10);
    for (let i = 1; i < segs.length; i++) assert.equal(segs[i]!.baseOffset, segs[i - 1]!.endOffset + 1, 'contiguous');
    assert.equal(segs[9]!.endOffset + 1, hw);
  });

  // --- leases --------------------------------------------------------------------------------------

  it('leases: acquire, renew keeps the epoch, takeover after expiry increments it, release', async () => {
    const { store, raw } = ctx;
    const name = unique('lease');
    await store.createTopic({ name, partitionCount: 1 });
    const a = unique('a');
    const b = unique('b');
    const t0 = await raw.now();
    const l1 = (await store.acquirePartitionLease(name, 0, a, 10_000))!;
    assert.equal(l1.epoch, 1);
    assert.equal(l1.leaderAgentId, a);
    assert.ok(l1.leaseExpiresAt >= t0 + 10_000 && l1.leaseExpiresAt <= t0 + 15_000, 'database clock');
    assert.equal((await raw.getPartition(name, 0))!.leaderEpoch, 1);
    assert.equal(await store.acquirePartitionLease(name, 0, b, 10_000), undefined, 'held by a');
    const again = (await store.acquirePartitionLease(name, 0, a, 10_000))!;
    assert.equal(again.epoch, 1, 'holder re-acquiring extends, same epoch');
    const renewed = (await store.renewPartitionLease(name, 0, a, 1, 10_000))!;
    assert.equal(renewed.epoch, 1);
    assert.ok(renewed.leaseExpiresAt >= l1.leaseExpiresAt);
    assert.equal(await store.renewPartitionLease(name, 0, b, 1, 60), undefined, 'not the holder');
    assert.equal(await store.renewPartitionLease(name, 0, a, 2, 60), undefined, 'wrong epoch');
    // Let it run out: shorten it, then wait.
    assert.equal((await store.renewPartitionLease(name, 0, a, 1, 40))!.epoch, 1);
    await sleep(80);
    assert.equal(await store.renewPartitionLease(name, 0, a, 1, 60), undefined, 'expired leases are not renewed');
    const l2 = (await store.acquirePartitionLease(name, 0, b, 10_000))!;
    assert.equal(l2.epoch, 2, 'takeover increments the epoch');
    assert.equal((await raw.getPartition(name, 0))!.leaderEpoch, 2);
    assert.equal(await store.renewPartitionLease(name, 0, a, 1, 60), undefined, 'deposed');
    await store.releasePartitionLease(name, 0, a); // not the holder: no effect
    assert.equal((await raw.listPartitionLeases(name))[0]!.leaderAgentId, b);
    assert.equal(await store.acquirePartitionLease(name, 0, a, 10_000), undefined);
    await store.releasePartitionLease(name, 0, b);
    const l3 = (await store.acquirePartitionLease(name, 0, a, 10_000))!;
    assert.equal(l3.epoch, 3);
    const listed = await store.listPartitionLeases(name);
    assert.deepEqual(listed.map((l) => [l.partitionId, l.leaderAgentId, l.epoch]), [[0, a, 3]]);
    assert.ok((await store.listPartitionLeases()).some((l) => l.topic === name));
    await rejectsWith(store.acquirePartitionLease(name, 1, a, 1000), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(store.acquirePartitionLease(name, 0, a, 0), ErrorCode.INVALID_REQUEST);
  });

  it('leases: an own expired lease re-acquired gets a new epoch', async () => {
    const { store } = ctx;
    const name = unique('relapse');
    await store.createTopic({ name, partitionCount: 1 });
    const a = unique('a');
    const l1 = (await store.acquirePartitionLease(name, 0, a, 30))!;
    await sleep(60);
    const l2 = (await store.acquirePartitionLease(name, 0, a, 10_000))!;
    assert.equal(l2.epoch, l1.epoch + 1);
  });

  it('leases: agents racing for the same partitions, exactly one wins each', async () => {
    const { store, second } = ctx;
    const name = unique('leaserace');
    await store.createTopic({ name, partitionCount: 20 });
    const a = unique('a');
    const b = unique('b');
    const results = await Promise.all(
      [...Array(20).keys()].flatMap((p) => [
        store.acquirePartitionLease(name, p, a, 10_000),
        second.acquirePartitionLease(name, p, b, 10_000),
      ]),
    );
    for (let p = 0; p < 20; p++) {
      const [ra, rb] = [results[2 * p], results[2 * p + 1]];
      assert.equal([ra, rb].filter((r) => r !== undefined).length, 1, `partition ${p}`);
      assert.equal((ra ?? rb)!.epoch, 1);
    }
    // Batch acquisition racing the other way round.
    const other = unique('batchrace');
    await store.createTopic({ name: other, partitionCount: 50 });
    const all = [...Array(50).keys()].map((partitionId) => ({ topic: other, partitionId }));
    const [la, lb] = await Promise.all([store.acquirePartitionLeases(a, all, 10_000), second.acquirePartitionLeases(b, [...all].reverse(), 10_000)]);
    assert.equal(la.length + lb.length, 50);
    const owners = new Set([...la, ...lb].map((l) => l.partitionId));
    assert.equal(owners.size, 50);
  });

  it('leases: batch acquire skips unknown partitions; renewing all of an agent\'s leases', async () => {
    const { store } = ctx;
    const name = unique('batch');
    await store.createTopic({ name, partitionCount: 3 });
    const a = unique('a');
    const got = await store.acquirePartitionLeases(a, [{ topic: name, partitionId: 2 }, { topic: name, partitionId: 0 }, { topic: name, partitionId: 9 }, { topic: name, partitionId: 0 }], 10_000);
    assert.deepEqual(got.map((l) => [l.partitionId, l.epoch]), [[0, 1], [2, 1]]);
    const renewed = await store.renewAgentLeases(a, 20_000);
    assert.deepEqual(renewed.map((l) => l.partitionId).sort(), [0, 2]);
    assert.ok(renewed.every((l) => l.epoch === 1 && l.leaseExpiresAt > got[0]!.leaseExpiresAt));
    await store.releasePartitionLease(name, 0, a);
    assert.deepEqual((await store.renewAgentLeases(a, 20_000)).map((l) => l.partitionId), [2], 'released leases are not revived');
    assert.ok(Math.abs((await store.now()) - Date.now()) < 60_000, 'database clock is sane');
  });

  it('leases: releasing many in one statement, only our own; a retired agent leaves the live set but keeps its leases and node id', async () => {
    const { store } = ctx;
    const name = unique('release');
    await store.createTopic({ name, partitionCount: 3 });
    const a = unique('a');
    const b = unique('b');
    const ra = await store.registerAgent({ agentId: a, host: 'h', port: 1 });
    await store.acquirePartitionLeases(a, [0, 1].map((partitionId) => ({ topic: name, partitionId })), 10_000);
    await store.acquirePartitionLease(name, 2, b, 10_000);
    await store.releasePartitionLeases(a, [{ topic: name, partitionId: 1 }, { topic: name, partitionId: 0 }, { topic: name, partitionId: 2 }]);
    await store.releasePartitionLeases(a, []);
    const leases = new Map((await store.listPartitionLeases(name)).map((l) => [l.partitionId, l]));
    const now = await store.now();
    assert.ok(leases.get(0)!.leaseExpiresAt <= now && leases.get(1)!.leaseExpiresAt <= now, 'released');
    assert.ok(leases.get(2)!.leaseExpiresAt > now, 'another agent\'s lease is untouched');
    assert.equal((await store.acquirePartitionLease(name, 0, b, 10_000))?.epoch, 2);

    await store.acquirePartitionLease(name, 1, a, 10_000);
    await store.retireAgent(a);
    await store.announceClusterChange(a);
    assert.ok(!(await store.listLiveAgents(60_000)).some((x) => x.agentId === a), 'not live once retired');
    assert.deepEqual((await store.renewAgentLeases(a, 10_000)).map((l) => l.partitionId), [1], 'leases kept while handing off');
    await rejectsWith(store.heartbeatAgent(a), ErrorCode.INVALID_REQUEST, /not registered/);
    assert.equal((await store.registerAgent({ agentId: a, host: 'h', port: 1 })).nodeId, ra.nodeId, 'coming back keeps the node id');
    assert.ok((await store.listLiveAgents(60_000)).some((x) => x.agentId === a));
    for (const id of [a, b]) await store.deregisterAgent(id);
  });

  // --- consumer offsets & groups -------------------------------------------------------------------

  it('commits and fetches consumer offsets, singly and in batches', async () => {
    const { store } = ctx;
    const group = unique('group');
    const t = unique('offsets');
    await store.commitOffset(group, { topic: t, partitionId: 0, offset: 10, leaderEpoch: 3, metadata: 'meta' });
    await store.commitOffset(group, { topic: t, partitionId: 0, offset: 12, leaderEpoch: 4, metadata: null, commitTimestamp: 1234 });
    const [one] = await store.fetchOffsets(group);
    assert.deepEqual(one, { groupId: group, topic: t, partitionId: 0, offset: 12, leaderEpoch: 4, metadata: null, commitTimestamp: 1234 });
    const batch = [...Array(100).keys()].map((p) => ({ topic: t, partitionId: p, offset: p * 10, leaderEpoch: -1, metadata: p % 2 ? `m${p}` : null }));
    await store.commitOffsets(group, batch);
    const all = await store.fetchOffsets(group);
    assert.equal(all.length, 100);
    assert.equal(all[7]!.offset, 70);
    assert.equal(all[7]!.metadata, 'm7');
    assert.ok(all[7]!.commitTimestamp > 0);
    const some = await store.fetchOffsets(group, [{ topic: t, partitionId: 5 }, { topic: t, partitionId: 500 }, { topic: unique('x'), partitionId: 0 }]);
    assert.deepEqual(some.map((o) => [o.partitionId, o.offset]), [[5, 50]]);
    // A partition listed twice in one batch: the last one counts.
    await store.commitOffsets(group, [{ topic: t, partitionId: 1, offset: 1, leaderEpoch: 0, metadata: null }, { topic: t, partitionId: 1, offset: 2, leaderEpoch: 0, metadata: null }]);
    assert.equal((await store.fetchOffsets(group, [{ topic: t, partitionId: 1 }]))[0]!.offset, 2);
    await store.deleteOffsets(group, [{ topic: t, partitionId: 1 }, { topic: t, partitionId: 2 }]);
    assert.equal((await store.fetchOffsets(group)).length, 98);
    assert.deepEqual(await store.fetchOffsets(unique('nobody')), []);
    await store.commitOffsets(group, []);
    await rejectsWith(store.commitOffset('', { topic: t, partitionId: 0, offset: 1, leaderEpoch: 0, metadata: null }), ErrorCode.INVALID_GROUP_ID);
    await rejectsWith(store.commitOffsets(group, [{ topic: 'bad name', partitionId: 0, offset: 1, leaderEpoch: 0, metadata: null }]), ErrorCode.INVALID_TOPIC_EXCEPTION);
    await rejectsWith(store.commitOffsets(group, [{ topic: t, partitionId: 0, offset: 1.5, leaderEpoch: 0, metadata: null }]), ErrorCode.INVALID_REQUEST);
  });

  // Shards are one global space shared by every test of the run: each test picks its own far-off numbers.
  const shardBase = () => 1_000_000 + Math.floor(Math.random() * 1_000_000_000);

  it('coordinator leases: acquire, renew keeps the epoch, release and takeover increment it, one statement for many', async () => {
    const { store, raw } = ctx;
    const a = unique('ca');
    const b = unique('cb');
    const s0 = shardBase();
    const t0 = await raw.now();
    const got = await store.acquireCoordinatorLeases(a, [s0 + 2, s0, s0 + 1, s0], 10_000);
    assert.deepEqual(got.map((l) => [l.shard - s0, l.leaderAgentId, l.epoch]), [[0, a, 1], [1, a, 1], [2, a, 1]]);
    assert.ok(got[0]!.leaseExpiresAt >= t0 + 10_000 && got[0]!.leaseExpiresAt <= t0 + 15_000, 'database clock');
    assert.deepEqual(await store.acquireCoordinatorLeases(b, [s0, s0 + 1], 10_000), [], 'held by a');
    assert.deepEqual((await store.acquireCoordinatorLeases(a, [s0], 10_000)).map((l) => l.epoch), [1], 'holder re-acquiring extends');
    const renewed = (await store.renewCoordinatorLeases(a, 20_000)).filter((l) => l.shard >= s0 && l.shard <= s0 + 2);
    assert.deepEqual(renewed.map((l) => [l.shard - s0, l.epoch]).sort(), [[0, 1], [1, 1], [2, 1]]);
    await store.releaseCoordinatorLeases(a, [{ shard: s0, epoch: 7 }]); // wrong epoch: no effect
    await store.releaseCoordinatorLeases(b, [{ shard: s0, epoch: 1 }]); // not the holder: no effect
    assert.deepEqual(await store.acquireCoordinatorLeases(b, [s0], 10_000), []);
    await store.releaseCoordinatorLeases(a, [{ shard: s0, epoch: 1 }]);
    assert.deepEqual((await store.renewCoordinatorLeases(a, 20_000)).filter((l) => l.shard === s0), [], 'released leases are not revived');
    assert.deepEqual((await store.acquireCoordinatorLeases(b, [s0], 10_000)).map((l) => [l.leaderAgentId, l.epoch]), [[b, 2]], 'handoff: next epoch');
    // Expiry: a's own expired lease comes back with a new epoch.
    await store.acquireCoordinatorLeases(a, [s0 + 3], 30);
    await sleep(60);
    assert.deepEqual((await store.renewCoordinatorLeases(a, 20_000)).filter((l) => l.shard === s0 + 3), [], 'expired leases are not renewed');
    assert.deepEqual((await store.acquireCoordinatorLeases(a, [s0 + 3], 10_000)).map((l) => l.epoch), [2]);
    const listed = (await raw.listCoordinatorLeases()).filter((l) => l.shard >= s0 && l.shard <= s0 + 3);
    assert.deepEqual(listed.map((l) => [l.shard - s0, l.leaderAgentId, l.epoch]), [[0, b, 2], [1, a, 1], [2, a, 1], [3, a, 2]]);
    // Leaving agents end their shard leases too.
    await store.registerAgent({ agentId: a, host: 'h', port: 1 });
    await store.deregisterAgent(a);
    assert.deepEqual((await store.acquireCoordinatorLeases(b, [s0 + 1], 10_000)).map((l) => l.epoch), [2]);
    await rejectsWith(store.acquireCoordinatorLeases(a, [1.5], 1000), ErrorCode.INVALID_REQUEST);
    await rejectsWith(store.acquireCoordinatorLeases(a, [s0], 0), ErrorCode.INVALID_REQUEST);
  });

  it('coordinator leases: agents racing for the same shards, exactly one wins each', async () => {
    const { store, second } = ctx;
    const a = unique('ra');
    const b = unique('rb');
    const s0 = shardBase();
    const shards = [...Array(50).keys()].map((i) => s0 + i);
    const [la, lb] = await Promise.all([store.acquireCoordinatorLeases(a, shards, 10_000), second.acquireCoordinatorLeases(b, [...shards].reverse(), 10_000)]);
    assert.equal(la.length + lb.length, 50);
    assert.equal(new Set([...la, ...lb].map((l) => l.shard)).size, 50);
    assert.ok([...la, ...lb].every((l) => l.epoch === 1));
  });

  it('group and offset writes carrying a shard epoch are refused once it is stale, and write nothing', async () => {
    const { store, raw } = ctx;
    const t = unique('fenced');
    await store.createTopic({ name: t, partitionCount: 2 });
    const group = unique('fg');
    const a = unique('fa');
    const b = unique('fb');
    const shard = shardBase();
    const [lease] = await store.acquireCoordinatorLeases(a, [shard], 10_000);
    const fence = { shard, agentId: a, epoch: lease!.epoch };
    const record = { groupId: group, state: 'Stable', protocolType: 'consumer', protocolName: 'range', generation: 1, leaderId: 'm', members: [], createdAt: 0, updatedAt: 0 };
    const at = (offset: number) => ({ topic: t, partitionId: 0, offset, leaderEpoch: -1, metadata: null });
    await store.saveGroup(record, [at(1)], fence);
    await store.commitOffsets(group, [at(5), { ...at(6), partitionId: 1 }], fence);
    assert.deepEqual((await raw.fetchOffsets(group)).map((o) => o.offset), [5, 6]);
    await store.deleteOffsets(group, [{ topic: t, partitionId: 1 }], fence);
    assert.deepEqual((await raw.fetchOffsets(group)).map((o) => o.offset), [5]);

    // Another agent's epoch, a wrong epoch, an unknown shard: refused.
    await rejectsWith(store.commitOffsets(group, [at(7)], { ...fence, agentId: b }), ErrorCode.NOT_COORDINATOR, /no longer holds coordinator shard/);
    await rejectsWith(store.commitOffsets(group, [at(7)], { ...fence, epoch: fence.epoch + 1 }), ErrorCode.NOT_COORDINATOR);
    await rejectsWith(store.saveGroup({ ...record, generation: 2 }, [], { ...fence, shard: shard + 1 }), ErrorCode.NOT_COORDINATOR);

    // Handed off: a's writes at its old epoch are refused, b's at the new one go through.
    await store.releaseCoordinatorLeases(a, [{ shard, epoch: fence.epoch }]);
    await rejectsWith(store.commitOffsets(group, [at(8)], fence), ErrorCode.NOT_COORDINATOR);
    await rejectsWith(store.saveGroup({ ...record, generation: 9 }, [at(9)], fence), ErrorCode.NOT_COORDINATOR);
    await rejectsWith(store.deleteOffsets(group, [{ topic: t, partitionId: 0 }], fence), ErrorCode.NOT_COORDINATOR);
    await rejectsWith(store.expireOffsets(group, Date.now() + 60_000, undefined, fence), ErrorCode.NOT_COORDINATOR);
    await rejectsWith(store.deleteGroup(group, fence), ErrorCode.NOT_COORDINATOR);
    assert.equal((await raw.getGroup(group))!.generation, 1, 'nothing of a stale write landed');
    assert.deepEqual((await raw.fetchOffsets(group)).map((o) => o.offset), [5]);
    const [next] = await store.acquireCoordinatorLeases(b, [shard], 10_000);
    assert.equal(next!.epoch, fence.epoch + 1);
    const fenceB = { shard, agentId: b, epoch: next!.epoch };
    await store.saveGroup({ ...record, generation: 2 }, [at(10)], fenceB);
    assert.equal((await raw.getGroup(group))!.generation, 2);
    assert.deepEqual((await raw.fetchOffsets(group)).map((o) => o.offset), [10]);

    // Expired on the database clock, even with nobody taking over: refused.
    await store.acquireCoordinatorLeases(b, [shard], 30);
    await sleep(60);
    await rejectsWith(store.commitOffsets(group, [at(11)], fenceB), ErrorCode.NOT_COORDINATOR);
    const [again] = await store.acquireCoordinatorLeases(b, [shard], 10_000);
    const fenceB2 = { shard, agentId: b, epoch: again!.epoch };
    assert.equal(fenceB2.epoch, fenceB.epoch + 1);
    assert.equal(await store.expireOffsets(group, Date.now() + 60_000, undefined, fenceB2), 1);
    assert.equal(await store.deleteGroup(group, fenceB2), true);
    assert.equal(await raw.getGroup(group), undefined);
  });

  it('offset expiry: groups with offsets older than a time; deleting those (of some topics only)', async () => {
    const { store } = ctx;
    const old = unique('exp-old');
    const fresh = unique('exp-fresh');
    const [a, b] = [unique('exp-a'), unique('exp-b')];
    const o = (topic: string, partitionId: number, commitTimestamp: number) => ({ topic, partitionId, offset: 5, leaderEpoch: -1, metadata: null, commitTimestamp });
    await store.commitOffsets(old, [o(a, 0, 1_000), o(a, 1, 1_000), o(b, 0, 1_000), o(b, 1, 50_000)]);
    await store.commitOffsets(fresh, [o(a, 0, 50_000)]);
    const listed = await store.listGroupsWithOffsetsBefore(10_000);
    assert.ok(listed.includes(old) && !listed.includes(fresh), String(listed));
    assert.equal(await store.expireOffsets(old, 10_000, [a]), 2);
    assert.deepEqual((await store.fetchOffsets(old)).map((x) => [x.topic, x.partitionId]), [[b, 0], [b, 1]]);
    assert.equal(await store.expireOffsets(old, 10_000, []), 0);
    assert.equal(await store.expireOffsets(old, 10_000), 1, 'only what is older than the time goes');
    assert.deepEqual((await store.fetchOffsets(old)).map((x) => [x.topic, x.partitionId]), [[b, 1]]);
    assert.equal(await store.expireOffsets(fresh, 10_000), 0);
    assert.ok(!(await store.listGroupsWithOffsetsBefore(10_000)).includes(old));
    await rejectsWith(store.expireOffsets('', 10_000), ErrorCode.INVALID_GROUP_ID);
  });

  it('saves, reads, lists and deletes group records (offsets go with the group)', async () => {
    const { store } = ctx;
    const groupId = unique('cg');
    const t = unique('gt');
    const members = [{ memberId: 'm-1', clientId: 'c', subscription: 'AAEC', assignment: null }];
    await store.saveGroup(
      { groupId, state: 'Stable', protocolType: 'consumer', protocolName: 'range', generation: 3, leaderId: 'm-1', members, createdAt: 0, updatedAt: 0 },
      [{ topic: t, partitionId: 0, offset: 42, leaderEpoch: 1, metadata: '' }],
    );
    const g = (await store.getGroup(groupId))!;
    assert.equal(g.state, 'Stable');
    assert.equal(g.protocolType, 'consumer');
    assert.equal(g.protocolName, 'range');
    assert.equal(g.generation, 3);
    assert.equal(g.leaderId, 'm-1');
    assert.deepEqual(g.members, members);
    assert.ok(g.createdAt > 0 && g.updatedAt >= g.createdAt);
    assert.equal((await store.fetchOffsets(groupId))[0]!.offset, 42);
    await store.saveGroup({ ...g, state: 'Empty', generation: 4, leaderId: null, members: [] });
    const g2 = (await store.getGroup(groupId))!;
    assert.equal(g2.generation, 4);
    assert.equal(g2.createdAt, g.createdAt, 'created_at kept');
    assert.deepEqual(g2.members, []);
    // A group with only committed offsets (standalone consumer) reads as an Empty group.
    const standalone = unique('standalone');
    await store.commitOffset(standalone, { topic: t, partitionId: 0, offset: 1, leaderEpoch: -1, metadata: null });
    const s = (await store.getGroup(standalone))!;
    assert.equal(s.state, 'Empty');
    assert.equal(s.generation, 0);
    const listed = await store.listGroups();
    assert.ok(listed.some((x) => x.groupId === groupId && x.state === 'Empty' && x.generation === 4));
    assert.ok(listed.some((x) => x.groupId === standalone));
    assert.equal(await store.deleteGroup(groupId), true);
    assert.equal(await store.getGroup(groupId), undefined);
    assert.deepEqual(await store.fetchOffsets(groupId), []);
    assert.equal(await store.deleteGroup(groupId), false);
    assert.equal(await store.deleteGroup(standalone), true);
    assert.equal(await store.getGroup(standalone), undefined);
    assert.equal(await store.getGroup(unique('never')), undefined);
  });

  it('committed offsets keep negative values as Kafka does (kafkajs resets a group by committing -2 or -1)', async () => {
    const { store } = ctx;
    const t = unique('reset-offsets');
    const g = unique('g');
    await store.commitOffsets(g, [
      { topic: t, partitionId: 0, offset: 5, leaderEpoch: -1, metadata: null },
      { topic: t, partitionId: 1, offset: 5, leaderEpoch: -1, metadata: null },
    ]);
    await store.commitOffsets(g, [
      { topic: t, partitionId: 0, offset: -2, leaderEpoch: -1, metadata: null },
      { topic: t, partitionId: 1, offset: -1, leaderEpoch: -1, metadata: null },
    ]);
    await store.commitOffset(g, { topic: t, partitionId: 2, offset: -5, leaderEpoch: -1, metadata: null });
    assert.deepEqual((await store.fetchOffsets(g)).map((o) => [o.partitionId, o.offset]), [[0, -2], [1, -1], [2, -5]]);
    await assert.rejects(store.commitOffset(g, { topic: t, partitionId: 0, offset: 0.5, leaderEpoch: -1, metadata: null }));
    assert.equal(await store.deleteGroup(g), true);
  });

  // --- client strings (issue 12) ------------------------------------------------------------------
  // Kafka strings may hold any character. NUL is the one PostgreSQL's text refuses; U+0001 is the
  // store's escape character; the others check that nothing else is transformed on the way.
  const ODD = ['nul\u0000inside', '\u0000', '\u0001', '\u00010', '\u00011', '\u0001\u0000\u0001', '\u0000\u0000', 'back\\slash \\u0000 "quoted"', '\ufffd é 😀 \u2028', ' spaced '];

  it('committed offsets round-trip any group id and metadata, NUL included', async () => {
    const { store } = ctx;
    const t = unique('odd-offsets');
    const groups = ODD.map((s) => `${unique('g')}${s}`);
    for (const [i, group] of groups.entries()) {
      const offsets = ODD.map((metadata, p) => ({ topic: t, partitionId: p, offset: 100 + p, leaderEpoch: 1, metadata, commitTimestamp: 1_000 + i }));
      await store.commitOffsets(group, offsets);
      const back = await store.fetchOffsets(group);
      assert.deepEqual(back.map((o) => [o.groupId, o.partitionId, o.offset, o.metadata]), offsets.map((o) => [group, o.partitionId, o.offset, o.metadata]));
      await store.commitOffset(group, { topic: t, partitionId: 0, offset: 7, leaderEpoch: 1, metadata: `${ODD[i]}!` });
      const [one] = await store.fetchOffsets(group, [{ topic: t, partitionId: 0 }]);
      assert.equal(one!.metadata, `${ODD[i]}!`);
      assert.equal((await store.getGroup(group))?.groupId, group, 'a group with only offsets reads back under its id');
    }
    // Ids that differ only where an escape would be ambiguous are different groups.
    const twins = [`${t}\u0000`, `${t}\u00010`, `${t}\u0001`, `${t}\u00011`];
    for (const [i, g] of twins.entries()) await store.commitOffset(g, { topic: t, partitionId: 0, offset: i, leaderEpoch: -1, metadata: null });
    for (const [i, g] of twins.entries()) assert.deepEqual((await store.fetchOffsets(g)).map((o) => o.offset), [i], JSON.stringify(g));
    const listed = await store.listGroupsWithOffsetsBefore(1_000 + groups.length);
    for (const g of groups) assert.ok(listed.includes(g), JSON.stringify(g));
    const all = await store.listGroups();
    for (const g of [...groups, ...twins]) assert.ok(all.some((x) => x.groupId === g), JSON.stringify(g));
    await store.deleteOffsets(groups[0]!, [{ topic: t, partitionId: 1 }]);
    assert.equal((await store.fetchOffsets(groups[0]!)).length, ODD.length - 1);
    assert.equal(await store.expireOffsets(groups[1]!, 1_000 + groups.length, [t]), ODD.length - 1, 'all but the recommitted partition 0');
    for (const g of [...groups, ...twins]) assert.equal(await store.deleteGroup(g), true, JSON.stringify(g));
    assert.deepEqual(await store.fetchOffsets(groups[0]!), []);
  });

  it('group records round-trip any protocol, leader, member and client string', async () => {
    const { store } = ctx;
    for (const s of ODD) {
      const groupId = `${unique('cg-odd')}${s}`;
      const members = [{ memberId: `m${s}`, groupInstanceId: s, clientId: s, clientHost: `/${s}`, protocols: [s, 'range'], subscription: 'AAEC', assignment: '' }];
      const record = { groupId, state: 'Stable', protocolType: `consumer${s}`, protocolName: s, generation: 2, leaderId: `m${s}`, members, createdAt: 0, updatedAt: 0 };
      await store.saveGroup(record, [{ topic: unique('cg-odd-t'), partitionId: 0, offset: 1, leaderEpoch: -1, metadata: s }]);
      const g = (await store.getGroup(groupId))!;
      assert.deepEqual([g.groupId, g.protocolType, g.protocolName, g.leaderId, g.members], [groupId, record.protocolType, s, `m${s}`, members]);
      assert.ok((await store.listGroups()).some((x) => x.groupId === groupId && x.protocolName === s && x.leaderId === `m${s}`));
      assert.equal((await store.fetchOffsets(groupId))[0]!.metadata, s);
      assert.equal(await store.deleteGroup(groupId), true);
    }
  });

  it('topic configs round-trip any name and value', async () => {
    const { store } = ctx;
    const name = unique('conf-odd');
    const config = Object.fromEntries(ODD.map((s, i) => [`k${i}${s}`, s]));
    assert.deepEqual((await store.createTopic({ name, partitionCount: 1, config })).config, config);
    assert.deepEqual((await ctx.raw.getTopic(name))!.config, config);
    const next = { 'v\u0000': '\u0000\u0001' };
    assert.deepEqual((await store.updateTopicConfig(name, next)).config, next);
    assert.deepEqual((await ctx.raw.getTopic(name))!.config, next);
  });

  it('huge metadata, the longest group id and strings without a UTF-8 form: stored whole or refused, never retriable', async () => {
    const { store } = ctx;
    const t = unique('odd-limits');
    // Far beyond offset.metadata.max.bytes (the coordinator's check), still stored whole.
    const big = '\u0000\u0001x😀'.repeat(50_000);
    const group = unique('big');
    await store.commitOffset(group, { topic: t, partitionId: 0, offset: 1, leaderEpoch: -1, metadata: big });
    assert.equal((await store.fetchOffsets(group))[0]!.metadata, big);
    // 1024 bytes of characters that are all escaped, so the stored key is as long as it gets, with the
    // longest topic name next to it in the offsets' primary key.
    let longest = '';
    for (let i = 0; i < 1024; i++) longest += Math.random() < 0.5 ? '\u0000' : '\u0001';
    const longTopic = `${t}-${'x'.repeat(249 - t.length - 1)}`;
    await store.commitOffset(longest, { topic: longTopic, partitionId: 0, offset: 3, leaderEpoch: -1, metadata: null });
    assert.deepEqual((await store.fetchOffsets(longest)).map((o) => [o.groupId, o.topic, o.offset]), [[longest, longTopic, 3]]);
    await store.saveGroup({ groupId: longest, state: 'Empty', protocolType: null, protocolName: null, generation: 1, leaderId: null, members: [], createdAt: 0, updatedAt: 0 });
    assert.equal((await store.getGroup(longest))!.generation, 1);
    assert.equal(await store.deleteGroup(longest), true);
    const tooLong = 'é'.repeat(513);
    await rejectsWith(store.commitOffset(tooLong, { topic: t, partitionId: 0, offset: 1, leaderEpoch: -1, metadata: null }), ErrorCode.INVALID_GROUP_ID, /1026 bytes/);
    await rejectsWith(store.saveGroup({ groupId: tooLong, state: 'Empty', protocolType: null, protocolName: null, generation: 1, leaderId: null, members: [], createdAt: 0, updatedAt: 0 }), ErrorCode.INVALID_GROUP_ID);
    assert.equal(await store.getGroup(tooLong), undefined);
    // A lone surrogate cannot come off the wire (UTF-8 is decoded with replacement) and is refused
    // rather than stored altered.
    await rejectsWith(store.commitOffset(group, { topic: t, partitionId: 1, offset: 1, leaderEpoch: -1, metadata: 'a\ud800b' }), ErrorCode.INVALID_REQUEST, /surrogate/);
    await rejectsWith(store.commitOffset(`${group}\udc00`, { topic: t, partitionId: 1, offset: 1, leaderEpoch: -1, metadata: null }), ErrorCode.INVALID_REQUEST, /surrogate/);
    assert.deepEqual((await store.fetchOffsets(group)).map((o) => o.partitionId), [0]);
  });

  // --- agents --------------------------------------------------------------------------------------

  it('registers agents with stable node ids, heartbeats, lists the live ones', async () => {
    const { store } = ctx;
    const a = unique('agentA');
    const b = unique('agentB');
    const ra = await store.registerAgent({ agentId: a, host: 'h1', port: 9092, rack: 'r1' });
    const rb = await store.registerAgent({ agentId: b, host: 'h2', port: 9093 });
    assert.notEqual(ra.nodeId, rb.nodeId);
    assert.ok(ra.nodeId >= 0 && rb.nodeId >= 0);
    assert.equal(ra.rack, 'r1');
    assert.equal(rb.rack, null);
    const again = await store.registerAgent({ agentId: a, host: 'h1b', port: 9094 });
    assert.equal(again.nodeId, ra.nodeId, 'node id kept on re-registration');
    assert.equal(again.host, 'h1b');
    await store.heartbeatAgent(a);
    const live = await store.listLiveAgents(60_000);
    assert.ok(live.some((x) => x.agentId === a && x.port === 9094));
    assert.ok(live.some((x) => x.agentId === b));
    await sleep(250);
    await store.heartbeatAgent(a);
    const recent = await store.listLiveAgents(150);
    assert.ok(recent.some((x) => x.agentId === a));
    assert.ok(!recent.some((x) => x.agentId === b), 'b has not sent a heartbeat for 250 ms');
    // Explicit node ids: taken from a live agent is refused, from a stale one is taken over.
    const explicit = 50_000 + (counter % 1000);
    const c = unique('agentC');
    assert.equal((await store.registerAgent({ agentId: c, host: 'h3', port: 1, nodeId: explicit })).nodeId, explicit);
    const d = unique('agentD');
    await rejectsWith(store.registerAgent({ agentId: d, host: 'h4', port: 1, nodeId: explicit }), ErrorCode.INVALID_REQUEST, /node id/);
    await sleep(30);
    assert.equal((await store.registerAgent({ agentId: d, host: 'h4', port: 1, nodeId: explicit, staleAfterMs: 10 })).nodeId, explicit);
    assert.ok(!(await store.listLiveAgents(60_000)).some((x) => x.agentId === c), 'stale holder replaced');
    // Leaving ends the agent's leases at once.
    const name = unique('agentlease');
    await store.createTopic({ name, partitionCount: 1 });
    await store.acquirePartitionLease(name, 0, a, 60_000);
    await store.deregisterAgent(a);
    assert.ok(!(await store.listLiveAgents(60_000)).some((x) => x.agentId === a));
    await rejectsWith(store.heartbeatAgent(a), ErrorCode.INVALID_REQUEST, /not registered/);
    assert.equal((await store.acquirePartitionLease(name, 0, b, 10_000))?.epoch, 2);
    for (const id of [b, d]) await store.deregisterAgent(id);
  });

  it('lists every registered agent, live, retired or stale, by node id', async () => {
    const { store } = ctx;
    const a = unique('la');
    const b = unique('lb');
    const ra = await store.registerAgent({ agentId: a, host: 'h', port: 1 });
    const rb = await store.registerAgent({ agentId: b, host: 'h', port: 2, rack: 'r1' });
    await store.retireAgent(b);
    const listed = (await store.listAgents()).filter((x) => x.agentId === a || x.agentId === b);
    assert.deepEqual(listed.map((x) => x.agentId), ra.nodeId < rb.nodeId ? [a, b] : [b, a]);
    const lb = listed.find((x) => x.agentId === b)!;
    assert.equal(lb.lastHeartbeat, 0, 'retired: heartbeat lapsed');
    assert.equal(lb.rack, 'r1');
    assert.equal(lb.port, 2);
    assert.ok(!(await store.listLiveAgents(60_000)).some((x) => x.agentId === b));
    for (const id of [a, b]) await store.deregisterAgent(id);
    assert.ok(!(await store.listAgents()).some((x) => x.agentId === a || x.agentId === b));
  });

  it('an agent id belongs to one live agent: a second registration within the liveness window is refused, a stale row is taken over', async () => {
    const { store } = ctx;
    const id = unique('agentSame');
    const first = await store.registerAgent({ agentId: id, host: 'host-a', port: 9092, liveWithinMs: 60_000 });
    // A second agent under the same id while the first is live: refused, nothing changed, the holder named.
    await assert.rejects(store.registerAgent({ agentId: id, host: 'host-b', port: 9093, liveWithinMs: 60_000 }), (err: unknown) => {
      assert.ok(err instanceof AgentIdInUseError, String(err));
      assert.equal(err.code, ErrorCode.INVALID_REQUEST);
      assert.equal(err.holder.host, 'host-a');
      assert.equal(err.holder.port, 9092);
      assert.equal(err.holder.nodeId, first.nodeId);
      assert.match(err.message, new RegExp(`agent id ${id} is in use by a live agent at host-a:9092 \\(node id ${first.nodeId}, last heartbeat \\d+ ms ago\\)`));
      return true;
    });
    const live = (await store.listLiveAgents(60_000)).filter((a) => a.agentId === id);
    assert.deepEqual(live.map((a) => [a.host, a.port, a.nodeId]), [['host-a', 9092, first.nodeId]], 'the refused agent changed nothing');
    // Once its heartbeat is older than the window, the row is a dead agent's: taken over with its node id.
    await sleep(60);
    const taken = await store.registerAgent({ agentId: id, host: 'host-b', port: 9093, liveWithinMs: 30 });
    assert.deepEqual([taken.host, taken.port, taken.nodeId], ['host-b', 9093, first.nodeId]);
    // Without a window (the agent's own re-registration, or a restart on the data directory whose
    // previous process is known to be dead) the row is always taken over.
    const again = await store.registerAgent({ agentId: id, host: 'host-c', port: 9094 });
    assert.equal(again.nodeId, first.nodeId);
    // A restart whose predecessor is known to be dead takes over a live row only at its own address.
    await rejectsWith(store.registerAgent({ agentId: id, host: 'host-d', port: 9094, liveWithinMs: 60_000, takeOverSameAddress: true }), ErrorCode.INVALID_REQUEST, /in use by a live agent at host-c:9094/);
    const restarted = await store.registerAgent({ agentId: id, host: 'host-c', port: 9094, liveWithinMs: 60_000, takeOverSameAddress: true });
    assert.equal(restarted.nodeId, first.nodeId);
    // Two new agents racing for one new id: exactly one registers.
    const racing = unique('agentRace');
    const results = await Promise.allSettled([0, 1, 2].map((i) => store.registerAgent({ agentId: racing, host: `h${i}`, port: 1000 + i, liveWithinMs: 60_000 })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AgentIdInUseError, String(r.reason));
    // Node ids stay unique.
    const nodeIds = (await store.listLiveAgents(60_000)).map((a) => a.nodeId);
    assert.equal(new Set(nodeIds).size, nodeIds.length);
    for (const x of [id, racing]) await store.deregisterAgent(x);
  });

  it('ACLs: created once, listed, deleted exactly; client strings round-trip', async () => {
    const { store, second, raw } = ctx;
    const name = unique('acl-topic');
    const principal = `User:${unique('p')}\u0000\u0001x`;
    const read: AclBinding = { resourceType: 2, resourceName: name, patternType: 3, principal, host: '*', operation: 3, permissionType: 3 };
    const deny: AclBinding = { ...read, patternType: 4, operation: 4, permissionType: 2, host: '10.0.0.1' };
    const mine = async (s: MetadataStore) => (await s.listAcls()).filter((b) => b.principal === principal);
    assert.equal(await store.createAcls([read, deny, read]), 2);
    assert.equal(await second.createAcls([read]), 0, 'an existing ACL is not created twice');
    assert.deepEqual(await mine(raw), [read, deny]);
    assert.deepEqual(await store.deleteAcls([deny, { ...deny, host: 'other' }]), [deny]);
    assert.deepEqual(await mine(raw), [read]);
    assert.deepEqual(await store.deleteAcls([deny]), []);
    await store.deleteAcls([read]);
    assert.deepEqual(await mine(raw), []);
  });
}

/**
 * Copies the real migrations into `folder` and appends one named 9999_broken_on_purpose whose SQL is
 * `sql` (it should fail, e.g. by creating a table that exists).
 */
export function writeBrokenMigrations(folder: string, sql: string): void {
  cpSync(defaultMigrationsFolder(), folder, { recursive: true });
  const journalFile = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<Record<string, unknown>> };
  const last = journal.entries[journal.entries.length - 1]!;
  journal.entries.push({ ...last, idx: journal.entries.length, when: Number(last.when) + 1000, tag: '9999_broken_on_purpose' });
  writeFileSync(journalFile, JSON.stringify(journal));
  writeFileSync(join(folder, '9999_broken_on_purpose.sql'), sql);
}

