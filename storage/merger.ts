// Merging: the leader of a partition rewrites runs of its small segments (chunks carved out of the
// multi-partition flush objects) into one per-partition object of about `targetBytes`, batches byte
// for byte in the same segment format (so the same index, reader and checks), and swaps the run's rows
// for one row in a single statement fenced by its lease (holder + epoch, metadata/storage-store.ts).
//
// - A run is consecutive, contiguous rows each smaller than half the target. It is merged once its rows
//   hold `targetBytes`, or once its newest row is older than `maxAgeMs` (database clock): so a
//   partition keeps at most one unmerged window of rows plus one row per target size.
// - The new object is registered before its upload; if the swap is refused (lease lost, a row gone to
//   retention meanwhile) it is given up and deleted. The old objects lose their references in the swap
//   and the registry cleaner deletes them after its grace: readers in flight keep working, and a reader
//   that cached an old row and finds the object gone looks the rows up again.
// - Merging yields to produce and fetch: one partition at a time, its object-store reads and writes
//   paced to `bytesPerSecond`, blocks decoded and encoded in the thread pool; it stops between steps as
//   soon as the partition is no longer led here (handoff), and the fenced swap refuses it anyway.
import { randomBytes, randomUUID } from 'node:crypto';
import type { MergeCandidates, SegmentSwap, SwapResult } from '../metadata/storage-store.js';
import type { MetadataStore, NewSegment, SegmentRecord } from '../metadata/types.js';
import { PeriodicPass, silentStorageLogger, sleep, systemClock, systemTimers, type Clock, type StorageLogger, type Timers } from './clock.js';
import { CorruptSegmentError } from './errors.js';
import { batchInfoAt } from './batch.js';
import { ChunkStreamEncoder, chunkIndexFromTail, decodeBlock, DEFAULT_BLOCK_BYTES, type ChunkInputBatch, type EncodedChunk } from './segment-format.js';
import type { ObjectStore } from './types.js';

export interface MergerMetadata {
  listSegments: MetadataStore['listSegments'];
  now: MetadataStore['now'];
}

export interface MergerStorage {
  registerObject(o: { key: string; bucket: string; sizeBytes: number; agentId: string }): Promise<void>;
  swapSegments(swap: SegmentSwap): Promise<SwapResult>;
  abandonObjects(keys: string[]): Promise<string[]>;
  markObjectsDeleted(keys: string[]): Promise<number>;
  /** Small rows from an offset on, aggregated (optional: without it every pass lists the rows). */
  mergeCandidates?(topic: string, partitionId: number, fromOffset: number, smallBelow: number): Promise<MergeCandidates>;
}

export interface LedPartition {
  topic: string;
  partitionId: number;
  epoch: number;
}

export interface MergerOptions {
  objectStore: ObjectStore;
  metadata: MergerMetadata;
  storage: MergerStorage;
  agentId: string;
  /** The partitions this agent leads now, with their lease epochs. */
  leading: () => LedPartition[];
  /** Whether the partition is still led here at that epoch (checked between steps). */
  stillLeading: (p: LedPartition) => boolean;
  /** Called after a swap (e.g. the reader drops the partition's cached rows). */
  onMerged?: (topic: string, partitionId: number) => void;
  /** Target object size (default 64 MiB). */
  targetBytes?: number;
  /** Rows older than this are merged even below the target (default 10 min). */
  maxAgeMs?: number;
  /** Bytes moved per second at most (default 32 MiB/s): the larger of each row's stored and batch bytes read, plus the batch bytes encoded and the object bytes written. */
  bytesPerSecond?: number;
  /** Rows one merge replaces at most (default DEFAULT_MAX_ROWS_PER_MERGE). */
  maxRowsPerMerge?: number;
  /** Rows read at once during a merge (default 4). */
  readConcurrency?: number;
  /** Rows looked at per partition and pass (default 10,000). */
  maxRowsPerPass?: number;
  keyPrefix?: string;
  blockBytes?: number;
  clock?: Clock;
  timers?: Timers;
  logger?: StorageLogger;
}

export interface MergeStats {
  merges: number;
  rowsMerged: number;
  bytesRead: number;
  bytesWritten: number;
  /** Record batch bytes (uncompressed) in the merged rows. */
  batchBytesMerged: number;
  refused: number;
  failed: number;
  mergeMs: number;
}

/** The segment row of a partition's rewritten chunk (a merge's or a compaction's output object). */
export function rewrittenSegment(p: { topic: string; partitionId: number }, bucket: string, key: string, chunk: EncodedChunk): NewSegment {
  return {
    id: randomUUID(),
    topic: p.topic,
    partitionId: p.partitionId,
    baseOffset: chunk.baseOffset,
    endOffset: chunk.lastOffset,
    recordCount: chunk.recordCount,
    sizeBytes: chunk.sizeBytes,
    s3Bucket: bucket,
    s3Key: key,
    bytePosition: chunk.position,
    byteLength: chunk.length,
    maxTimestamp: chunk.maxTimestamp,
  };
}

export const DEFAULT_MERGE_TARGET_BYTES = 64 * 1024 * 1024;
/**
 * Rows one swap replaces at most. Longer runs are merged in pieces, and the pieces merged again once
 * they add up to the target (each byte written about twice). On PostgreSQL the swap runs on its own
 * connection (~10 ms for 250 rows); on PGlite it holds the only session, at ~5 ms plus ~50 µs per row
 * (the delete and the registry trigger), while produce commits wait: the embedded agent swaps 100 rows
 * at a time, and lists rows as many at a time.
 */
export const DEFAULT_MAX_ROWS_PER_MERGE = 250;
export const EMBEDDED_MAX_ROWS_PER_MERGE = 100;

function chunkBytes(batches: readonly ChunkInputBatch[]): number {
  let n = 0;
  for (const b of batches) n += b.buf.length;
  return n;
}

export class Merger {
  private readonly o: Required<Pick<MergerOptions, 'targetBytes' | 'maxAgeMs' | 'bytesPerSecond' | 'maxRowsPerPass' | 'keyPrefix' | 'blockBytes'>>;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: StorageLogger;
  private readonly periodic: PeriodicPass;
  private running: Promise<number> | undefined;
  private stopped = false;
  private seq = 0;
  private readonly readConcurrency: number;
  private readonly maxRowsPerMerge: number;
  /**
   * Per led partition (at its epoch), the offset before which every row is at least half the target:
   * such rows are never merged again, so a pass lists from there, not from the log start.
   */
  private readonly cursors = new Map<string, { epoch: number; from: number }>();
  /** Pacing: when the bytes moved so far may have been moved at `bytesPerSecond`. */
  private paceUntil = 0;
  readonly stats: MergeStats = { merges: 0, rowsMerged: 0, bytesRead: 0, bytesWritten: 0, batchBytesMerged: 0, refused: 0, failed: 0, mergeMs: 0 };

  constructor(private readonly opts: MergerOptions) {
    this.o = {
      targetBytes: opts.targetBytes ?? DEFAULT_MERGE_TARGET_BYTES,
      maxAgeMs: opts.maxAgeMs ?? 600_000,
      bytesPerSecond: opts.bytesPerSecond ?? 32 * 1024 * 1024,
      maxRowsPerPass: opts.maxRowsPerPass ?? 10_000,
      keyPrefix: opts.keyPrefix ?? 'segments/',
      blockBytes: opts.blockBytes ?? DEFAULT_BLOCK_BYTES,
    };
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
    this.periodic = new PeriodicPass(this.timers, () => this.runOnce(), (err) => this.log.warn({ err: String(err) }, 'merge pass failed'));
    this.log = opts.logger ?? silentStorageLogger;
    this.readConcurrency = Math.max(1, opts.readConcurrency ?? 4);
    this.maxRowsPerMerge = Math.max(2, opts.maxRowsPerMerge ?? DEFAULT_MAX_ROWS_PER_MERGE);
  }

  /** One pass over the led partitions; returns how many merges were swapped in. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    let merged = 0;
    const before = { rows: this.stats.rowsMerged, bytes: this.stats.bytesWritten };
    const led = this.opts.leading();
    const keep = new Set(led.map((p) => `${p.topic}\u0000${p.partitionId}`));
    for (const k of this.cursors.keys()) if (!keep.has(k)) this.cursors.delete(k);
    for (const p of led) {
      if (this.stopped) break;
      try {
        merged += await this.mergePartition(p);
      } catch (err) {
        this.stats.failed++;
        this.log.warn({ topic: p.topic, partition: p.partitionId, err: String(err) }, 'merge failed; the next pass retries');
      }
    }
    if (merged > 0) {
      this.log.info({ merges: merged, rows: this.stats.rowsMerged - before.rows, bytes: this.stats.bytesWritten - before.bytes }, 'merged small segments into per-partition objects');
    }
    return merged;
  }

  /**
   * Plans the runs of one partition from its rows (database clock for ages). A run is consecutive,
   * contiguous rows each below half the target, closed before it would exceed the target. It is
   * merged when it holds at least half the target (the tail run: 90 %), or when its second row is older than maxAgeMs (the
   * first may be an earlier merge's output, which is then rewritten with the rows that followed it:
   * at most once per maxAgeMs, so a slow partition keeps one growing tail row plus its last window).
   */
  planRuns(rows: readonly SegmentRecord[], dbNow: number): SegmentRecord[][] {
    const half = this.o.targetBytes / 2;
    const cutoff = dbNow - this.o.maxAgeMs;
    const runs: SegmentRecord[][] = [];
    let run: SegmentRecord[] = [];
    let bytes = 0;
    // A run cut short by the target (or a gap, or a big row) is merged from half the target on; the
    // tail run, still growing, only once it is nearly full (so merged rows are close to the target).
    const close = (tail = false) => {
      if (run.length >= 2 && (bytes >= (tail ? 0.9 * this.o.targetBytes : half) || run[1]!.createdAt < cutoff)) runs.push(run);
      run = [];
      bytes = 0;
    };
    for (const r of rows) {
      const prev = run[run.length - 1];
      if (run.length >= this.maxRowsPerMerge) {
        // Full by count: merged as it is (one statement swapping many thousands of rows would hold the
        // database, PGlite's single worker above all, while produce commits wait); the outputs, smaller
        // than the target, are merged again once they add up to it.
        runs.push(run);
        run = [];
        bytes = 0;
      } else if (prev !== undefined && (r.baseOffset !== prev.endOffset + 1 || bytes + r.byteLength > this.o.targetBytes)) close();
      if (r.byteLength >= half) {
        close();
        continue;
      }
      run.push(r);
      bytes += r.byteLength;
    }
    close(true);
    return runs;
  }

  /**
   * Whether a run may be due from `from` on, from the aggregate alone (conservative: planRuns decides).
   * A run needs two small rows and half the target in bytes, or a full count, or an old second row.
   */
  private mayBeDue(c: MergeCandidates): boolean {
    if (c.rows < 2) return false;
    return c.bytes >= this.o.targetBytes / 2 || c.rows > this.maxRowsPerMerge || (c.oldestAfterFirst !== null && c.oldestAfterFirst < c.dbNow - this.o.maxAgeMs);
  }

  private async mergePartition(p: LedPartition): Promise<number> {
    const pk = `${p.topic}\u0000${p.partitionId}`;
    const cur = this.cursors.get(pk);
    const start = cur !== undefined && cur.epoch === p.epoch ? cur.from : 0;
    let dbNow: number | undefined;
    if (this.opts.storage.mergeCandidates !== undefined) {
      const c = await this.opts.storage.mergeCandidates(p.topic, p.partitionId, start, Math.ceil(this.o.targetBytes / 2));
      if (!this.mayBeDue(c)) return 0;
      dbNow = c.dbNow;
    }
    const rows: SegmentRecord[] = [];
    let complete = false;
    for (let from = start; rows.length < this.o.maxRowsPerPass; ) {
      // Short pages: each is one statement, and on PGlite a statement holds the only session.
      const page = await this.opts.metadata.listSegments(p.topic, p.partitionId, from, this.maxRowsPerMerge);
      rows.push(...page);
      if (page.length < this.maxRowsPerMerge) {
        complete = true;
        break;
      }
      from = page[page.length - 1]!.endOffset + 1;
    }
    // Rows of half the target or more are never merged again: the next pass starts after them.
    const firstSmall = rows.find((r) => r.byteLength < this.o.targetBytes / 2);
    const nextFrom = firstSmall?.baseOffset ?? (rows.length > 0 ? rows[rows.length - 1]!.baseOffset : start);
    this.cursors.set(pk, { epoch: p.epoch, from: Math.max(start, nextFrom) });
    // The newest row stays as it is (the active segment: compaction never cleans it, so merging it into
    // older rows would hold a compacted partition's cleaning back until the next append).
    if (complete) rows.pop();
    if (rows.length < 2) return 0;
    const runs = this.planRuns(rows, dbNow ?? (await this.opts.metadata.now()));
    let merged = 0;
    for (const run of runs) {
      if (this.stopped || !this.opts.stillLeading(p)) break;
      const outBytes = await this.mergeRun(p, run);
      if (outBytes === undefined) continue;
      merged++;
      // A merged row of half the target or more at the cursor moves it on.
      const c = this.cursors.get(pk);
      if (c !== undefined && c.epoch === p.epoch && c.from === run[0]!.baseOffset && outBytes >= this.o.targetBytes / 2) c.from = run[run.length - 1]!.endOffset + 1;
    }
    return merged;
  }

  /** Reads the run's batches, writes one object, swaps the rows. The new row's byte length when swapped in. */
  async mergeRun(p: LedPartition, run: readonly SegmentRecord[]): Promise<number | undefined> {
    const t0 = performance.now();
    // Rows are read a few at a time (an S3 GET costs 10-50 ms) and pushed into the encoder in order:
    // what is held is the compressed output plus the rows in flight, never the run's batches at once
    // (a 64 MiB object of JSON holds ~300 MB of batches).
    const encoder = new ChunkStreamEncoder(p.topic, p.partitionId, this.o.blockBytes);
    const inFlight: Array<Promise<ChunkInputBatch[]>> = [];
    let next = 0;
    const startRead = () => {
      if (next < run.length) inFlight.push(this.readRow(run[next++]!));
    };
    for (let i = 0; i < this.readConcurrency; i++) startRead();
    try {
      while (inFlight.length > 0) {
        if (this.stopped || !this.opts.stillLeading(p)) return undefined;
        const batches = await inFlight.shift()!;
        startRead();
        // CPU is paced too: compressing the output costs about as much per byte as reading it back.
        await this.pace(chunkBytes(batches));
        await encoder.push(batches);
      }
    } finally {
      // Reads still in flight when a merge is given up must not reject unobserved.
      for (const r of inFlight) r.catch(() => undefined);
    }
    if (this.stopped || !this.opts.stillLeading(p)) return undefined;
    const createdAt = this.clock.now();
    const encoded = await encoder.finish(createdAt);
    if (encoded === undefined) throw new CorruptSegmentError(run[0]!.s3Key, run[0]!.bytePosition, 'merged rows hold no batch');
    const chunk = encoded.chunks[0]!;
    const first = run[0]!;
    const last = run[run.length - 1]!;
    if (chunk.baseOffset !== first.baseOffset || chunk.lastOffset !== last.endOffset) {
      throw new CorruptSegmentError(first.s3Key, first.bytePosition, `merged chunk covers ${chunk.baseOffset}..${chunk.lastOffset}, rows ${first.baseOffset}..${last.endOffset}`);
    }
    const key = this.objectKey(createdAt, p);
    await this.opts.storage.registerObject({ key, bucket: this.opts.objectStore.bucket, sizeBytes: encoded.size, agentId: this.opts.agentId });
    await this.pace(encoded.size);
    await this.opts.objectStore.put(key, encoded.parts);
    this.stats.bytesWritten += encoded.size;
    let result: SwapResult;
    try {
      result = await this.opts.storage.swapSegments({
        topic: p.topic,
        partitionId: p.partitionId,
        agentId: this.opts.agentId,
        leaseEpoch: p.epoch,
        removeIds: run.map((r) => r.id),
        add: [rewrittenSegment(p, this.opts.objectStore.bucket, key, chunk)],
      });
    } catch (err) {
      // Outcome unknown: the registry decides (live if the swap applied, else deleted after the pending bound).
      throw err;
    }
    if (result !== 'swapped') {
      this.stats.refused++;
      this.log.info({ topic: p.topic, partition: p.partitionId, reason: result }, 'merge not swapped in (lease lost or rows changed); its object is given up');
      const claimed = await this.opts.storage.abandonObjects([key]);
      if (claimed.length > 0) {
        await this.opts.objectStore.delete(key).catch(() => undefined);
        await this.opts.storage.markObjectsDeleted(claimed);
      }
      return undefined;
    }
    this.stats.merges++;
    this.stats.rowsMerged += run.length;
    this.stats.batchBytesMerged += chunk.sizeBytes;
    this.stats.mergeMs += performance.now() - t0;
    this.opts.onMerged?.(p.topic, p.partitionId);
    this.log.debug({ topic: p.topic, partition: p.partitionId, rows: run.length, bytes: encoded.size, key }, 'merged segments');
    return chunk.length;
  }

  /** The batches of one row's chunk: one ranged GET, index and blocks checked against the row. */
  private async readRow(row: SegmentRecord): Promise<ChunkInputBatch[]> {
    // Paced by the row's batch bytes (decompression is the CPU cost), and a turn of the event loop
    // for produce and fetch between rows.
    await this.pace(Math.max(row.byteLength, row.sizeBytes));
    await new Promise((r) => setImmediate(r));
    const chunk = await this.opts.objectStore.get(row.s3Key, { start: row.bytePosition, end: row.bytePosition + row.byteLength - 1 });
    this.stats.bytesRead += chunk.length;
    if (chunk.length !== row.byteLength) throw new CorruptSegmentError(row.s3Key, row.bytePosition, 'chunk shorter than its segments row');
    const index = chunkIndexFromTail(chunk, row.byteLength, row.s3Key, row.bytePosition);
    if ('needTailBytes' in index) throw new CorruptSegmentError(row.s3Key, row.bytePosition, 'chunk index truncated');
    if (index.topic !== row.topic || index.partitionId !== row.partitionId || index.baseOffset !== row.baseOffset || index.lastOffset !== row.endOffset) {
      throw new CorruptSegmentError(row.s3Key, row.bytePosition, 'chunk index disagrees with its segments row');
    }
    const out: ChunkInputBatch[] = [];
    for (const e of index.blocks) {
      const blk = await decodeBlock(chunk.subarray(e.position, e.position + e.compressedLength), e, row.s3Key, row.bytePosition);
      for (const b of blk.batches) {
        const buf = blk.data.subarray(b.position, b.position + b.size);
        const info = batchInfoAt(buf, 0, buf.length);
        out.push({ buf, baseOffset: info.baseOffset, lastOffset: info.lastOffset, maxTimestamp: info.maxTimestamp, recordsCount: info.recordsCount });
      }
    }
    return out;
  }

  /** Paces object-store traffic to bytesPerSecond (real time: it yields the event loop meanwhile). */
  private async pace(bytes: number): Promise<void> {
    const now = performance.now();
    this.paceUntil = Math.max(this.paceUntil, now) + (bytes / this.o.bytesPerSecond) * 1000;
    const wait = this.paceUntil - now - (bytes / this.o.bytesPerSecond) * 1000;
    if (wait > 1) await sleep(this.timers, wait);
  }

  private objectKey(now: number, p: LedPartition): string {
    const agent = this.opts.agentId.replace(/[^A-Za-z0-9._-]/g, '_');
    const seq = (this.seq++).toString(36).padStart(6, '0');
    return `${this.o.keyPrefix}${agent}/${String(now).padStart(14, '0')}-m${seq}-${p.partitionId}-${randomBytes(4).toString('hex')}.seg`;
  }

  /** Runs a pass every `intervalMs` until stop(). Errors are logged, never thrown. */
  start(intervalMs: number): void {
    this.periodic.start(intervalMs);
  }

  /** Stops between steps (a merge in progress is abandoned before its swap). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.periodic.stop();
    await this.running?.catch(() => undefined);
  }
}
