// Log compaction for cleanup.policy=compact (and compact,delete), run by the leader of a partition:
// keep the newest record of each key, drop tombstones once they are older than delete.retention.ms,
// keep offsets (and their gaps) as they are, and swap the cleaned rows in with the same lease-fenced
// statement merging uses. As Kafka's cleaner:
// - only the "rolled" part of the log is cleaned: rows older than segment.ms or followed by at least
//   segment.bytes of newer data, and never the newest row (the active segment); records newer than
//   min.compaction.lag.ms are not cleaned (their row and everything after it wait);
// - a partition is cleaned when its superseded records are at least min.cleanable.dirty.ratio of the
//   cleanable records, or when a superseded record is older than max.compaction.lag.ms;
// - batches are re-encoded only when records are removed (same base offset, producer fields,
//   attributes and codec, lastOffsetDelta kept so offsets do not move); untouched batches stay byte for
//   byte; a batch left empty is dropped unless it is the first or last of its output row (kept empty,
//   so rows stay contiguous);
// - control batches (transaction markers) and transactional batches are kept as they are: the
//   transaction support owns them (another part of the broker decides when markers may go).
// Memory: one key → offset map of the cleanable range (bounded by `maxKeys`; a larger range is cleaned
// up to where the map filled) and one output row (≤ the merge target size) at a time.
import { randomBytes } from 'node:crypto';
import {
  LAST_OFFSET_DELTA_OFFSET,
  buildRecordBatch,
  readBatchHeader,
  readBatchRecords,
  recomputeBatchCrc,
  type BatchRecord,
  type CompressionTypeValue,
} from '../../protocol/record-batch.js';
import type { SegmentRecord } from '../../metadata/types.js';
import { silentStorageLogger, systemClock, type Clock, type StorageLogger } from '../clock.js';
import { CorruptSegmentError } from '../errors.js';
import { batchInfoAt } from '../batch.js';
import { chunkIndexFromTail, decodeBlock, encodeSegmentObject, DEFAULT_BLOCK_BYTES, type ChunkInputBatch } from '../segment-format.js';
import type { ObjectStore } from '../types.js';
import { rewrittenSegment, type LedPartition, type MergerMetadata, type MergerStorage } from '../merger.js';

export interface CompactionPolicy {
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
  minCleanableDirtyRatio: number;
  segmentMs: number;
  segmentBytes: number;
}

export interface CompactorOptions {
  objectStore: ObjectStore;
  metadata: MergerMetadata;
  storage: MergerStorage;
  agentId: string;
  leading: () => LedPartition[];
  stillLeading: (p: LedPartition) => boolean;
  /** The topic's compaction settings, or undefined when its cleanup.policy has no "compact". */
  policy: (topic: string) => Promise<CompactionPolicy | undefined>;
  onCompacted?: (topic: string, partitionId: number) => void;
  /** Input bytes per output row at most (default 64 MiB, the merge target). */
  targetBytes?: number;
  /** Keys held in memory at most (default 1,000,000). */
  maxKeys?: number;
  maxDecompressedBytes?: number;
  keyPrefix?: string;
  clock?: Clock;
  logger?: StorageLogger;
}

export interface CompactionStats {
  passes: number;
  compactions: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  batchesReencoded: number;
  refused: number;
  failed: number;
}

interface LoadedBatch {
  buf: Buffer;
  info: ChunkInputBatch;
}

const keyOf = (k: Buffer | null) => (k === null ? '' : k.toString('latin1'));

export class Compactor {
  private readonly clock: Clock;
  private readonly log: StorageLogger;
  private readonly targetBytes: number;
  private readonly maxKeys: number;
  private running: Promise<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private seq = 0;
  /** Per partition: the cleanable end last looked at (nothing new → nothing to do). */
  private readonly seen = new Map<string, number>();
  readonly stats: CompactionStats = { passes: 0, compactions: 0, recordsRemoved: 0, tombstonesRemoved: 0, batchesReencoded: 0, refused: 0, failed: 0 };

  constructor(private readonly opts: CompactorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentStorageLogger;
    this.targetBytes = opts.targetBytes ?? 64 * 1024 * 1024;
    this.maxKeys = opts.maxKeys ?? 1_000_000;
  }

  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    this.stats.passes++;
    let n = 0;
    for (const p of this.opts.leading()) {
      if (this.stopped) break;
      try {
        const policy = await this.opts.policy(p.topic);
        if (policy === undefined) continue;
        if (await this.compactPartition(p, policy)) n++;
      } catch (err) {
        this.stats.failed++;
        this.log.warn({ topic: p.topic, partition: p.partitionId, err: String(err) }, 'compaction failed; the next pass retries');
      }
    }
    return n;
  }

  /** The rows that may be cleaned: rolled (segment.ms / segment.bytes), not the newest, past min.compaction.lag.ms. */
  cleanableRows(rows: readonly SegmentRecord[], policy: CompactionPolicy, dbNow: number, now: number): SegmentRecord[] {
    const out: SegmentRecord[] = [];
    let after = rows.reduce((s, r) => s + r.sizeBytes, 0);
    for (let i = 0; i < rows.length - 1; i++) {
      const r = rows[i]!;
      after -= r.sizeBytes;
      const rolled = r.createdAt < dbNow - policy.segmentMs || after >= policy.segmentBytes;
      if (!rolled || r.maxTimestamp > now - policy.minCompactionLagMs) break;
      out.push(r);
    }
    return out;
  }

  async compactPartition(p: LedPartition, policy: CompactionPolicy): Promise<boolean> {
    const rows: SegmentRecord[] = [];
    for (let from = 0; ; ) {
      const page = await this.opts.metadata.listSegments(p.topic, p.partitionId, from, 1000);
      rows.push(...page);
      if (page.length < 1000) break;
      from = page[page.length - 1]!.endOffset + 1;
    }
    const now = this.clock.now();
    const cleanable = this.cleanableRows(rows, policy, await this.opts.metadata.now(), now);
    if (cleanable.length === 0) return false;
    const pk = `${p.topic}\u0000${p.partitionId}`;
    const end = cleanable[cleanable.length - 1]!.endOffset;
    const tombstoneHorizon = now - policy.deleteRetentionMs;

    // Pass 1: the newest offset of each key (and whether cleaning is due).
    const latest = new Map<string, number>();
    let total = 0;
    let superseded = 0;
    let oldestDirtyTs = Infinity;
    let expiredTombstones = 0;
    let usable = cleanable.length;
    outer: for (let i = 0; i < cleanable.length; i++) {
      for (const b of await this.readRow(cleanable[i]!)) {
        const h = readBatchHeader(b.buf);
        if (h.isControl || h.isTransactional) continue;
        for (const rec of await readBatchRecords(b.buf, this.opts.maxDecompressedBytes)) {
          total++;
          const k = keyOf(rec.key);
          const prev = latest.get(k);
          if (prev !== undefined) {
            superseded++;
            oldestDirtyTs = Math.min(oldestDirtyTs, rec.timestamp);
          } else if (latest.size >= this.maxKeys) {
            usable = i; // the map is full: clean the rows before this one
            break outer;
          }
          latest.set(k, rec.offset);
          if (rec.value === null && rec.timestamp < tombstoneHorizon) expiredTombstones++;
        }
      }
    }
    const rowsToClean = cleanable.slice(0, usable);
    if (rowsToClean.length === 0) return false;
    const ratio = total === 0 ? 0 : superseded / total;
    const due = ratio >= policy.minCleanableDirtyRatio || oldestDirtyTs < now - policy.maxCompactionLagMs;
    if (!due && expiredTombstones === 0) return false;
    if (this.seen.get(pk) === end && superseded === 0 && expiredTombstones === 0) return false;
    this.seen.set(pk, end);

    // Pass 2: rewrite, one output row per run of input rows holding ≤ targetBytes.
    let groups: SegmentRecord[][] = [];
    let cur: SegmentRecord[] = [];
    let bytes = 0;
    for (const r of rowsToClean) {
      if (cur.length > 0 && bytes + r.sizeBytes > this.targetBytes) {
        groups.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(r);
      bytes += r.sizeBytes;
    }
    if (cur.length > 0) groups.push(cur);
    groups = groups.filter((g) => g.length > 0);
    let changed = false;
    for (const group of groups) {
      if (this.stopped || !this.opts.stillLeading(p)) return changed;
      const out: ChunkInputBatch[] = [];
      let removed = 0;
      const all: LoadedBatch[] = [];
      for (const r of group) all.push(...(await this.readRow(r)));
      for (let i = 0; i < all.length; i++) {
        const kept = await this.cleanBatch(all[i]!, latest, tombstoneHorizon, i === 0 || i === all.length - 1);
        if (kept === undefined) {
          removed += all[i]!.info.recordsCount;
          continue;
        }
        removed += all[i]!.info.recordsCount - kept.recordsCount;
        out.push(kept);
      }
      if (removed === 0 && group.length === 1) continue; // nothing to gain
      if (await this.swapGroup(p, group, out)) {
        changed = true;
        this.stats.recordsRemoved += removed;
      } else {
        return changed;
      }
    }
    if (changed) {
      this.log.info({ topic: p.topic, partition: p.partitionId, rows: rowsToClean.length, superseded, dirtyRatio: Number(ratio.toFixed(3)) }, 'compacted');
      this.stats.compactions++;
      this.opts.onCompacted?.(p.topic, p.partitionId);
    }
    return changed;
  }

  /** The batch with only the records to keep; undefined when it goes entirely. */
  private async cleanBatch(b: LoadedBatch, latest: Map<string, number>, tombstoneHorizon: number, boundary: boolean): Promise<ChunkInputBatch | undefined> {
    const h = readBatchHeader(b.buf);
    if (h.isControl || h.isTransactional) return b.info;
    const records = await readBatchRecords(b.buf, this.opts.maxDecompressedBytes);
    const keep: BatchRecord[] = [];
    for (const rec of records) {
      const newest = latest.get(keyOf(rec.key));
      if (newest !== undefined && newest > rec.offset) continue;
      if (rec.value === null && rec.timestamp < tombstoneHorizon) {
        this.stats.tombstonesRemoved++;
        continue;
      }
      keep.push(rec);
    }
    if (keep.length === records.length) return b.info;
    if (keep.length === 0 && !boundary) return undefined;
    const rebuilt = await buildRecordBatch({
      baseOffset: h.baseOffset,
      partitionLeaderEpoch: h.partitionLeaderEpoch,
      baseTimestamp: h.baseTimestamp,
      maxTimestamp: h.maxTimestamp,
      timestampType: h.timestampType,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
      compression: h.compression as CompressionTypeValue,
      records: keep.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offsetDelta })),
    });
    // Offsets stay where they were: the batch still ends at its original last offset.
    rebuilt.writeInt32BE(h.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
    recomputeBatchCrc(rebuilt);
    this.stats.batchesReencoded++;
    return { buf: rebuilt, baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, recordsCount: keep.length };
  }

  private async swapGroup(p: LedPartition, group: SegmentRecord[], batches: ChunkInputBatch[]): Promise<boolean> {
    const createdAt = this.clock.now();
    const encoded = await encodeSegmentObject([{ topic: p.topic, partitionId: p.partitionId, batches }], { blockBytes: DEFAULT_BLOCK_BYTES, createdAt });
    const chunk = encoded.chunks[0]!;
    if (chunk.baseOffset !== group[0]!.baseOffset || chunk.lastOffset !== group[group.length - 1]!.endOffset) {
      throw new CorruptSegmentError(group[0]!.s3Key, group[0]!.bytePosition, 'compacted chunk does not cover its rows');
    }
    const agent = this.opts.agentId.replace(/[^A-Za-z0-9._-]/g, '_');
    const key = `${this.opts.keyPrefix ?? 'segments/'}${agent}/${String(createdAt).padStart(14, '0')}-c${(this.seq++).toString(36).padStart(6, '0')}-${p.partitionId}-${randomBytes(4).toString('hex')}.seg`;
    await this.opts.storage.registerObject({ key, bucket: this.opts.objectStore.bucket, sizeBytes: encoded.size, agentId: this.opts.agentId });
    await this.opts.objectStore.put(key, encoded.parts);
    const result = await this.opts.storage.swapSegments({
      topic: p.topic,
      partitionId: p.partitionId,
      agentId: this.opts.agentId,
      leaseEpoch: p.epoch,
      removeIds: group.map((r) => r.id),
      add: [rewrittenSegment(p, this.opts.objectStore.bucket, key, chunk)],
    });
    if (result === 'swapped') return true;
    this.stats.refused++;
    const claimed = await this.opts.storage.abandonObjects([key]);
    if (claimed.length > 0) {
      await this.opts.objectStore.delete(key).catch(() => undefined);
      await this.opts.storage.markObjectsDeleted(claimed);
    }
    return false;
  }

  private async readRow(row: SegmentRecord): Promise<LoadedBatch[]> {
    const chunk = await this.opts.objectStore.get(row.s3Key, { start: row.bytePosition, end: row.bytePosition + row.byteLength - 1 });
    const index = chunkIndexFromTail(chunk, row.byteLength, row.s3Key, row.bytePosition);
    if ('needTailBytes' in index) throw new CorruptSegmentError(row.s3Key, row.bytePosition, 'chunk index truncated');
    if (index.baseOffset !== row.baseOffset || index.lastOffset !== row.endOffset) {
      throw new CorruptSegmentError(row.s3Key, row.bytePosition, 'chunk index disagrees with its segments row');
    }
    const out: LoadedBatch[] = [];
    for (const e of index.blocks) {
      const blk = await decodeBlock(chunk.subarray(e.position, e.position + e.compressedLength), e, row.s3Key, row.bytePosition);
      for (const b of blk.batches) {
        const buf = blk.data.subarray(b.position, b.position + b.size);
        const i = batchInfoAt(buf, 0, buf.length);
        out.push({ buf, info: { buf, baseOffset: i.baseOffset, lastOffset: i.lastOffset, maxTimestamp: i.maxTimestamp, recordsCount: i.recordsCount } });
      }
    }
    return out;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
