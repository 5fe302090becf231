// The cached segment reader. A fetch at offset X:
//   1. tail cache (recent commits of partitions led here) — no I/O at all;
//   2. otherwise the segment row for X from the cached segment index (one indexed query on a miss,
//      which also prefetches the following rows for sequential consumers);
//   3. the chunk's index, from a cache or one ranged GET of the chunk's tail;
//   4. the blocks covering X..X+maxBytes, from the block cache or ONE ranged GET for the run of
//      blocks missing (never the whole object), verified by checksum and decompressed off-thread.
// Whole batches come back as views, starting with the batch containing X, at most maxBytes except
// that the first batch is always whole, and never a batch at or beyond the high watermark.
import type { MetadataStore, SegmentRecord } from '../metadata/types.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { ObjectStore } from './types.js';
import { ByteLru, SingleFlight } from './lru.js';
import { TailCache } from './tail-cache.js';
import { chunkIndexFromTail, decodeBlock, type ChunkIndex, type DecodedBlock } from './segment-format.js';
import { CorruptSegmentError, ObjectNotFoundError, toKafkaStorageError } from './errors.js';
import { silentStorageLogger, type StorageLogger } from './clock.js';
import type { CommitEvent } from './segment-writer.js';

export type ReaderMetadata = Pick<MetadataStore, 'findSegmentForOffset' | 'listSegments'>;

const MiB = 1024 * 1024;

export interface SegmentReaderOptions {
  objectStore: ObjectStore;
  metadata: ReaderMetadata;
  /** Bytes of recently committed batches kept in memory (default 64 MiB; 0 disables). */
  tailCacheBytes?: number;
  /** Bytes of decompressed blocks kept for repeated historical reads (default 256 MiB). */
  blockCacheBytes?: number;
  /** Bytes of parsed chunk indexes kept (default 16 MiB). */
  indexCacheBytes?: number;
  /** Segment rows kept in the segment index cache (default 100 000). */
  segmentCacheRows?: number;
  /** Rows fetched per segment-index miss (default 64). */
  segmentPrefetchRows?: number;
  /** Bytes read from a chunk's end to get its index in one GET (default 64 KiB). */
  indexProbeBytes?: number;
  logger?: StorageLogger;
}

export interface TimestampLookup {
  /** Base offset of the first batch that qualifies (refine within `batch` for record precision). */
  offset: number;
  /** That batch's maxTimestamp. */
  timestamp: number;
  batch: Buffer;
}

export interface ReaderStats {
  tailHits: number;
  storageReads: number;
  indexGets: number;
  blockGets: number;
  segmentQueries: number;
}

interface LoadedIndex {
  index: ChunkIndex;
  /** Bytes read while loading the index (the chunk's tail), absolute position in the object. */
  probe?: { start: number; buf: Buffer };
}

const partitionKey = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;
const chunkKey = (s: SegmentRecord) => `${s.s3Key}@${s.bytePosition}`;

export class SegmentReader {
  private readonly store: ObjectStore;
  private readonly metadata: ReaderMetadata;
  private readonly log: StorageLogger;
  readonly tail: TailCache;
  private readonly blocks: ByteLru<DecodedBlock>;
  private readonly indexes: ByteLru<ChunkIndex>;
  private readonly blockFlight = new SingleFlight<void>();
  private readonly indexFlight = new SingleFlight<LoadedIndex>();
  private readonly segFlight = new SingleFlight<SegmentRecord | undefined>();
  /** Per partition: known segment rows sorted by baseOffset. Map order = LRU order. */
  private readonly segments = new Map<string, SegmentRecord[]>();
  /**
   * Per partition, bumped by invalidate(): a segment-row query that was in flight when the partition was
   * invalidated (its topic deleted and maybe re-created under the same name) neither installs what it
   * read nor is joined by later reads.
   */
  private readonly invalidations = new Map<string, number>();
  /** Per topic, bumped by invalidateTopic() (covers partitions with nothing cached but a query in flight). */
  private readonly topicInvalidations = new Map<string, number>();
  private segmentRows = 0;
  private readonly segmentCacheRows: number;
  private readonly segmentPrefetchRows: number;
  private readonly indexProbeBytes: number;
  readonly stats: ReaderStats = { tailHits: 0, storageReads: 0, indexGets: 0, blockGets: 0, segmentQueries: 0 };

  constructor(opts: SegmentReaderOptions) {
    this.store = opts.objectStore;
    this.metadata = opts.metadata;
    this.log = opts.logger ?? silentStorageLogger;
    this.tail = new TailCache(opts.tailCacheBytes ?? 64 * MiB);
    this.blocks = new ByteLru(opts.blockCacheBytes ?? 256 * MiB);
    this.indexes = new ByteLru(opts.indexCacheBytes ?? 16 * MiB);
    this.segmentCacheRows = opts.segmentCacheRows ?? 100_000;
    this.segmentPrefetchRows = opts.segmentPrefetchRows ?? 64;
    this.indexProbeBytes = Math.max(64, opts.indexProbeBytes ?? 64 * 1024);
  }

  /** Feed from SegmentWriter.onCommit: committed batches enter the tail cache. */
  onCommitted(evt: CommitEvent): void {
    this.tail.append(partitionKey(evt.topic, evt.partitionId), evt.batches);
  }

  /** Forgets cached state of a partition (leadership moved, topic deleted, log truncated). */
  invalidate(topic: string, partitionId: number): void {
    const key = partitionKey(topic, partitionId);
    this.tail.drop(key);
    this.forgetSegments(key);
    this.invalidations.set(key, (this.invalidations.get(key) ?? 0) + 1);
  }

  /**
   * Forgets cached state of every partition of a topic (deleted, or re-created under its name). The
   * block and chunk-index caches need nothing: they are keyed by object key, and every object has a
   * key of its own, so only the segment rows dropped here lead to them.
   */
  invalidateTopic(topic: string): void {
    this.topicInvalidations.set(topic, (this.topicInvalidations.get(topic) ?? 0) + 1);
    const prefix = partitionKey(topic, 0).slice(0, -1);
    const keys = new Set<string>();
    for (const k of this.segments.keys()) if (k.startsWith(prefix)) keys.add(k);
    for (const k of this.tail.keys()) if (k.startsWith(prefix)) keys.add(k);
    for (const k of keys) {
      const i = k.lastIndexOf('\u0000');
      this.invalidate(k.slice(0, i), Number(k.slice(i + 1)));
    }
  }

  /**
   * Whole record batches starting with the one containing `offset`: at most `maxBytes` in total,
   * except that the first batch is always returned whole; nothing at or beyond `highWatermark`.
   * Throws OFFSET_OUT_OF_RANGE when no committed segment holds `offset` (below the log start), and
   * a retriable KAFKA_STORAGE_ERROR when the object store fails or an object is corrupt.
   */
  async read(topic: string, partitionId: number, offset: number, maxBytes: number, highWatermark: number): Promise<Buffer[]> {
    try {
      return await this.readOnce(topic, partitionId, offset, maxBytes, highWatermark);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw this.mapError(err);
      // Retention may have deleted the object after we cached its row: look again, once.
      this.forgetSegments(partitionKey(topic, partitionId));
      try {
        return await this.readOnce(topic, partitionId, offset, maxBytes, highWatermark);
      } catch (err2) {
        if (err2 instanceof ObjectNotFoundError) {
          this.log.error({ key: err2.key, topic, partitionId, offset }, 'segment object referenced by the segments table is missing');
          throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `segment object ${err2.key} is missing`, { cause: err2 });
        }
        throw this.mapError(err2);
      }
    }
  }

  private mapError(err: unknown): KafkaError {
    if (err instanceof CorruptSegmentError) {
      this.log.error({ key: err.key, position: err.position, err: err.message }, 'corrupt segment object');
      return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, err.message, { cause: err });
    }
    return toKafkaStorageError(err, 'segment read failed');
  }

  private async readOnce(topic: string, partitionId: number, offset: number, maxBytes: number, hw: number): Promise<Buffer[]> {
    const pk = partitionKey(topic, partitionId);
    const out: Buffer[] = [];
    let total = 0;
    let next = offset;
    let full = false;
    // Returns false when the caller must stop (size limit or high watermark reached).
    const accept = (buf: Buffer, baseOffset: number, lastOffset: number): boolean => {
      if (baseOffset >= hw) {
        full = true;
        return false;
      }
      if (lastOffset < next) return true;
      if (out.length > 0 && total + buf.length > maxBytes) {
        full = true;
        return false;
      }
      out.push(buf);
      total += buf.length;
      next = lastOffset + 1;
      if (total >= maxBytes) {
        full = true;
        return false;
      }
      return true;
    };

    while (!full && next < hw) {
      const from = out.length;
      if (this.tail.scan(pk, next, accept)) {
        copyOut(out, from);
        this.stats.tailHits++;
        continue; // the tail ended below hw (not normally): the rest comes from storage
      }
      const seg = await this.segmentFor(topic, partitionId, pk, next);
      if (seg === undefined) {
        if (out.length === 0) {
          throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `${topic}-${partitionId}: no segment holds offset ${next}`);
        }
        break;
      }
      this.stats.storageReads++;
      const loaded = await this.chunkIndex(seg);
      const idx = loaded.index;
      const bs = idx.blocks;
      let i = 0;
      while (i < bs.length - 1 && bs[i].lastOffset < next) i++;
      // Enough blocks (by uncompressed size) to fill maxBytes, in one ranged GET.
      let j = i;
      let planned = bs[i].uncompressedLength;
      while (j + 1 < bs.length && planned < maxBytes - total && bs[j + 1].firstOffset < hw) {
        j++;
        planned += bs[j].uncompressedLength;
      }
      const decoded = await this.loadBlocks(seg, idx, i, j, loaded.probe);
      const before = next;
      for (const blk of decoded) {
        for (const b of blk.batches) {
          if (!accept(blk.data.subarray(b.position, b.position + b.size), b.baseOffset, b.lastOffset)) break;
        }
        if (full) break;
      }
      if (!full && j === bs.length - 1) next = Math.max(next, idx.lastOffset + 1);
      if (next === before && !full) {
        throw new CorruptSegmentError(seg.s3Key, seg.bytePosition, `chunk does not contain offset ${next} its segments row promises`);
      }
    }
    return out;
  }

  // ---- segment index (rows) ---------------------------------------------------------------------

  private lookupCached(pk: string, offset: number): SegmentRecord | undefined {
    const list = this.segments.get(pk);
    if (list === undefined || list.length === 0) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].endOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    const s = list[lo];
    if (s.baseOffset <= offset && offset <= s.endOffset) {
      this.segments.delete(pk); // LRU touch
      this.segments.set(pk, list);
      return s;
    }
    return undefined;
  }

  private remember(pk: string, rows: SegmentRecord[]): void {
    if (rows.length === 0) return;
    const list = this.segments.get(pk) ?? [];
    const byBase = new Map(list.map((s) => [s.baseOffset, s]));
    for (const r of rows) if (r.endOffset >= r.baseOffset) byBase.set(r.baseOffset, r);
    const merged = [...byBase.values()].sort((a, b) => a.baseOffset - b.baseOffset);
    this.segmentRows += merged.length - list.length;
    this.segments.delete(pk);
    this.segments.set(pk, merged);
    for (const [k, l] of this.segments) {
      if (this.segmentRows <= this.segmentCacheRows || k === pk) break;
      this.segments.delete(k);
      this.segmentRows -= l.length;
    }
  }

  private forgetSegments(pk: string): void {
    const l = this.segments.get(pk);
    if (l === undefined) return;
    this.segmentRows -= l.length;
    this.segments.delete(pk);
  }

  private async segmentFor(topic: string, partitionId: number, pk: string, offset: number): Promise<SegmentRecord | undefined> {
    const hit = this.lookupCached(pk, offset);
    if (hit !== undefined) return hit;
    const generationOf = () => `${this.topicInvalidations.get(topic) ?? 0}.${this.invalidations.get(pk) ?? 0}`;
    const generation = generationOf();
    return this.segFlight.run(`${pk}@${offset}#${generation}`, async () => {
      this.stats.segmentQueries++;
      const rows = await this.metadata.listSegments(topic, partitionId, offset, this.segmentPrefetchRows);
      const current = () => generationOf() === generation;
      const within = (r: SegmentRecord) => r.baseOffset <= offset && offset <= r.endOffset;
      if (!current()) return rows.find(within);
      this.remember(pk, rows);
      const found = this.lookupCached(pk, offset);
      if (found !== undefined) return found;
      const row = await this.metadata.findSegmentForOffset(topic, partitionId, offset);
      if (row === undefined || !within(row)) return undefined;
      if (current()) this.remember(pk, [row]);
      return row;
    });
  }

  // ---- chunk index and blocks -------------------------------------------------------------------

  private async chunkIndex(seg: SegmentRecord): Promise<LoadedIndex> {
    const ck = chunkKey(seg);
    const cached = this.indexes.get(ck);
    if (cached !== undefined) return { index: cached };
    return this.indexFlight.run(ck, async () => {
      const end = seg.bytePosition + seg.byteLength; // exclusive
      let probeLen = Math.min(seg.byteLength, this.indexProbeBytes);
      let tail = await this.getRange(seg.s3Key, end - probeLen, end - 1);
      this.stats.indexGets++;
      let idx = chunkIndexFromTail(tail, seg.byteLength, seg.s3Key, seg.bytePosition);
      if ('needTailBytes' in idx) {
        probeLen = idx.needTailBytes;
        tail = await this.getRange(seg.s3Key, end - probeLen, end - 1);
        this.stats.indexGets++;
        idx = chunkIndexFromTail(tail, seg.byteLength, seg.s3Key, seg.bytePosition);
        if ('needTailBytes' in idx) throw new CorruptSegmentError(seg.s3Key, seg.bytePosition, 'chunk index length changed');
      }
      if (idx.topic !== seg.topic || idx.partitionId !== seg.partitionId || idx.baseOffset !== seg.baseOffset || idx.lastOffset !== seg.endOffset) {
        throw new CorruptSegmentError(seg.s3Key, seg.bytePosition, 'chunk index disagrees with its segments row');
      }
      this.indexes.set(ck, idx, 256 + idx.topic.length + idx.blocks.length * 96);
      return { index: idx, probe: { start: end - probeLen, buf: tail } };
    });
  }

  private async getRange(key: string, start: number, end: number): Promise<Buffer> {
    const buf = await this.store.get(key, { start, end });
    if (buf.length !== end - start + 1) {
      throw new CorruptSegmentError(key, start, `object truncated: wanted ${end - start + 1} bytes at ${start}, got ${buf.length}`);
    }
    return buf;
  }

  private blockKey(seg: SegmentRecord, position: number): string {
    return `${seg.s3Key}@${seg.bytePosition}+${position}`;
  }

  /** Blocks i..j of a chunk, decoded; the missing ones are fetched with one ranged GET. */
  private async loadBlocks(seg: SegmentRecord, idx: ChunkIndex, i: number, j: number, probe?: { start: number; buf: Buffer }): Promise<DecodedBlock[]> {
    const out: DecodedBlock[] = [];
    let firstMissing = -1;
    let lastMissing = -1;
    for (let k = i; k <= j; k++) {
      const b = this.blocks.get(this.blockKey(seg, idx.blocks[k].position));
      if (b === undefined) {
        if (firstMissing < 0) firstMissing = k;
        lastMissing = k;
      }
      out.push(b as DecodedBlock);
    }
    if (firstMissing < 0) return out;
    const lo = idx.blocks[firstMissing];
    const hi = idx.blocks[lastMissing];
    const start = seg.bytePosition + lo.position;
    const end = seg.bytePosition + hi.position + hi.compressedLength - 1;
    const decodedHere = new Map<number, DecodedBlock>();
    await this.blockFlight.run(`${seg.s3Key}@${start}-${end}`, async () => {
      let raw: Buffer;
      if (probe !== undefined && start >= probe.start && end < probe.start + probe.buf.length) {
        raw = probe.buf.subarray(start - probe.start, end - probe.start + 1);
      } else {
        raw = await this.getRange(seg.s3Key, start, end);
        this.stats.blockGets++;
      }
      for (let k = firstMissing; k <= lastMissing; k++) {
        const e = idx.blocks[k];
        const bk = this.blockKey(seg, e.position);
        if (k > firstMissing && k < lastMissing && this.blocks.get(bk) !== undefined) continue;
        const rel = e.position - lo.position;
        const blk = await decodeBlock(raw.subarray(rel, rel + e.compressedLength), e, seg.s3Key, seg.bytePosition);
        decodedHere.set(k, blk);
        this.blocks.set(bk, blk, blk.data.length + blk.batches.length * 80);
      }
    });
    for (let k = firstMissing; k <= lastMissing; k++) {
      if (out[k - i] !== undefined) continue;
      const blk = decodedHere.get(k) ?? this.blocks.get(this.blockKey(seg, idx.blocks[k].position));
      // Evicted already (cache smaller than one read) and loaded by another caller: load it alone.
      out[k - i] = blk ?? (await this.loadBlocks(seg, idx, k, k))[0];
    }
    return out;
  }

  // ---- timestamps -------------------------------------------------------------------------------

  private async allSegments(topic: string, partitionId: number, fromOffset: number, visit: (s: SegmentRecord) => boolean | void): Promise<void> {
    const page = 1000;
    let from = fromOffset;
    for (;;) {
      this.stats.segmentQueries++;
      const rows = await this.metadata.listSegments(topic, partitionId, from, page);
      for (const r of rows) {
        if (r.endOffset < from) continue;
        if (visit(r) === false) return;
      }
      if (rows.length < page) return;
      const nextFrom = rows[rows.length - 1].endOffset + 1;
      if (nextFrom <= from) return;
      from = nextFrom;
    }
  }

  private async batchWhere(
    seg: SegmentRecord,
    hw: number,
    pickBlock: (idx: ChunkIndex) => number,
    pickBatch: (ts: number) => boolean,
  ): Promise<TimestampLookup | undefined> {
    const { index } = await this.chunkIndex(seg);
    const k = pickBlock(index);
    if (k < 0) return undefined;
    const [blk] = await this.loadBlocks(seg, index, k, k);
    for (const b of blk.batches) {
      if (b.baseOffset >= hw) return undefined;
      if (pickBatch(b.maxTimestamp)) {
        return { offset: b.baseOffset, timestamp: b.maxTimestamp, batch: blk.data.subarray(b.position, b.position + b.size) };
      }
    }
    return undefined;
  }

  /** The first batch with the largest timestamp among a chunk's batches below hw. */
  private async maxBelow(seg: SegmentRecord, hw: number): Promise<TimestampLookup | undefined> {
    const { index } = await this.chunkIndex(seg);
    let found: TimestampLookup | undefined;
    for (let k = 0; k < index.blocks.length && index.blocks[k].firstOffset < hw; k++) {
      const e = index.blocks[k];
      if (found !== undefined && e.maxTimestamp <= found.timestamp) continue;
      const [blk] = await this.loadBlocks(seg, index, k, k);
      for (const b of blk.batches) {
        if (b.baseOffset >= hw) break;
        if (found === undefined || b.maxTimestamp > found.timestamp) {
          found = { offset: b.baseOffset, timestamp: b.maxTimestamp, batch: blk.data.subarray(b.position, b.position + b.size) };
        }
      }
    }
    return found;
  }

  /**
   * ListOffsets by time: the first batch (from `fromOffset`, below `highWatermark`) whose
   * maxTimestamp ≥ `timestamp`, or undefined. Scans segment rows (their max timestamps), then one
   * chunk index and one block.
   */
  async offsetForTimestamp(
    topic: string,
    partitionId: number,
    timestamp: number,
    opts: { highWatermark?: number; fromOffset?: number } = {},
  ): Promise<TimestampLookup | undefined> {
    const hw = opts.highWatermark ?? Number.MAX_SAFE_INTEGER;
    try {
      let first: SegmentRecord | undefined;
      await this.allSegments(topic, partitionId, opts.fromOffset ?? 0, (s) => {
        if (s.baseOffset >= hw) return false;
        if (s.maxTimestamp >= timestamp) {
          first = s;
          return false;
        }
      });
      if (first === undefined) return undefined;
      return await this.batchWhere(
        first,
        hw,
        (idx) => idx.blocks.findIndex((b) => b.maxTimestamp >= timestamp),
        (ts) => ts >= timestamp,
      );
    } catch (err) {
      throw err instanceof KafkaError ? err : this.mapError(err);
    }
  }

  /** ListOffsets MAX_TIMESTAMP: the first batch holding the largest timestamp below `highWatermark`. */
  async maxTimestampOffset(
    topic: string,
    partitionId: number,
    opts: { highWatermark?: number; fromOffset?: number } = {},
  ): Promise<TimestampLookup | undefined> {
    const hw = opts.highWatermark ?? Number.MAX_SAFE_INTEGER;
    try {
      // Rows wholly below hw compete by their max timestamp; a row straddling hw (only the last
      // can) is inspected block by block, since its max may come from beyond hw.
      let best: SegmentRecord | undefined;
      let straddle: SegmentRecord | undefined;
      await this.allSegments(topic, partitionId, opts.fromOffset ?? 0, (s) => {
        if (s.baseOffset >= hw) return false;
        if (s.endOffset >= hw) {
          straddle = s;
          return false;
        }
        if (best === undefined || s.maxTimestamp > best.maxTimestamp) best = s;
      });
      let found: TimestampLookup | undefined;
      if (best !== undefined) {
        const target = best.maxTimestamp;
        found = await this.batchWhere(best, hw, (idx) => idx.blocks.findIndex((b) => b.maxTimestamp === target), (ts) => ts === target);
      }
      if (straddle !== undefined) {
        const s = await this.maxBelow(straddle, hw);
        if (s !== undefined && (found === undefined || s.timestamp > found.timestamp)) found = s;
      }
      return found;
    } catch (err) {
      throw err instanceof KafkaError ? err : this.mapError(err);
    }
  }
}

/** Replaces out[from..] (views into the tail cache's ring, overwritten later) by views of one copy. */
function copyOut(out: Buffer[], from: number): void {
  if (from >= out.length) return;
  const copy = Buffer.concat(out.slice(from));
  let at = 0;
  for (let i = from; i < out.length; i++) {
    const n = out[i].length;
    out[i] = copy.subarray(at, at + n);
    at += n;
  }
}
