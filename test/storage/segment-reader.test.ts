import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { readBatchHeader } from '../../protocol/record-batch.js';
import { makeBatch } from './batches.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { recordingLogger, rig, type Rig } from './setup.js';

const offsetsOf = (bs: Buffer[]) => bs.map((b) => readBatchHeader(b).baseOffset);

/** Appends `n` batches of `records` records each to partition p, one flush cycle per `perCycle`. */
async function fill(r: Rig, p: number, n: number, perCycle: number, spec: Parameters<typeof makeBatch>[0] = {}): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i += perCycle) {
    const group = Array.from({ length: Math.min(perCycle, n - i) }, (_, k) => makeBatch({ records: 2, timestamp: 1_000 * (i + k), ...spec }));
    await Promise.all(group.map((b) => r.writer.append('t', p, b)));
    out.push(...group);
  }
  return out;
}

test('reads back every committed batch across chunks and blocks, byte for byte', async () => {
  const r = await rig({ blockBytes: 2048, flushMs: 20 });
  try {
    const written = await fill(r, 0, 60, 20, { valueSize: 150 });
    assert.equal(r.meta.segments('t', 0).length, 3);
    const hw = r.writer.highWatermark('t', 0)!;
    assert.equal(hw, 120);
    const reader = r.newReader({ tailCacheBytes: 0 });
    const all = await reader.read('t', 0, 0, 1 << 30, hw);
    assert.deepEqual(all, written);
    // From the middle of a batch: that batch first.
    const mid = await reader.read('t', 0, 41, 1 << 30, hw);
    assert.equal(readBatchHeader(mid[0]).baseOffset, 40);
    assert.deepEqual(mid, written.slice(20));
    assert.deepEqual(await reader.read('t', 0, hw, 1 << 20, hw), []);
  } finally {
    await r.cleanup();
  }
});

test('maxBytes: the first batch is whole even if larger; no batch beyond the limit; none at or past the high watermark', async () => {
  const r = await rig({ flushMs: 20 });
  try {
    const written = await fill(r, 0, 10, 10);
    const three = written[0].length + written[1].length + written[2].length;
    const reader = r.newReader({ tailCacheBytes: 0 });
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 0, 1, 20)), [0]);
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 0, three + written[3].length - 1, 20)), [0, 2, 4]);
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 0, three, 20)), [0, 2, 4]);
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 0, three - 1, 20)), [0, 2]);
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 0, 1 << 20, 7)), [0, 2, 4, 6], 'batch 6..7 holds offset 6 < hw 7');
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 0, 1 << 20, 6)), [0, 2, 4]);
    assert.deepEqual(await reader.read('t', 0, 8, 1 << 20, 8), []);
  } finally {
    await r.cleanup();
  }
});

test('historical reads use ranged GETs of the chunk index and the one block needed, then caches', async () => {
  const r = await rig({ blockBytes: 1024, flushMs: 20 });
  try {
    const written = await fill(r, 0, 200, 200, { valueSize: 120 });
    const [row] = r.meta.segments('t', 0);
    const objectSize = (await r.store.inner.list('segments/'))[0].size;
    const reader = r.newReader({ tailCacheBytes: 0, indexProbeBytes: 8192 });
    r.store.calls.length = 0;
    const hw = 400;
    const first = await reader.read('t', 0, 60, 1, hw);
    assert.deepEqual(first, [written[30]]);
    const gets = r.store.calls.filter((c) => c.op === 'get');
    assert.equal(gets.length, 2, 'index + block');
    for (const g of gets) {
      assert.ok(g.range !== undefined, 'always ranged');
      assert.ok(g.range.end - g.range.start + 1 < objectSize / 4, `range ${g.range.start}-${g.range.end} of ${objectSize}`);
      assert.ok(g.range.start >= row.bytePosition && g.range.end < row.bytePosition + row.byteLength);
    }
    // Same block again: block cache. Another block of the same chunk: index cached, one GET.
    r.store.calls.length = 0;
    assert.deepEqual(await reader.read('t', 0, 61, 1, hw), [written[30]]);
    assert.equal(r.store.count('get'), 0);
    assert.deepEqual(await reader.read('t', 0, 2, 1, hw), [written[1]]);
    assert.equal(r.store.count('get'), 1);
    // A large read fetches the run of missing blocks in one GET.
    r.store.calls.length = 0;
    const big = await reader.read('t', 0, 10, 1 << 20, hw);
    assert.deepEqual(big, written.slice(5));
    assert.equal(r.store.count('get'), 1, 'one GET for the run of missing blocks');
    assert.equal(reader.stats.segmentQueries, 1, 'segment rows came from the cached index');
  } finally {
    await r.cleanup();
  }
});

test('consumers at the tail are served from memory; the tail cache is bounded', async () => {
  const r = await rig({ flushMs: 20 });
  try {
    const sample = makeBatch({ records: 2 });
    const reader = r.newReader({ tailCacheBytes: sample.length * 5 });
    r.writer.onCommit((e) => reader.onCommitted(e));
    const written = await fill(r, 0, 12, 3);
    r.store.calls.length = 0;
    const hw = r.writer.highWatermark('t', 0)!;
    const tail = await reader.read('t', 0, 18, 1 << 20, hw);
    assert.deepEqual(tail, written.slice(9));
    assert.equal(r.store.calls.length, 0, 'no object-store call');
    assert.equal(reader.stats.segmentQueries, 0, 'no metadata query');
    assert.ok(reader.tail.size <= sample.length * 5 + 16);
    // Older data was evicted from the tail: it comes from storage, still correct and complete.
    assert.deepEqual(await reader.read('t', 0, 0, 1 << 20, hw), written);
    assert.ok(r.store.count('get') > 0);
    // Uncommitted data is invisible even at the tail.
    r.store.holdPuts();
    const pending = r.writer.append('t', 0, makeBatch());
    assert.equal(r.writer.highWatermark('t', 0), hw);
    assert.deepEqual(offsetsOf(await reader.read('t', 0, hw - 2, 1 << 20, r.writer.highWatermark('t', 0)!)), [hw - 2]);
    r.store.releasePuts();
    await pending;
    assert.deepEqual(offsetsOf(await reader.read('t', 0, hw - 2, 1 << 20, r.writer.highWatermark('t', 0)!)), [hw - 2, hw]);
    // What a read returned is a copy: later commits wrapping the cache's ring over it change nothing.
    const snapshot = tail.map((b) => Buffer.from(b));
    await fill(r, 0, 12, 3);
    assert.deepEqual(tail, snapshot);
  } finally {
    await r.cleanup();
  }
});

test('a corrupt or truncated object is reported with its key and never served', async () => {
  const r = await rig({ flushMs: 20, blockBytes: 1024 });
  try {
    await fill(r, 0, 10, 10, { valueSize: 120 });
    const [row] = r.meta.segments('t', 0);
    const path = join(r.store.inner.bucket, ...row.s3Key.split('/'));
    const fh = await open(path, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, row.bytePosition + 40);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, row.bytePosition + 40); // inside block 0
    await fh.close();
    const logger = recordingLogger();
    const reader = r.newReader({ tailCacheBytes: 0, logger });
    const isCorrupt = (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.KAFKA_STORAGE_ERROR && e.message.includes(row.s3Key);
    await assert.rejects(reader.read('t', 0, 0, 1 << 20, 20), isCorrupt);
    await assert.rejects(reader.read('t', 0, 0, 1 << 20, 20), isCorrupt, 'not cached');
    assert.ok(logger.lines.some((l) => l.level === 'error' && (l.obj as { key?: string }).key === row.s3Key));
    // Other blocks of the same chunk are intact and still served.
    const later = await reader.read('t', 0, 19, 1 << 20, 20);
    assert.equal(readBatchHeader(later[0]).baseOffset, 18);
    // Truncated object: the index (at the chunk end) is gone.
    const fh2 = await open(path, 'r+');
    await fh2.truncate(row.bytePosition + row.byteLength - 10);
    await fh2.close();
    await assert.rejects(r.newReader({ tailCacheBytes: 0 }).read('t', 0, 19, 1 << 20, 20), isCorrupt);
  } finally {
    await r.cleanup();
  }
});

test('offsets below the log start are OFFSET_OUT_OF_RANGE, also after retention removed the object', async () => {
  const r = await rig({ flushMs: 20 });
  try {
    await fill(r, 0, 4, 2);
    const reader = r.newReader({ tailCacheBytes: 0, blockCacheBytes: 0 });
    assert.equal((await reader.read('t', 0, 0, 1 << 20, 8)).length, 4); // rows and chunk indexes cached
    const dropped = r.meta.deleteSegmentsBelow('t', 0, 4);
    for (const s of dropped) await r.store.inner.delete(s.s3Key);
    await assert.rejects(reader.read('t', 0, 1, 1 << 20, 8), (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.deepEqual(offsetsOf(await reader.read('t', 0, 4, 1 << 20, 8)), [4, 6]);
    // Object-store failure: a retriable storage error.
    r.store.failGets = 1;
    await assert.rejects(r.newReader().read('t', 0, 4, 1 << 20, 8), (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.KAFKA_STORAGE_ERROR && e.retriable);
  } finally {
    await r.cleanup();
  }
});

test('offsetForTimestamp and maxTimestampOffset', async () => {
  const r = await rig({ flushMs: 20, blockBytes: 1024 });
  try {
    // Batch i (offsets 2i, 2i+1) has record timestamps i*1000 and i*1000+1, except batch 7 which is late.
    for (let i = 0; i < 12; i += 4) {
      await Promise.all(
        [0, 1, 2, 3].map((k) => {
          const ts = i + k === 7 ? 50_000 : (i + k) * 1000;
          return r.writer.append('t', 0, makeBatch({ records: 2, timestamp: ts }));
        }),
      );
    }
    const reader = r.newReader({ tailCacheBytes: 0 });
    const at = async (ts: number) => (await reader.offsetForTimestamp('t', 0, ts, { highWatermark: 24 }))?.offset;
    assert.equal(await at(0), 0);
    assert.equal(await at(1), 0, 'batch 0 has max timestamp 1');
    assert.equal(await at(2), 2);
    assert.equal(await at(5001), 10);
    assert.equal(await at(6500), 14, 'batch 7 (late) is the first with max ≥ 6500');
    assert.equal(await at(11_001), 14);
    assert.equal(await at(50_002), undefined);
    assert.equal((await reader.offsetForTimestamp('t', 0, 8000, { highWatermark: 14 }))?.offset, undefined, 'not beyond hw');
    const max = await reader.maxTimestampOffset('t', 0, { highWatermark: 24 });
    assert.equal(max?.offset, 14);
    assert.equal(max?.timestamp, 50_001);
    assert.equal(readBatchHeader(max!.batch).maxTimestamp, 50_001);
    assert.equal((await reader.maxTimestampOffset('t', 0, { highWatermark: 14 }))?.offset, 12);
  } finally {
    await r.cleanup();
  }
});

test('concurrent readers of one cold block cause one GET', async () => {
  const r = await rig({ flushMs: 20 });
  try {
    const written = await fill(r, 0, 10, 10);
    const reader = r.newReader({ tailCacheBytes: 0 });
    await reader.read('t', 0, 0, 1, 20); // warm the index
    reader['blocks'].clear();
    r.store.calls.length = 0;
    const res = await Promise.all(Array.from({ length: 8 }, () => reader.read('t', 0, 0, 1 << 20, 20)));
    for (const x of res) assert.deepEqual(x, written);
    assert.equal(r.store.count('get'), 1);
  } finally {
    await r.cleanup();
  }
});

test('a topic re-created under its name: invalidateTopic drops the old rows and tail, and a segment query racing it installs nothing', async () => {
  const r = await rig({ flushMs: 5 });
  try {
    const old = await fill(r, 0, 4, 4);
    // Reads go through a gate: the first segment query reads its rows, then waits.
    let gate: (() => void) | undefined;
    const gated = new Promise<void>((resolve) => (gate = resolve));
    let first = true;
    const meta = new Proxy(r.meta, {
      get(target, prop, receiver) {
        if (prop === 'listSegments') {
          return async (...args: Parameters<typeof target.listSegments>) => {
            const rows = await target.listSegments(...args);
            if (first) {
              first = false;
              await gated;
            }
            return rows;
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const reader = new SegmentReader({ objectStore: r.store, metadata: meta, tailCacheBytes: 1 << 20 });
    const stale = reader.read('t', 0, 0, 1 << 20, 8); // asked of the old topic, in flight over the change
    await new Promise((res) => setTimeout(res, 20));

    // The topic is deleted and re-created; its new partition 0 gets other records at the same offsets.
    await r.writer.closePartition('t', 0);
    r.meta.deleteTopic('t');
    r.meta.addTopic('t', 2, { agentId: 'agent-1', epoch: 1 });
    reader.invalidateTopic('t');
    r.writer.openPartition('t', 0, { leaseEpoch: 1, highWatermark: 0 });
    const fresh = await Promise.all([0, 1, 2, 3].map((i) => r.writer.append('t', 0, makeBatch({ records: 2, timestamp: 5_000 + i, valueSize: 40 }))));
    assert.equal(fresh.at(-1)!.lastOffset, 7);
    reader.invalidateTopic('t'); // as a new leadership does
    gate!();
    assert.deepEqual(offsetsOf(await stale), offsetsOf(old), 'the query that was in flight answers what it asked');
    const now = await reader.read('t', 0, 0, 1 << 20, 8);
    assert.equal(now.length, 4);
    assert.notDeepEqual(now, old, 'the new topic\'s records, not the old ones');
    for (const b of now) assert.ok(readBatchHeader(b).maxTimestamp >= 5_000, 'only batches written after the re-creation');
  } finally {
    await r.cleanup();
  }
});
