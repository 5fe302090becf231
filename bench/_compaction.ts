// Compaction benchmark (npm run bench -- storage --only=compact; also part of the default storage run):
// the object-store bytes one cleaning pass reads, all in the same run over the same log (PGlite + local
// directory): the whole log dirty (no checkpoint yet), a small dirty part below
// min.cleanable.dirty.ratio (decided from row sizes: nothing read; the compactor before the checkpoint
// read the whole cleanable log on every pass to decide), and a small dirty part that is due (the key
// map from the dirty part, then the log from its start rewritten as Kafka's cleaner does).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRecordBatchSync, readBatchHeader } from '../protocol/record-batch.js';
import { openMetadataStore } from '../metadata/index.js';
import { SqlMetadataStore } from '../metadata/sql-store.js';
import { SqlStorageMetadata } from '../metadata/storage-store.js';
import { createObjectStore } from '../storage/index.js';
import { encodeSegmentObject } from '../storage/segment-format.js';
import { Compactor, type CompactionPolicy } from '../storage/compaction/compactor.js';

const MB = 1e6;
const f1 = (n: number) => n.toFixed(1);

export async function compactionBench(opts: { rows: number; recordsPerRow: number; keys: number; valueBytes: number }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'streamhouse-bench-compact-'));
  const objects = createObjectStore({ kind: 'local', dir: join(dir, 'objects'), fsync: false });
  const inner = await openMetadataStore({ dataDir: join(dir, 'meta') });
  try {
    const reg = new SqlStorageMetadata((inner as SqlMetadataStore).driver);
    const topic = 'compact-bench';
    await inner.createTopic({ name: topic, partitionCount: 1, config: { 'cleanup.policy': 'compact' } });
    const { epoch } = (await inner.acquirePartitionLease(topic, 0, 'bench', 3_600_000))!;
    const now = Date.now();
    let offset = 0;
    let seq = 0;
    let logBytes = 0;
    const addRows = async (n: number) => {
      for (let r = 0; r < n; r++) {
        const batches = [];
        for (let b = 0; b < opts.recordsPerRow / 100; b++) {
          const records = Array.from({ length: 100 }, () => ({ key: `key-${(seq++ * 7919) % opts.keys}`, value: randomBytes(opts.valueBytes / 2).toString('hex'), timestamp: now - 3_600_000 }));
          const buf = buildRecordBatchSync({ baseOffset: offset, partitionLeaderEpoch: epoch, records });
          const h = readBatchHeader(buf);
          batches.push({ buf, baseOffset: offset, lastOffset: offset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, recordsCount: h.recordsCount });
          offset += 100;
        }
        const enc = await encodeSegmentObject([{ topic, partitionId: 0, batches }], { createdAt: now - 3_600_000 });
        const key = `segments/bench/${String(offset).padStart(12, '0')}.seg`;
        await reg.registerObject({ key, bucket: objects.bucket, sizeBytes: enc.size, agentId: 'bench' });
        await objects.put(key, enc.parts);
        const c = enc.chunks[0]!;
        await inner.addSegment({ topic, partitionId: 0, baseOffset: c.baseOffset, endOffset: c.lastOffset, recordCount: c.recordCount, sizeBytes: c.sizeBytes, s3Bucket: objects.bucket, s3Key: key, bytePosition: c.position, byteLength: c.length, maxTimestamp: c.maxTimestamp });
        await inner.updateHighWatermark(topic, 0, c.lastOffset + 1);
        logBytes += c.length;
      }
    };
    const policy = (ratio: number): CompactionPolicy => ({ deleteRetentionMs: 86_400_000, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER, minCleanableDirtyRatio: ratio, segmentMs: 0, segmentBytes: 1 << 30 });
    const pass = async (ratio: number) => {
      const c = new Compactor({ objectStore: objects, metadata: inner, storage: reg, agentId: 'bench', leading: () => [{ topic, partitionId: 0, epoch }], stillLeading: () => true, policy: async () => policy(ratio), targetBytes: 8 * 1024 * 1024 });
      const t = performance.now();
      const n = await c.runOnce();
      return { cleaned: n, ms: performance.now() - t, read: c.stats.bytesRead, removed: c.stats.recordsRemoved };
    };
    const shape = async () => {
      const rows = await inner.listSegments(topic, 0);
      return { rows: rows.length, bytes: rows.reduce((n, r) => n + r.byteLength, 0) };
    };

    await addRows(opts.rows + 1); // + the active row
    const whole = await pass(0.5);
    const afterFirst = await shape();
    const small = Math.max(1, Math.round(opts.rows / 50));
    await addRows(small);
    const notDue = await pass(0.5);
    const cleanableNow = (await shape()).bytes - (await inner.listSegments(topic, 0)).at(-1)!.byteLength;
    const due = await pass(0.001);
    console.log(`\n[compaction: PGlite + local directory] one partition, ${opts.rows} rows × ${opts.recordsPerRow} records (${opts.keys} keys, ${opts.valueBytes} B values): ${f1(logBytes / MB)} MB of objects`);
    console.log(`  whole log dirty (no checkpoint): read ${f1(whole.read / MB)} MB (key map + rewrite), removed ${whole.removed} records, ${f1(whole.ms)} ms → ${afterFirst.rows} rows, ${f1(afterFirst.bytes / MB)} MB of objects left`);
    console.log(`  ${small} new rows, dirty ratio below min.cleanable.dirty.ratio 0.5: read ${f1(notDue.read / MB)} MB in ${f1(notDue.ms)} ms (decided from row sizes; the compactor before the checkpoint read the whole cleanable log, ${f1(cleanableNow / MB)} MB, on every pass to decide)`);
    console.log(`  the same ${small} rows with min.cleanable.dirty.ratio 0.001 (due): read ${f1(due.read / MB)} MB in ${f1(due.ms)} ms (key map from the dirty part only, then the log from its start rewritten as Kafka's cleaner does), removed ${due.removed} records`);
  } finally {
    await inner.close();
    await objects.close();
    await rm(dir, { recursive: true, force: true });
  }
}
