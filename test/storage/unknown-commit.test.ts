// Issue 12: a flush commit whose outcome was unknown (the metadata store went away mid-commit) is
// answered REQUEST_TIMED_OUT, and the partition resyncs in the background. By the time the check
// learns the commit applied, the Produce handler has settled and its request frame is released
// (the arena overwrites it with 0xdd in tests): nothing may read those bytes any more. And the
// producer's retry of that batch must get the offsets it has, or be written once if it did not commit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../../metadata/index.js';
import { CachedMetadataStore } from '../../metadata/cache.js';
import type { MetadataStore } from '../../metadata/types.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { PgCuttingProxy } from '../helpers/pg-cutting-proxy.js';
import { rig } from './setup.js';

function isKafka(code: number) {
  return (e: unknown) => e instanceof KafkaError && e.code === code;
}

/** What the frame arena does to a Produce frame once the handler has answered (poison mode). */
function release(frame: Buffer): void {
  frame.fill(0xdd);
}

/** Waits for the background check to learn the outcome and reopen the partition. */
async function untilOpen(writer: SegmentWriter, topic = 't'): Promise<void> {
  for (let i = 0; i < 2000 && !writer.isOpen(topic, 0); i++) await new Promise((res) => setTimeout(res, 5));
  assert.equal(writer.isOpen(topic, 0), true, 'the partition resynced');
}

/** Three records whose values are `fill` repeated: batches of the same length for every fill. */
const batchOf = (fill: string) => buildRecordBatchSync({ records: Array.from({ length: 3 }, (_, i) => ({ key: `k${i}`, value: fill.repeat(40), timestamp: 1 })) });

const idem = (baseSequence: number, records = 2) =>
  buildRecordBatchSync({ producerId: 21, producerEpoch: 0, baseSequence, records: Array.from({ length: records }, (_, i) => ({ value: `s${baseSequence + i}`, timestamp: 1 })) });

test('a commit found applied after its produce was answered: tail readers get its records, not what reused the frame', async () => {
  const r = await rig({ commitResolveTimeoutMs: 30 });
  const reader = r.newReader();
  r.writer.onCommit((e) => reader.onCommitted(e));
  try {
    const first = batchOf('a');
    await r.writer.append('t', 0, first); // offsets 0-2, in the tail cache
    const other = batchOf('b');
    await r.writer.append('t', 1, other);
    const frame = batchOf('c');
    r.meta.faults.commitThrowsAfterApply = 1;
    r.meta.faults.findThrows = 1_000_000;
    await assert.rejects(r.writer.append('t', 0, frame), isKafka(ErrorCode.REQUEST_TIMED_OUT));
    const stored = Buffer.from(frame); // as committed: offsets 3-5 assigned in place
    release(frame);
    // The arena hands the memory to the next request: a batch as long, for partition 1 (offsets 3-5 there).
    const reuse = batchOf('d');
    assert.equal(reuse.length, frame.length);
    reuse.copy(frame);
    assert.deepEqual(await r.writer.append('t', 1, frame), { baseOffset: 3, lastOffset: 5 });
    const reused = Buffer.from(frame);
    r.meta.faults.findThrows = 0;
    await untilOpen(r.writer);
    assert.equal(r.writer.highWatermark('t', 0), 6, 'the commit had applied');
    assert.deepEqual(await reader.read('t', 0, 3, 1 << 20, 6), [stored]);
    assert.deepEqual(await reader.read('t', 0, 0, 1 << 20, 6), [first, stored]);
    assert.deepEqual(await reader.read('t', 1, 0, 1 << 20, 6), [other, reused]);
    // The tail goes on from the next commit.
    const next = batchOf('e');
    assert.deepEqual(await r.writer.append('t', 0, next), { baseOffset: 6, lastOffset: 8 });
    assert.deepEqual(await reader.read('t', 0, 0, 1 << 20, 9), [first, stored, next]);
    assert.deepEqual(await reader.read('t', 0, 6, 1 << 20, 9), [next]);
  } finally {
    await r.cleanup();
  }
});

test('an idempotent retry of a batch whose unknown commit applied gets its original offsets, and it is stored once', async () => {
  const r = await rig({ commitResolveTimeoutMs: 30 });
  try {
    assert.deepEqual(await r.writer.append('t', 0, idem(0)), { baseOffset: 0, lastOffset: 1 });
    r.meta.faults.commitThrowsAfterApply = 1;
    r.meta.faults.findThrows = 1_000_000;
    const frame = idem(2);
    await assert.rejects(r.writer.append('t', 0, frame), isKafka(ErrorCode.REQUEST_TIMED_OUT));
    release(frame);
    // While the outcome is unknown the retry is refused (retriable), neither written nor answered as a duplicate.
    await assert.rejects(r.writer.append('t', 0, idem(2)), isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
    r.meta.faults.findThrows = 0;
    await untilOpen(r.writer);
    assert.deepEqual(await r.writer.append('t', 0, idem(2)), { baseOffset: 2, lastOffset: 3 }, 'the retry gets the offsets it has');
    assert.deepEqual(await r.writer.append('t', 0, idem(2)), { baseOffset: 2, lastOffset: 3 }, 'and so does the next one');
    assert.deepEqual(await r.writer.append('t', 0, idem(4)), { baseOffset: 4, lastOffset: 5 }, 'the producer goes on');
    assert.equal(r.writer.highWatermark('t', 0), 6);
    assert.deepEqual(r.meta.segments('t', 0).map((s) => [s.baseOffset, s.endOffset]), [[0, 1], [2, 3], [4, 5]], 'every batch once');
  } finally {
    await r.cleanup();
  }
});

test('an idempotent retry of a batch whose unknown commit did not apply is written once', async () => {
  const r = await rig({ commitResolveTimeoutMs: 30 });
  try {
    assert.deepEqual(await r.writer.append('t', 0, idem(0)), { baseOffset: 0, lastOffset: 1 });
    r.meta.faults.commitThrows = 1;
    r.meta.faults.findThrows = 1_000_000;
    const frame = idem(2);
    await assert.rejects(r.writer.append('t', 0, frame), isKafka(ErrorCode.REQUEST_TIMED_OUT));
    release(frame);
    r.meta.faults.findThrows = 0;
    await untilOpen(r.writer);
    assert.equal(r.writer.highWatermark('t', 0), 2, 'the commit had not applied');
    assert.deepEqual(await r.writer.append('t', 0, idem(2)), { baseOffset: 2, lastOffset: 3 }, 'the retry is written');
    assert.deepEqual(await r.writer.append('t', 0, idem(2)), { baseOffset: 2, lastOffset: 3 }, 'a second retry is its duplicate');
    assert.deepEqual(await r.writer.append('t', 0, idem(4)), { baseOffset: 4, lastOffset: 5 });
    assert.deepEqual(r.meta.segments('t', 0).map((s) => [s.baseOffset, s.endOffset]), [[0, 1], [2, 3], [4, 5]], 'every batch once');
  } finally {
    await r.cleanup();
  }
});

describe('on PostgreSQL, through a connection lost after the commit applied', { skip: findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false }, () => {
  let pgServer: PostgresServer;
  let proxy: PgCuttingProxy;
  let store: MetadataStore;
  let dir: string;
  before(async () => {
    pgServer = await startPostgres();
    const url = new URL(await pgServer.createDatabase());
    proxy = await PgCuttingProxy.start(pgServer.port);
    url.port = String(proxy.port);
    store = await openMetadataStore({ databaseUrl: url.toString(), dataDir: '' });
    dir = await mkdtemp(join(tmpdir(), 'streamhouse-unknown-commit-'));
  });
  after(async () => {
    await store?.close();
    await proxy?.stop();
    await pgServer?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('the retry gets the batch its offsets, consumers read it back, and it is stored once', async () => {
    const meta = new CachedMetadataStore(store);
    const objects = new LocalObjectStore({ kind: 'local', dir, fsync: false });
    const topic = 'unknown-commit';
    await meta.createTopic({ name: topic, partitionCount: 1 });
    const writer = new SegmentWriter({ objectStore: objects, metadata: meta, agentId: 'agent-a', flushMs: 2, commitRetryDelayMs: 5, commitResolveTimeoutMs: 300 });
    const reader = new SegmentReader({ objectStore: objects, metadata: meta });
    writer.onCommit((e) => reader.onCommitted(e));
    const lease = await meta.acquirePartitionLease(topic, 0, 'agent-a', 60_000);
    assert.ok(lease);
    writer.openPartition(topic, 0, { leaseEpoch: lease.epoch, highWatermark: 0 });
    try {
      const first = idem(0);
      assert.deepEqual(await writer.append(topic, 0, first), { baseOffset: 0, lastOffset: 1 });
      proxy.cutAfter('sh_commit_flush');
      const frame = idem(2);
      await assert.rejects(writer.append(topic, 0, frame), isKafka(ErrorCode.REQUEST_TIMED_OUT));
      assert.equal(proxy.cuts, 1, 'the commit answer was lost');
      const stored = Buffer.from(frame);
      release(frame);
      await assert.rejects(writer.append(topic, 0, idem(2)), isKafka(ErrorCode.KAFKA_STORAGE_ERROR));
      proxy.up();
      await untilOpen(writer, topic);
      assert.equal(writer.highWatermark(topic, 0), 4, 'the commit had applied');
      assert.deepEqual(await writer.append(topic, 0, idem(2)), { baseOffset: 2, lastOffset: 3 }, 'the retry gets the offsets it has');
      const next = idem(4);
      assert.deepEqual(await writer.append(topic, 0, next), { baseOffset: 4, lastOffset: 5 });
      assert.deepEqual((await store.listSegments(topic, 0)).map((s) => [s.baseOffset, s.endOffset]), [[0, 1], [2, 3], [4, 5]], 'every batch once');
      assert.deepEqual(await reader.read(topic, 0, 0, 1 << 20, 6), [first, stored, next]);
    } finally {
      await writer.close();
    }
  });
});
