// The storage contract, written once and run against every back end (local directory, S3 server):
// writer + reader + orphan cleaner over a real object store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readBatchHeader } from '../../protocol/record-batch.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { OrphanCleaner } from '../../storage/orphan-cleaner.js';
import { BACKENDS, type BackendCtx } from './backends.js';
import { FakeMetadata } from './fake-metadata.js';
import { FaultyStore } from './faulty-store.js';
import { makeBatch, makeCompressedBatch, producerView } from './batches.js';

const AGENT = 'agent-c';

for (const backend of BACKENDS) {
  describe(`storage contract: ${backend.name}`, () => {
    let ctx: BackendCtx;
    before(async () => {
      ctx = await backend.start();
    });
    after(async () => {
      await ctx.cleanup();
    });

    test('many partitions: one PUT per cycle, everything reads back byte for byte', async () => {
      const store = new FaultyStore(ctx.makeStore());
      const meta = new FakeMetadata();
      const P = 20;
      meta.addTopic('orders', P, { agentId: AGENT, epoch: 1 });
      const writer = new SegmentWriter({ objectStore: store, metadata: meta, agentId: AGENT, flushMs: 15, blockBytes: 4096 });
      const tailReader = new SegmentReader({ objectStore: store, metadata: meta, tailCacheBytes: 1 << 20 });
      writer.onCommit((e) => tailReader.onCommitted(e));
      for (let p = 0; p < P; p++) writer.openPartition('orders', p, { leaseEpoch: 1, highWatermark: 0 });
      const produced: Buffer[][] = Array.from({ length: P }, () => []);
      for (let round = 0; round < 5; round++) {
        const batches = await Promise.all(
          Array.from({ length: P * 3 }, (_, i) =>
            i % 7 === 0 ? makeCompressedBatch({ records: 4, compression: i % 2 ? 'gzip' : 'lz4' }) : Promise.resolve(makeBatch({ records: 1 + (i % 5), valueSize: 50 + i * 3 })),
          ),
        );
        await Promise.all(
          batches.map((b, i) => {
            produced[i % P].push(b);
            return writer.append('orders', i % P, b);
          }),
        );
      }
      assert.equal(store.count('put'), writer.stats.cycles);
      assert.ok(writer.stats.cycles <= 10, `cycles ${writer.stats.cycles}`);
      const fresh = new SegmentReader({ objectStore: store, metadata: meta, tailCacheBytes: 0 });
      for (let p = 0; p < P; p++) {
        const hw = writer.highWatermark('orders', p)!;
        const fromStorage = await fresh.read('orders', p, 0, 1 << 30, hw);
        assert.deepEqual(fromStorage.map(producerView), produced[p].map(producerView), `partition ${p}`);
        let expect = 0;
        for (const b of fromStorage) {
          assert.equal(readBatchHeader(b).baseOffset, expect);
          assert.equal(readBatchHeader(b).partitionLeaderEpoch, 1);
          expect += readBatchHeader(b).lastOffsetDelta + 1;
        }
        assert.equal(expect, hw);
        assert.deepEqual(await tailReader.read('orders', p, 0, 1 << 30, hw), fromStorage);
      }
      await writer.close();
      await store.close();
    });

    test('acked data survives a writer restart; the new leader continues at the high watermark', async () => {
      const store = ctx.makeStore();
      const meta = new FakeMetadata();
      meta.addTopic('t', 1, { agentId: 'a', epoch: 1 });
      const w1 = new SegmentWriter({ objectStore: store, metadata: meta, agentId: 'a', flushMs: 5 });
      w1.openPartition('t', 0, { leaseEpoch: 1, highWatermark: 0 });
      const first = [makeBatch(), makeBatch()];
      await Promise.all(first.map((b) => w1.append('t', 0, b)));
      await w1.close();
      // Another agent takes over with a higher epoch; the old one is fenced.
      meta.setLease('t', 0, 'b', 2);
      const hw = (await meta.getPartition('t', 0))!.highWatermark;
      const w2 = new SegmentWriter({ objectStore: store, metadata: meta, agentId: 'b', flushMs: 5 });
      w2.openPartition('t', 0, { leaseEpoch: 2, highWatermark: hw });
      const second = makeBatch();
      assert.deepEqual(await w2.append('t', 0, second), { baseOffset: 6, lastOffset: 8 });
      const reader = new SegmentReader({ objectStore: store, metadata: meta });
      const all = await reader.read('t', 0, 0, 1 << 20, 9);
      assert.deepEqual(all, [...first, second]);
      assert.deepEqual(all.map((b) => readBatchHeader(b).partitionLeaderEpoch), [1, 1, 2]);
      await w2.close();
      await store.close();
    });

    test('orphan cleaner deletes unreferenced objects older than the grace period only', async () => {
      const store = ctx.makeStore();
      const meta = new FakeMetadata();
      meta.addTopic('t', 2, { agentId: 'a', epoch: 1 });
      const w = new SegmentWriter({ objectStore: store, metadata: meta, agentId: 'a', flushMs: 5 });
      w.openPartition('t', 0, { leaseEpoch: 1, highWatermark: 0 });
      w.openPartition('t', 1, { leaseEpoch: 1, highWatermark: 0 });
      // One object holding chunks of both partitions, then one more for partition 0 only.
      await Promise.all([w.append('t', 0, makeBatch()), w.append('t', 1, makeBatch())]);
      await w.append('t', 0, makeBatch());
      await w.close();
      const [shared, second] = meta.segments('t', 0).map((s) => s.s3Key);
      // A crash between upload and commit leaves an orphan.
      await store.put('segments/a/00000000000001-crashed.seg', Buffer.from('uploaded, never committed'));
      await store.put('elsewhere/keep', Buffer.from('not ours'));
      let now = Date.now();
      const cleaner = new OrphanCleaner({ objectStore: store, metadata: meta, graceMs: 60_000, clock: { now: () => now } });
      assert.equal((await cleaner.runOnce()).deleted, 0, 'everything is younger than the grace period');
      now += 120_000;
      const res = await cleaner.runOnce();
      assert.deepEqual({ deleted: res.deleted, scanned: res.scanned }, { deleted: 1, scanned: 3 });
      const keys = async () => (await store.list('')).map((o) => o.key).sort();
      assert.deepEqual(await keys(), ['elsewhere/keep', shared, second].sort());
      // Retention drops partition 0's rows: the shared object still holds partition 1's chunk.
      meta.deleteSegmentsBelow('t', 0, 6);
      assert.equal((await cleaner.runOnce()).deleted, 1);
      assert.deepEqual(await keys(), ['elsewhere/keep', shared].sort());
      meta.deleteSegmentsBelow('t', 1, 3);
      assert.equal((await cleaner.runOnce()).deleted, 1);
      assert.deepEqual(await keys(), ['elsewhere/keep']);
      await store.close();
    });
  });
}
