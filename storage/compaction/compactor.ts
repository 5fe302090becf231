// Log compaction for cleanup.policy=compact (and compact,delete), run by the leader of a partition,
// as Kafka's log cleaner: keep the newest record of each key, offsets (and their gaps) as they are,
// and swap the cleaned rows in with the same lease-fenced statement merging uses.
// - The cleanable part of the log: rolled rows (older than segment.ms or followed by at least
//   segment.bytes of newer data, never the newest row), records older than min.compaction.lag.ms, and
//   nothing from the first offset of an open transaction on (the last stable offset).
// - A checkpoint per partition in PostgreSQL (compaction_checkpoints) holds the first dirty offset:
//   whether cleaning is due is decided from segment-row sizes alone (dirty bytes / cleanable bytes
//   > min.cleanable.dirty.ratio, or the first dirty row older than max.compaction.lag.ms, or a pending
//   delete horizon has passed), without reading objects.
// - A due pass builds the key → newest offset map from the dirty section only (bounded by maxKeys: when
//   full, the dirty section ends at the last batch that fit), then rewrites the log from its start
//   through the end of that section with the map; the last swap writes the new checkpoint in the
//   same statement.
// - Transactions (Kafka's CleanedTransactionMetadata, ./transactions.ts): batches of aborted
//   transactions (aborted_txns) go and never enter the map; committed ones are compacted like any
//   other; a marker goes once no batch of its transaction is left before it and its delete horizon
//   has passed. The last data batch of each producer the leader still knows is kept (empty if need
//   be), so its sequence numbers survive for the idempotent-producer state.
// - Tombstones and markers (KIP-534): the first pass that keeps a batch with a tombstone, or a marker
//   with nothing left of its transaction, sets the batch's delete horizon (attribute bit 6; the base
//   timestamp becomes cleaning time + delete.retention.ms and the record timestamp deltas are rebased,
//   so record timestamps do not change); a later pass after the horizon removes them.
// - Batches are re-encoded only when records go or a horizon is set (same base offset, producer
//   fields, attributes and codec, lastOffsetDelta kept so offsets do not move); others stay byte for
//   byte; a batch left empty is dropped unless it is the first or last of its output row (kept empty,
//   so rows stay contiguous) or its producer's last.
// Memory: the key map (≤ maxKeys keys) and one output row (≤ the merge target size) at a time.
import { randomBytes } from 'node:crypto';
import {
  ATTRIBUTES_OFFSET,
  BatchAttributes,
  LAST_OFFSET_DELTA_OFFSET,
  buildRecordBatch,
  readBatchHeader,
  readBatchRecords,
  recomputeBatchCrc,
  type BatchRecord,
  type CompressionTypeValue,
  type RecordBatchHeader,
} from '../../protocol/record-batch.js';
import type { SegmentRecord } from '../../metadata/types.js';
import type { CompactionCheckpoint } from '../../metadata/storage-store.js';
import { silentStorageLogger, systemClock, type Clock, type StorageLogger } from '../clock.js';
import { CorruptSegmentError } from '../errors.js';
import { batchInfoAt } from '../batch.js';
import { chunkIndexFromTail, decodeBlock, encodeSegmentObject, DEFAULT_BLOCK_BYTES, type ChunkInputBatch } from '../segment-format.js';
import type { ObjectStore } from '../types.js';
import { rewrittenSegment, type LedPartition, type MergerMetadata, type MergerStorage } from '../merger.js';
import { CleanerTxnState, type AbortedTxnEntry, type MarkerType } from './transactions.js';

export interface CompactionPolicy {
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
  minCleanableDirtyRatio: number;
  segmentMs: number;
  segmentBytes: number;
}

export interface CompactorStorage extends MergerStorage {
  compactionCheckpoint(topic: string, partitionId: number): Promise<CompactionCheckpoint | undefined>;
  setCompactionCheckpoint(
    c: { topic: string; partitionId: number; agentId: string; leaseEpoch: number; dropAborted?: Array<{ producerId: number; firstOffset: number }> } & CompactionCheckpoint,
  ): Promise<boolean>;
}

/** What the leader knows of a partition's producers (src/partition-log.ts, storage/producer-state.ts). */
export interface LeaderProducerState {
  /** The first offset of the oldest open transaction, else the high watermark: cleaning stops before it. */
  lastStableOffset: number;
  /** Producer id → last offset of its last data batch (undefined: unknown, every producer batch is kept, empty if need be). */
  lastDataOffsets?: ReadonlyMap<number, number>;
}

export interface CompactorOptions {
  objectStore: ObjectStore;
  metadata: MergerMetadata;
  storage: CompactorStorage;
  agentId: string;
  leading: () => LedPartition[];
  stillLeading: (p: LedPartition) => boolean;
  /** The topic's compaction settings, or undefined when its cleanup.policy has no "compact". */
  policy: (topic: string) => Promise<CompactionPolicy | undefined>;
  /** The leader's producer state (undefined: no transactions to respect, every producer's last batch kept). */
  producerState?: (topic: string, partitionId: number) => Promise<LeaderProducerState | undefined>;
  /** The partition's aborted-transactions index from `fromOffset` on (entries whose marker is at or after it). */
  abortedTransactions?: (topic: string, partitionId: number, fromOffset: number) => Promise<AbortedTxnEntry[]>;
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
  abortedRemoved: number;
  markersRemoved: number;
  batchesReencoded: number;
  /** Object-store bytes read (ranged GETs of rows). */
  bytesRead: number;
  refused: number;
  failed: number;
}

interface LoadedBatch {
  buf: Buffer;
  info: ChunkInputBatch;
}

/** One cleaning's state while the rows are rewritten in offset order. */
interface CleaningContext {
  map: Map<string, number>;
  txn: CleanerTxnState;
  /** The last offset of the dirty section: batches after it are copied as they are. */
  cleanEnd: number;
  now: number;
  deleteRetentionMs: number;
  /** Producer id → last offset of its last data batch (undefined: unknown, every producer batch is kept, empty if need be). */
  lastData: ReadonlyMap<number, number> | undefined;
  /** The earliest delete horizon still ahead among the kept batches. */
  pendingHorizon: number | null;
}

interface CleanedBatch {
  kept: ChunkInputBatch | undefined;
  removed: number;
  changed: boolean;
}

const keyOf = (k: Buffer | null) => (k === null ? '' : k.toString('latin1'));

function markerType(records: readonly BatchRecord[]): MarkerType {
  const k = records[0]?.key;
  if (k === null || k === undefined || k.length < 4) return 'unknown';
  const t = k.readInt16BE(2);
  return t === 0 ? 'abort' : t === 1 ? 'commit' : 'unknown';
}

export class Compactor {
  private readonly clock: Clock;
  private readonly log: StorageLogger;
  private readonly targetBytes: number;
  private readonly maxKeys: number;
  private running: Promise<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private seq = 0;
  readonly stats: CompactionStats = {
    passes: 0,
    compactions: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    abortedRemoved: 0,
    markersRemoved: 0,
    batchesReencoded: 0,
    bytesRead: 0,
    refused: 0,
    failed: 0,
  };

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

  /**
   * The rows that may be cleaned: rolled (segment.ms / segment.bytes; rows already cleaned count as
   * rolled), not the newest, past min.compaction.lag.ms, and ending before the last stable offset.
   */
  cleanableRows(rows: readonly SegmentRecord[], policy: CompactionPolicy, dbNow: number, now: number, firstDirty = 0, lastStable = Infinity): SegmentRecord[] {
    const out: SegmentRecord[] = [];
    let after = rows.reduce((s, r) => s + r.sizeBytes, 0);
    for (let i = 0; i < rows.length - 1; i++) {
      const r = rows[i]!;
      after -= r.sizeBytes;
      if (r.endOffset >= lastStable) break;
      if (r.endOffset >= firstDirty) {
        const rolled = r.createdAt < dbNow - policy.segmentMs || after >= policy.segmentBytes;
        if (!rolled || r.maxTimestamp > now - policy.minCompactionLagMs) break;
      }
      out.push(r);
    }
    return out;
  }

  /**
   * Whether cleaning is due, from row sizes and the checkpoint only (no object is read): the dirty
   * bytes' share of the cleanable bytes exceeds min.cleanable.dirty.ratio, or the first dirty row is
   * older than max.compaction.lag.ms, or a delete horizon pending in the cleaned section has passed.
   */
  static cleaningDue(cleanable: readonly SegmentRecord[], firstDirty: number, checkpoint: CompactionCheckpoint | undefined, policy: CompactionPolicy, now: number) {
    let total = 0;
    let dirty = 0;
    let firstDirtyRow: SegmentRecord | undefined;
    for (const r of cleanable) {
      total += r.sizeBytes;
      if (r.endOffset < firstDirty) continue;
      firstDirtyRow ??= r;
      // A row merged across the checkpoint counts by its share of offsets.
      dirty += r.baseOffset >= firstDirty ? r.sizeBytes : (r.sizeBytes * (r.endOffset - firstDirty + 1)) / (r.endOffset - r.baseOffset + 1);
    }
    const ratio = total === 0 ? 0 : dirty / total;
    const lagDue = firstDirtyRow !== undefined && firstDirtyRow.maxTimestamp < now - policy.maxCompactionLagMs;
    const horizonDue = checkpoint?.deleteHorizon != null && now >= checkpoint.deleteHorizon;
    const due = (dirty > 0 && (ratio > policy.minCleanableDirtyRatio || lagDue)) || horizonDue;
    return { due, ratio, dirtyBytes: dirty, totalBytes: total, firstDirtyRow };
  }

  async compactPartition(p: LedPartition, policy: CompactionPolicy): Promise<boolean> {
    const rows: SegmentRecord[] = [];
    for (let from = 0; ; ) {
      const page = await this.opts.metadata.listSegments(p.topic, p.partitionId, from, 1000);
      rows.push(...page);
      if (page.length < 1000) break;
      from = page[page.length - 1]!.endOffset + 1;
    }
    if (rows.length < 2) return false;
    const logStart = rows[0]!.baseOffset;
    const checkpoint = await this.opts.storage.compactionCheckpoint(p.topic, p.partitionId);
    // Retention or DeleteRecords may have moved the log start past the checkpoint.
    const firstDirty = Math.max(checkpoint?.firstDirtyOffset ?? 0, logStart);
    const now = this.clock.now();
    const producers = await this.opts.producerState?.(p.topic, p.partitionId);
    if (this.opts.producerState !== undefined && producers === undefined) return false; // not led here (any more)
    const cleanable = this.cleanableRows(rows, policy, await this.opts.metadata.now(), now, firstDirty, producers?.lastStableOffset ?? Infinity);
    if (cleanable.length === 0) return false;
    const due = Compactor.cleaningDue(cleanable, firstDirty, checkpoint, policy, now);
    if (!due.due) return false;
    const aborted = (await this.opts.abortedTransactions?.(p.topic, p.partitionId, logStart)) ?? [];

    // The key map from the dirty section only (Kafka's buildOffsetMap).
    const map = new Map<string, number>();
    let cleanEnd = firstDirty - 1;
    const dirtyRows = cleanable.filter((r) => r.endOffset >= firstDirty);
    // Only transactions whose abort marker is in the dirty section (or not known yet): one whose marker
    // came before it would otherwise look ongoing and take its producer's later batches for aborted.
    const mapTxn = new CleanerTxnState(aborted.filter((e) => e.lastOffset === null || e.lastOffset >= firstDirty));
    scan: for (const r of dirtyRows) {
      for (const b of await this.readRow(r)) {
        const h = readBatchHeader(b.buf);
        const last = h.baseOffset + h.lastOffsetDelta;
        if (last < firstDirty) continue;
        if (h.isControl) {
          mapTxn.onMarker(h.producerId, last, markerType(await readBatchRecords(b.buf, this.opts.maxDecompressedBytes)));
        } else if (!mapTxn.onBatch(h.isTransactional, h.producerId, last)) {
          const records = await readBatchRecords(b.buf, this.opts.maxDecompressedBytes);
          let fresh = 0;
          for (const rec of records) if (!map.has(keyOf(rec.key))) fresh++;
          // Full: the dirty section ends before this batch (unless it is the first, then it overflows a little).
          if (map.size + fresh > this.maxKeys && cleanEnd >= firstDirty) break scan;
          for (const rec of records) map.set(keyOf(rec.key), rec.offset);
        }
        cleanEnd = last;
      }
    }
    const rowsToClean = cleanable.filter((r) => r.baseOffset <= cleanEnd);
    if (rowsToClean.length === 0) return false;

    // Rewrite from the log start through the dirty section, one output row per ≤ targetBytes of input rows.
    const groups: SegmentRecord[][] = [];
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
    const ctx: CleaningContext = {
      map,
      txn: new CleanerTxnState(aborted),
      cleanEnd,
      now,
      deleteRetentionMs: policy.deleteRetentionMs,
      lastData: producers?.lastDataOffsets,
      pendingHorizon: null,
    };
    const newCheckpoint = (): CompactionCheckpoint => ({ firstDirtyOffset: cleanEnd + 1, deleteHorizon: ctx.pendingHorizon });
    let swapped = 0;
    let removedTotal = 0;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      const lastGroup = g === groups.length - 1;
      if (this.stopped || !this.opts.stillLeading(p)) return swapped > 0;
      const out: ChunkInputBatch[] = [];
      let removed = 0;
      let changed = false;
      const all: LoadedBatch[] = [];
      for (const r of group) all.push(...(await this.readRow(r)));
      for (let i = 0; i < all.length; i++) {
        const c = await this.cleanBatch(all[i]!, ctx, i === 0 || i === all.length - 1);
        removed += c.removed;
        changed ||= c.changed;
        if (c.kept !== undefined) out.push(c.kept);
      }
      if (!changed && group.length === 1) {
        // Nothing to gain here; the checkpoint still moves once the last group is done.
        if (lastGroup) {
          const dropping = ctx.txn.obsoleteEntries.length;
          const ok = await this.opts.storage.setCompactionCheckpoint({
            topic: p.topic,
            partitionId: p.partitionId,
            agentId: this.opts.agentId,
            leaseEpoch: p.epoch,
            dropAborted: ctx.txn.obsoleteEntries,
            ...newCheckpoint(),
          });
          if (!ok) this.stats.refused++;
          else if (dropping > 0 && swapped === 0) this.opts.onCompacted?.(p.topic, p.partitionId); // the aborted index changed
        }
        continue;
      }
      // Index entries of aborted transactions found without batches so far go with this swap (before or
      // with their marker, never after it).
      if (!(await this.swapGroup(p, group, out, lastGroup ? newCheckpoint() : undefined, ctx.txn.obsoleteEntries))) return swapped > 0;
      swapped++;
      removedTotal += removed;
      this.stats.recordsRemoved += removed;
    }
    if (swapped > 0) {
      this.log.info(
        { topic: p.topic, partition: p.partitionId, rows: rowsToClean.length, removed: removedTotal, dirtyRatio: Number(due.ratio.toFixed(3)), firstDirtyOffset: cleanEnd + 1 },
        'compacted',
      );
      this.stats.compactions++;
      this.opts.onCompacted?.(p.topic, p.partitionId);
    }
    return swapped > 0;
  }

  /** The batch with only the records to keep (undefined when it goes entirely). */
  private async cleanBatch(b: LoadedBatch, ctx: CleaningContext, boundary: boolean): Promise<CleanedBatch> {
    const h = readBatchHeader(b.buf);
    const last = h.baseOffset + h.lastOffsetDelta;
    const same: CleanedBatch = { kept: b.info, removed: 0, changed: false };
    if (h.baseOffset > ctx.cleanEnd) return same; // after the dirty section (the key map filled up)
    const horizonPassed = h.hasDeleteHorizon && ctx.now >= h.baseTimestamp;
    const records = await readBatchRecords(b.buf, this.opts.maxDecompressedBytes);
    if (h.isControl) {
      if (!ctx.txn.onMarker(h.producerId, last, markerType(records))) return same;
      // Nothing of its transaction is left before it: it goes once its horizon has passed.
      if (h.hasDeleteHorizon) {
        if (horizonPassed && !boundary) {
          this.stats.markersRemoved++;
          return { kept: undefined, removed: h.recordsCount, changed: true };
        }
        if (!horizonPassed) this.notePending(ctx, h.baseTimestamp);
        return same;
      }
      const horizon = ctx.now + ctx.deleteRetentionMs;
      this.notePending(ctx, horizon);
      return { kept: await this.rebuild(h, records, horizon), removed: 0, changed: true };
    }
    const aborted = ctx.txn.onBatch(h.isTransactional, h.producerId, last);
    const keep: BatchRecord[] = [];
    let tombstones = false;
    if (!aborted) {
      for (const rec of records) {
        const newest = ctx.map.get(keyOf(rec.key));
        if (newest !== undefined && newest > rec.offset) continue;
        if (rec.value === null) {
          if (horizonPassed) {
            this.stats.tombstonesRemoved++;
            continue;
          }
          tombstones = true;
        }
        keep.push(rec);
      }
    } else this.stats.abortedRemoved += records.length;
    const setHorizon = tombstones && !h.hasDeleteHorizon;
    const horizon = setHorizon ? ctx.now + ctx.deleteRetentionMs : h.baseTimestamp;
    if (tombstones) this.notePending(ctx, horizon);
    if (keep.length === records.length && !setHorizon) return same;
    const removed = records.length - keep.length;
    if (keep.length === 0 && !boundary && !this.lastOfProducer(h, last, ctx)) return { kept: undefined, removed, changed: true };
    return { kept: await this.rebuild(h, keep, horizon, setHorizon || h.hasDeleteHorizon), removed, changed: true };
  }

  private lastOfProducer(h: RecordBatchHeader, last: number, ctx: CleaningContext): boolean {
    if (h.producerId < 0) return false;
    return ctx.lastData === undefined || ctx.lastData.get(h.producerId) === last;
  }

  private notePending(ctx: CleaningContext, horizon: number): void {
    if (horizon > ctx.now && (ctx.pendingHorizon === null || horizon < ctx.pendingHorizon)) ctx.pendingHorizon = horizon;
  }

  /**
   * The batch re-encoded with `records` (its base offset, producer fields, attributes, codec and
   * lastOffsetDelta kept). With a delete horizon, the base timestamp carries it and the record
   * timestamp deltas are taken from it, so each record keeps its own timestamp.
   */
  private async rebuild(h: RecordBatchHeader, records: readonly BatchRecord[], baseTimestamp: number, horizonBit = true): Promise<ChunkInputBatch> {
    const rebuilt = await buildRecordBatch({
      baseOffset: h.baseOffset,
      partitionLeaderEpoch: h.partitionLeaderEpoch,
      baseTimestamp,
      maxTimestamp: h.maxTimestamp,
      timestampType: h.timestampType,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
      isTransactional: h.isTransactional,
      isControl: h.isControl,
      compression: h.compression as CompressionTypeValue,
      records: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offsetDelta })),
    });
    // Offsets stay where they were: the batch still ends at its original last offset.
    rebuilt.writeInt32BE(h.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
    if (horizonBit) rebuilt.writeInt16BE(rebuilt.readInt16BE(ATTRIBUTES_OFFSET) | BatchAttributes.deleteHorizon, ATTRIBUTES_OFFSET);
    recomputeBatchCrc(rebuilt);
    this.stats.batchesReencoded++;
    return { buf: rebuilt, baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, recordsCount: records.length };
  }

  private async swapGroup(
    p: LedPartition,
    group: SegmentRecord[],
    batches: ChunkInputBatch[],
    checkpoint: CompactionCheckpoint | undefined,
    dropAborted: ReadonlyArray<{ producerId: number; firstOffset: number }>,
  ): Promise<boolean> {
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
      checkpoint,
      dropAborted: dropAborted.map((e) => ({ producerId: e.producerId, firstOffset: e.firstOffset })),
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
    this.stats.bytesRead += chunk.length;
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
