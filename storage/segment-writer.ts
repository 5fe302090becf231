// The group-commit segment writer. Produce requests append record batches to per-partition buffers;
// the partition's leader assigns offsets in memory. A flush cycle (every flushMs, or sooner when
// flushBytes are buffered) turns everything buffered into ONE segment object (one chunk per
// partition), uploads it with one PUT, then makes one fenced metadata commit for all its chunks, and
// only then resolves the waiting appends. Appends arriving meanwhile gather for the next cycle.
// Up to maxInflightCycles cycles encode and upload at the same time (a slow PUT does not hold the
// next one back), but cycles SETTLE (commit, ack, or fail) strictly one after the other, in order,
// so each commit builds on the high watermarks the previous one left.
//
// Failure rules (what makes it safe):
// - upload fails → every append of the cycle gets a retriable error, and each partition involved
//   rolls back to its committed high watermark (appends buffered behind it are failed too, since
//   their offsets followed the failed ones). Nothing was committed, so nothing is visible.
// - commit fenced for some partitions → those are closed (NOT_LEADER_OR_FOLLOWER); the others are
//   committed again from the same object (the chunks are still valid).
// - commit throws → the outcome is unknown, so we look: a segments row at the chunk's base offset
//   naming our object means it committed. Definitely not committed → retry (bounded), then fail.
//   Still unknown after commitResolveTimeoutMs → REQUEST_TIMED_OUT, and the partition refuses
//   appends until a background check settles its high watermark.
import { randomBytes } from 'node:crypto';
import type { ObjectRegistry } from '../metadata/storage-store.js';
import type { MetadataStore, FlushCommitPartition, FenceReason } from '../metadata/types.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { ObjectStore } from './types.js';
import { BATCH_HEADER_BYTES, assignBatch, readInt64, scanProducedBatches, type BatchInfo } from './batch.js';
import { encodeSegmentObject, type ChunkInput, type EncodedChunk, DEFAULT_BLOCK_BYTES } from './segment-format.js';
import { silentStorageLogger, sleep, systemClock, systemTimers, type Clock, type StorageLogger, type Timers } from './clock.js';
import { backoffDelay } from './retry.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, ProducerStateTable, producerFields } from './producer-state.js';
import { toKafkaStorageError } from './errors.js';

export type WriterMetadata = Pick<MetadataStore, 'commitFlush' | 'findSegmentForOffset'>;

export interface FlushDefaults {
  flushMs: number;
  flushBytes: number;
  maxBufferedBytes: number;
  maxInflightCycles: number;
}

const MiB = 1024 * 1024;

/**
 * Defaults per back end. Local directory: a put costs ~1 ms (write + 2 fsyncs), so a short linger
 * keeps ack latency low, and one cycle at a time is enough: a second one in flight only splits the
 * same bytes into more objects and more commits (measured: more CPU per byte, less throughput on
 * two cores). S3: every PUT costs money and ~20-100 ms, so gather for 100 ms, and let a second
 * cycle upload while the first one commits.
 */
export function defaultFlushSettings(kind: 'local' | 's3'): FlushDefaults {
  return kind === 'local'
    ? { flushMs: 5, flushBytes: 8 * MiB, maxBufferedBytes: 64 * MiB, maxInflightCycles: 1 }
    : { flushMs: 100, flushBytes: 8 * MiB, maxBufferedBytes: 128 * MiB, maxInflightCycles: 2 };
}

export interface SegmentWriterOptions {
  objectStore: ObjectStore;
  metadata: WriterMetadata;
  agentId: string;
  /** Longest an append waits for its cycle to start (default per back end, see defaultFlushSettings). */
  flushMs?: number;
  /** Buffered bytes that start a cycle at once. */
  flushBytes?: number;
  /** Buffered + in-flight bytes above which new appends wait (backpressure). */
  maxBufferedBytes?: number;
  /** Cycles uploading at once (default per back end: 1 local, 2 S3); they still commit one at a time, in order. */
  maxInflightCycles?: number;
  /** Idempotent producers idle this long are forgotten (Kafka's producer.id.expiration.ms; default 1 day). */
  producerIdExpirationMs?: number;
  /** Uncompressed bytes per LZ4 block (default 256 KiB). */
  blockBytes?: number;
  /** The object registry: each object is registered before its upload (absent: not registered, as before). */
  registry?: ObjectRegistry;
  /** Reserved keys older than this are not used (default 30 s; keep it well below the registry's pending bound). */
  reserveMaxAgeMs?: number;
  /** Object keys are `${keyPrefix}${agentId}/${time}-${seq}-${random}.seg` (default "segments/"). */
  keyPrefix?: string;
  /** Commit attempts per cycle when the metadata store throws and the commit definitely did not apply. */
  commitAttempts?: number;
  commitRetryDelayMs?: number;
  /** How long to keep trying to learn whether an ambiguous commit applied (default 30 s). */
  commitResolveTimeoutMs?: number;
  clock?: Clock;
  timers?: Timers;
  logger?: StorageLogger;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

export interface CommitEvent {
  topic: string;
  partitionId: number;
  leaderEpoch: number;
  /** Offset of the first committed batch. */
  baseOffset: number;
  /** The new high watermark (last committed offset + 1). */
  highWatermark: number;
  /**
   * The committed batches, in offset order: views of the appended buffers, valid only during the
   * listener call (copy to keep). Empty when the commit was found applied after its appends had been
   * answered (an unknown outcome, resolved later): those buffers are no longer ours to read.
   */
  batches: Buffer[];
}

export interface RollbackEvent {
  topic: string;
  partitionId: number;
  /** The committed high watermark the partition's log end rolled back to. */
  highWatermark: number;
  error: KafkaError;
  /** True when the partition was closed (fenced / closePartition / writer closed). */
  closed: boolean;
}

/** One flush cycle finished (metrics): after its commit, or its failure. */
export interface CycleEvent {
  /** Encode, upload, waiting for earlier cycles, commit. */
  durationMs: number;
  /** Bytes of the segment object. */
  objectBytes: number;
  /** Partitions in the cycle. */
  partitions: number;
  /** False when the upload or the commit failed (its appends were answered with an error). */
  ok: boolean;
}

export interface WriterStats {
  cycles: number;
  puts: number;
  putBytes: number;
  /** Uncompressed record-batch bytes committed. */
  committedBytes: number;
  committedBatches: number;
  failedCycles: number;
  fencedPartitions: number;
  /** Cumulative milliseconds spent per phase (divide by cycles for averages). */
  encodeMs: number;
  putMs: number;
  commitMs: number;
  /** Slowest cycle so far (encode + put + commit), ms. */
  maxCycleMs: number;
}

interface Pending {
  buf: Buffer;
  infos: BatchInfo[];
  baseOffset: number;
  lastOffset: number;
  resolve(r: AppendResult): void;
  reject(e: Error): void;
}

type LogState = 'open' | 'closed' | 'resyncing';

interface PartitionLog {
  key: string;
  topic: string;
  partitionId: number;
  leaseEpoch: number;
  committedHW: number;
  nextOffset: number;
  state: LogState;
  /** Appended, not yet taken by a cycle. */
  buffer: Pending[];
  bufferBytes: number;
  /** Settles when the last cycle holding this partition's data finishes (undefined when none). */
  inflight: Promise<void> | undefined;
  /** Bumped on every rollback: parts of later cycles taken before it are stale. */
  generation: number;
  rollbackError: KafkaError | undefined;
  /** Idempotent producers' last batches, as of nextOffset (rewound with it). */
  producers: ProducerStateTable;
  /** Being handed off: new appends are refused, what was appended is still committed. */
  draining: boolean;
}

/** Idempotent producers' state of a partition as of `endOffset` (its committed high watermark then). */
export interface ProducerSnapshot {
  leaseEpoch: number;
  endOffset: number;
  state: Buffer;
}

interface CyclePart {
  log: PartitionLog;
  generation: number;
  pendings: Pending[];
  bytes: number;
  chunk?: EncodedChunk;
  /** The part's batches (views of the appended buffers), for the commit event. */
  batches?: Buffer[];
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const partitionKey = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

export class SegmentWriter {
  private readonly store: ObjectStore;
  private readonly metadata: WriterMetadata;
  private readonly agentId: string;
  private readonly flushMs: number;
  private readonly flushBytes: number;
  private readonly maxBufferedBytes: number;
  private readonly blockBytes: number;
  private readonly maxInflightCycles: number;
  private readonly producerIdExpirationMs: number;
  private readonly keyPrefix: string;
  private readonly registry: ObjectRegistry | undefined;
  private readonly reserveMaxAgeMs: number;
  private readonly reserved: Array<{ key: string; at: number }> = [];
  /** Reserved (registered) keys not yet uploaded. */
  private readonly reservedKeys = new Set<string>();
  private reserving: Promise<void> | undefined;
  private readonly commitAttempts: number;
  private readonly commitRetryDelayMs: number;
  private readonly commitResolveTimeoutMs: number;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: StorageLogger;

  private readonly logs = new Map<string, PartitionLog>();
  /** Partitions with a non-empty buffer. */
  private readonly dirty = new Set<PartitionLog>();
  private unflushedBytes = 0;
  private firstUnflushedAt = 0;
  /** Appended and not yet settled (buffered + in flight) plus reservations of woken waiters. */
  private buffered = 0;
  private readonly waiters: Array<{ bytes: number; wake: () => void; fail: (e: Error) => void }> = [];
  /** The newest cycle not yet settled (cycles settle in order, so awaiting it awaits them all). */
  private lastCycle: Promise<void> | undefined;
  private inflightCycles = 0;
  private nextCycleDone = deferred();
  private urgent = false;
  private timer: unknown = undefined;
  private closing = false;
  private stopped = false;
  private closed: Promise<void> | undefined;
  private seq = 0;
  private readonly commitListeners: Array<(e: CommitEvent) => void> = [];
  private readonly rollbackListeners: Array<(e: RollbackEvent) => void> = [];
  private readonly cycleListeners: Array<(e: CycleEvent) => void> = [];
  readonly stats: WriterStats = { cycles: 0, puts: 0, putBytes: 0, committedBytes: 0, committedBatches: 0, failedCycles: 0, fencedPartitions: 0, encodeMs: 0, putMs: 0, commitMs: 0, maxCycleMs: 0 };

  constructor(opts: SegmentWriterOptions) {
    const d = defaultFlushSettings(opts.objectStore.kind);
    this.store = opts.objectStore;
    this.metadata = opts.metadata;
    this.agentId = opts.agentId;
    this.flushMs = opts.flushMs ?? d.flushMs;
    this.flushBytes = opts.flushBytes ?? d.flushBytes;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? Math.max(d.maxBufferedBytes, 2 * this.flushBytes);
    this.blockBytes = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
    this.maxInflightCycles = Math.max(1, opts.maxInflightCycles ?? d.maxInflightCycles);
    this.producerIdExpirationMs = opts.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    this.keyPrefix = opts.keyPrefix ?? 'segments/';
    this.registry = opts.registry;
    this.reserveMaxAgeMs = opts.reserveMaxAgeMs ?? 30_000;
    this.commitAttempts = opts.commitAttempts ?? 3;
    this.commitRetryDelayMs = opts.commitRetryDelayMs ?? 100;
    this.commitResolveTimeoutMs = opts.commitResolveTimeoutMs ?? 30_000;
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentStorageLogger;
  }

  // ---- partitions -------------------------------------------------------------------------------

  /** This agent became leader: offsets continue from the committed high watermark. */
  openPartition(topic: string, partitionId: number, lease: { leaseEpoch: number; highWatermark: number }): void {
    if (this.closing) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'segment writer is closing');
    const key = partitionKey(topic, partitionId);
    const old = this.logs.get(key);
    if (old !== undefined) this.shutPartition(old, new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partitionId} was reopened`));
    this.logs.set(key, {
      key,
      topic,
      partitionId,
      leaseEpoch: lease.leaseEpoch,
      committedHW: lease.highWatermark,
      nextOffset: lease.highWatermark,
      state: 'open',
      buffer: [],
      bufferBytes: 0,
      inflight: undefined,
      generation: 0,
      rollbackError: undefined,
      producers: new ProducerStateTable(this.producerIdExpirationMs),
      draining: false,
    });
  }

  /**
   * Leadership lost or given up: buffered appends fail with NOT_LEADER_OR_FOLLOWER at once. Resolves
   * when data already in flight has settled (committed data stays committed and is acked).
   */
  async closePartition(topic: string, partitionId: number): Promise<void> {
    const log = this.logs.get(partitionKey(topic, partitionId));
    if (log === undefined) return;
    this.shutPartition(log, new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partitionId} is no longer led here`));
    await log.inflight;
  }

  /**
   * Graceful handoff: refuses new appends with NOT_LEADER_OR_FOLLOWER at once, flushes and commits
   * what was already appended (those producers get their acks), then closes the partition. Resolves
   * when nothing of the partition is buffered or in flight any more.
   */
  async drainPartition(topic: string, partitionId: number): Promise<ProducerSnapshot | undefined> {
    const log = this.logs.get(partitionKey(topic, partitionId));
    if (log === undefined) return undefined;
    log.draining = true;
    while (log.state !== 'closed' && this.logs.get(log.key) === log && (log.bufferBytes > 0 || log.inflight !== undefined)) {
      if (log.bufferBytes > 0) {
        this.urgent = true;
        this.maybeStartCycle();
      }
      await (log.inflight ?? this.nextCycleDone.promise);
    }
    // Drained whole: the producer state as of the final high watermark goes to the next leader.
    const snapshot = log.state === 'open' && this.logs.get(log.key) === log ? this.producerSnapshot(topic, partitionId) : undefined;
    if (this.logs.get(log.key) === log) {
      this.shutPartition(log, new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partitionId} was handed off to another agent`));
    }
    return snapshot;
  }

  /**
   * Feeds committed batches read back from the log to the partition's idempotent-producer state
   * (after a takeover). Ignored unless the partition is still open under `leaseEpoch`.
   */
  restoreProducers(topic: string, partitionId: number, leaseEpoch: number, batches: readonly Buffer[]): void {
    const log = this.logs.get(partitionKey(topic, partitionId));
    if (log === undefined || log.state === 'closed' || log.leaseEpoch !== leaseEpoch) return;
    for (const b of batches) if (b.length >= BATCH_HEADER_BYTES && readInt64(b, 0) < log.committedHW) log.producers.restore(b, this.clock.now());
  }

  /**
   * The idempotent-producer state of a partition open under `leaseEpoch`, as of its committed high
   * watermark (what the next leader may start from instead of reading the log back).
   */
  producerSnapshot(topic: string, partitionId: number): ProducerSnapshot | undefined {
    const log = this.logs.get(partitionKey(topic, partitionId));
    if (log === undefined || log.state !== 'open') return undefined;
    return { leaseEpoch: log.leaseEpoch, endOffset: log.committedHW, state: log.producers.snapshot(log.committedHW) };
  }

  /** Starts a partition just opened under `leaseEpoch` from a snapshot (see producerSnapshot). Throws on a malformed one. */
  restoreProducerSnapshot(topic: string, partitionId: number, leaseEpoch: number, state: Buffer): void {
    const log = this.logs.get(partitionKey(topic, partitionId));
    if (log === undefined || log.state === 'closed' || log.leaseEpoch !== leaseEpoch) return;
    log.producers.restoreSnapshot(state, this.clock.now());
  }

  /** Partitions open here and their committed high watermarks. */
  *openPartitions(): Iterable<{ topic: string; partitionId: number; leaseEpoch: number; highWatermark: number }> {
    for (const log of this.logs.values()) if (log.state === 'open') yield { topic: log.topic, partitionId: log.partitionId, leaseEpoch: log.leaseEpoch, highWatermark: log.committedHW };
  }

  highWatermark(topic: string, partitionId: number): number | undefined {
    return this.logs.get(partitionKey(topic, partitionId))?.committedHW;
  }

  /**
   * The last stable offset (transactions): the committed high watermark, or the first offset of the
   * earliest open transaction below it. read_committed consumers read up to here.
   */
  lastStableOffset(topic: string, partitionId: number): number | undefined {
    const log = this.logs.get(partitionKey(topic, partitionId));
    if (log === undefined) return undefined;
    const first = log.producers.firstUnstableOffset();
    return first === undefined ? log.committedHW : Math.min(first, log.committedHW);
  }

  /** The first offset of a producer's open transaction in a partition led here (undefined: none, or not led). */
  openTransaction(topic: string, partitionId: number, producerId: number): number | undefined {
    return this.logs.get(partitionKey(topic, partitionId))?.producers.openTransaction(producerId);
  }

  /** Next offset to assign (includes appended but uncommitted batches). */
  logEndOffset(topic: string, partitionId: number): number | undefined {
    return this.logs.get(partitionKey(topic, partitionId))?.nextOffset;
  }

  isOpen(topic: string, partitionId: number): boolean {
    const log = this.logs.get(partitionKey(topic, partitionId));
    return log?.state === 'open' && !log.draining;
  }

  /** Bytes appended and not yet settled. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  onCommit(listener: (e: CommitEvent) => void): () => void {
    this.commitListeners.push(listener);
    return () => this.commitListeners.splice(this.commitListeners.indexOf(listener) >>> 0, 1);
  }

  /** Called once per flush cycle when it settled (for metrics). */
  onCycle(listener: (e: CycleEvent) => void): () => void {
    this.cycleListeners.push(listener);
    return () => this.cycleListeners.splice(this.cycleListeners.indexOf(listener) >>> 0, 1);
  }

  onRollback(listener: (e: RollbackEvent) => void): () => void {
    this.rollbackListeners.push(listener);
    return () => this.rollbackListeners.splice(this.rollbackListeners.indexOf(listener) >>> 0, 1);
  }

  // ---- append -----------------------------------------------------------------------------------

  /**
   * Appends one or more whole record batches. Rewrites baseOffset and partitionLeaderEpoch in place
   * (the buffer must stay untouched until the promise settles). Resolves after the upload and the
   * metadata commit of its cycle; rejects with a KafkaError otherwise. With acks=0 the caller
   * ignores the result (but must still catch the rejection).
   */
  append(topic: string, partitionId: number, batch: Buffer): Promise<AppendResult> {
    // Not async: when there is room, the batch is buffered (and its offsets assigned) before
    // append() returns, so appends keep the order of the calls and a following flushNow sees them.
    try {
      const key = partitionKey(topic, partitionId);
      const log = this.appendable(key, topic, partitionId);
      const infos = scanProducedBatches(batch);
      refuseUnstorable(infos);
      if (this.tryReserve(batch.length)) return this.enqueue(log, batch, infos);
      return this.waitForRoom(batch.length).then(() => {
        let now: PartitionLog;
        try {
          now = this.appendable(key, topic, partitionId);
          if (now !== log) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partitionId} changed leader epoch`);
        } catch (err) {
          this.release(batch.length);
          throw err;
        }
        return this.enqueue(now, batch, infos);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private enqueue(log: PartitionLog, batch: Buffer, infos: BatchInfo[]): Promise<AppendResult> {
    // Idempotent producers are checked here, where offsets are taken, so the state follows append order.
    const sequence = log.producers.check(batch, infos);
    if (sequence.kind !== 'append') {
      this.release(batch.length);
      if (sequence.kind === 'refused') {
        // Rare and worth seeing: what the partition knew of the producer when it refused.
        const f = producerFields(batch, infos[0]!.position);
        this.log.warn(
          {
            topic: log.topic,
            partitionId: log.partitionId,
            leaseEpoch: log.leaseEpoch,
            producerId: f.producerId,
            epoch: f.epoch,
            firstSeq: f.firstSeq,
            known: log.producers.batchesOf(f.producerId).map((b) => `${b.epoch}:${b.firstSeq}-${b.lastSeq}@${b.baseOffset}`),
            highWatermark: log.committedHW,
            err: sequence.error.message,
          },
          'idempotent batch refused',
        );
        return Promise.reject(sequence.error);
      }
      const { baseOffset, lastOffset } = sequence.of;
      return sequence.of.written.then(() => ({ baseOffset, lastOffset }));
    }
    const baseOffset = log.nextOffset;
    let next = baseOffset;
    for (const info of infos) {
      assignBatch(batch.subarray(info.position, info.position + info.size), next, log.leaseEpoch);
      info.baseOffset = next;
      info.lastOffset = next + info.offsetCount - 1;
      next += info.offsetCount;
    }
    log.nextOffset = next;
    const written = new Promise<AppendResult>((resolve, reject) => {
      log.buffer.push({ buf: batch, infos, baseOffset, lastOffset: next - 1, resolve, reject });
      log.bufferBytes += batch.length;
      if (this.unflushedBytes === 0) this.firstUnflushedAt = this.clock.now();
      this.unflushedBytes += batch.length;
      this.dirty.add(log);
      this.maybeStartCycle();
    });
    if (sequence.batches.length > 0) log.producers.record(sequence, written, this.clock.now());
    return written;
  }

  private appendable(key: string, topic: string, partitionId: number): PartitionLog {
    if (this.closing) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'segment writer is closing');
    const log = this.logs.get(key);
    if (log === undefined || log.state === 'closed') {
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partitionId} is not led by this agent`);
    }
    if (log.draining) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partitionId} is being handed off to another agent`);
    if (log.state === 'resyncing') {
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `${topic}-${partitionId}: outcome of an earlier commit is still unknown`);
    }
    return log;
  }

  /** Backpressure: room now (nobody waiting, and under the limit or nothing buffered at all)? */
  private tryReserve(bytes: number): boolean {
    if (this.waiters.length === 0 && (this.buffered === 0 || this.buffered + bytes <= this.maxBufferedBytes)) {
      this.buffered += bytes;
      return true;
    }
    return false;
  }

  /** Waits (FIFO) until the bytes fit; release() reserves them for the waiter before waking it. */
  private waitForRoom(bytes: number): Promise<void> {
    return new Promise<void>((wake, fail) => this.waiters.push({ bytes, wake, fail }));
  }

  private release(bytes: number): void {
    this.buffered -= bytes;
    while (this.waiters.length > 0) {
      const w = this.waiters[0];
      if (this.buffered > 0 && this.buffered + w.bytes > this.maxBufferedBytes) break;
      this.waiters.shift();
      this.buffered += w.bytes;
      w.wake();
    }
  }

  private settle(p: Pending, err?: Error): void {
    if (err === undefined) p.resolve({ baseOffset: p.baseOffset, lastOffset: p.lastOffset });
    else p.reject(err);
    this.release(p.buf.length);
  }

  // ---- cycles -----------------------------------------------------------------------------------

  /** Starts a cycle now (if anything is buffered) and resolves when what is buffered has settled. */
  async flushNow(): Promise<void> {
    for (;;) {
      if (this.unflushedBytes > 0) {
        this.urgent = true;
        const done = this.nextCycleDone.promise;
        this.maybeStartCycle();
        await done;
        return;
      }
      if (this.lastCycle === undefined) return;
      await this.lastCycle;
    }
  }

  /** Refuses new appends, flushes what is buffered (acking it), then closes every partition. */
  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    const err = new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'segment writer closed');
    for (const w of this.waiters.splice(0)) w.fail(err);
    await this.flushNow();
    await this.lastCycle;
    this.stopped = true;
    for (const log of [...this.logs.values()]) this.shutPartition(log, err);
    this.clearTimer();
    this.nextCycleDone.resolve();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private maybeStartCycle(): void {
    if (this.inflightCycles >= this.maxInflightCycles) return;
    if (this.unflushedBytes === 0) {
      if (this.inflightCycles > 0) return; // "the next cycle" is done when the running ones are
      // Nothing to do: anyone waiting for "the next cycle" is done.
      this.clearTimer();
      const d = this.nextCycleDone;
      this.nextCycleDone = deferred();
      this.urgent = false;
      d.resolve();
      return;
    }
    const age = this.clock.now() - this.firstUnflushedAt;
    if (this.urgent || this.unflushedBytes >= this.flushBytes || (this.flushMs > 0 && age >= this.flushMs)) {
      this.clearTimer();
      this.startCycle();
    } else if (this.timer === undefined) {
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        if (this.inflightCycles < this.maxInflightCycles && this.unflushedBytes > 0) {
          // The timer is only a wake-up; with flushMs 0 it coalesces appends of the same tick.
          if (this.clock.now() - this.firstUnflushedAt >= this.flushMs) this.urgent = true;
        }
        this.maybeStartCycle();
      }, Math.max(0, this.flushMs - age));
    }
  }

  private startCycle(): void {
    const parts: CyclePart[] = [];
    for (const log of this.dirty) {
      if (log.buffer.length === 0) continue;
      parts.push({ log, generation: log.generation, pendings: log.buffer, bytes: log.bufferBytes });
      log.buffer = [];
      log.bufferBytes = 0;
    }
    this.dirty.clear();
    this.unflushedBytes = 0;
    this.urgent = false;
    const done = this.nextCycleDone;
    this.nextCycleDone = deferred();
    const previous = this.lastCycle ?? Promise.resolve();
    const cycle: Promise<void> = this.runCycle(parts, previous)
      .catch((err) => {
        this.log.error({ err: String(err), stack: (err as Error)?.stack }, 'flush cycle crashed');
        this.failParts(parts, toKafkaStorageError(err, 'flush cycle failed'));
      })
      .finally(() => {
        for (const p of parts) if (p.log.inflight === cycle) p.log.inflight = undefined;
        if (this.lastCycle === cycle) this.lastCycle = undefined;
        this.inflightCycles--;
        done.resolve();
        this.maybeStartCycle();
      });
    this.lastCycle = cycle;
    this.inflightCycles++;
    for (const p of parts) p.log.inflight = cycle;
  }

  /**
   * A key registered before its upload. With a registry that reserves, keys are registered 16 at a time
   * (one statement instead of one per cycle: on PGlite, a single worker, that statement per cycle doubled
   * the flush path's database work) and used only while young (reserveMaxAgeMs), so the registry's
   * pending bound, counted from the reservation, is never near. Unused reservations are deleted by the
   * registry's cleaner like any upload never committed.
   */
  private async takeKey(now: number): Promise<string> {
    const registry = this.registry;
    if (registry?.reserveObjects === undefined) return this.objectKey(now);
    for (;;) {
      while (this.reserved.length > 0) {
        const r = this.reserved.shift()!;
        if (r.at >= now - this.reserveMaxAgeMs) return r.key;
        this.reservedKeys.delete(r.key);
      }
      this.reserving ??= (async () => {
        const at = this.clock.now();
        const keys = Array.from({ length: 16 }, () => this.objectKey(at));
        await registry.reserveObjects!({ keys, bucket: this.store.bucket, agentId: this.agentId });
        for (const key of keys) {
          this.reserved.push({ key, at });
          this.reservedKeys.add(key);
        }
      })().finally(() => (this.reserving = undefined));
      await this.reserving;
    }
  }

  private objectKey(now: number): string {
    const agent = this.agentId.replace(/[^A-Za-z0-9._-]/g, '_');
    const seq = (this.seq++).toString(36).padStart(6, '0');
    return `${this.keyPrefix}${agent}/${String(now).padStart(14, '0')}-${seq}-${randomBytes(4).toString('hex')}.seg`;
  }

  private async runCycle(parts: CyclePart[], previous: Promise<void>): Promise<void> {
    this.stats.cycles++;
    const createdAt = this.clock.now();
    const t0 = performance.now();
    const inputs: ChunkInput[] = parts.map((p) => ({
      topic: p.log.topic,
      partitionId: p.log.partitionId,
      batches: p.pendings.flatMap((pd) =>
        pd.infos.map((i) => ({
          buf: pd.buf.subarray(i.position, i.position + i.size),
          baseOffset: i.baseOffset,
          lastOffset: i.lastOffset,
          maxTimestamp: i.maxTimestamp,
          recordsCount: i.recordsCount,
        })),
      ),
    }));
    const encoded = await encodeSegmentObject(inputs, { blockBytes: this.blockBytes, createdAt });
    parts.forEach((p, i) => {
      p.chunk = encoded.chunks[i];
      p.batches = inputs[i].batches.map((b) => b.buf);
    });
    let key: string;
    try {
      key = await this.takeKey(createdAt);
    } catch {
      key = this.objectKey(createdAt); // registered one by one below
    }
    const t1 = performance.now();
    this.stats.encodeMs += t1 - t0;

    // Upload while earlier cycles may still be uploading or committing…
    let uploadError: unknown;
    try {
      // Registered before the upload: the registry's cleaner deletes it if no commit references it in time.
      if (this.registry !== undefined && !this.reservedKeys.has(key)) {
        await this.registry.registerObject({ key, bucket: this.store.bucket, sizeBytes: encoded.size, agentId: this.agentId });
      }
      this.reservedKeys.delete(key);
      await this.store.put(key, encoded.parts);
      this.stats.puts++;
      this.stats.putBytes += encoded.size;
    } catch (err) {
      uploadError = err;
    }
    const t2 = performance.now();
    this.stats.putMs += t2 - t1;

    // …but settle only after every earlier cycle has settled.
    await previous;
    const t3 = performance.now();
    // Cycles settle one at a time from here on: failures counted meanwhile are this cycle's.
    const failedBefore = this.stats.failedCycles;
    const settled = () => {
      if (this.cycleListeners.length === 0) return;
      this.emit(this.cycleListeners, { durationMs: performance.now() - t0, objectBytes: encoded.size, partitions: parts.length, ok: this.stats.failedCycles === failedBefore });
    };
    const live = parts.filter((p) => {
      const log = p.log;
      if (log.state !== 'open' || this.logs.get(log.key) !== log) {
        // Closed meanwhile: never commit it (its new leader may already be writing).
        this.rejectAll(p.pendings.splice(0), new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${log.topic}-${log.partitionId} is no longer led here`));
        return false;
      }
      if (p.generation !== log.generation || p.chunk!.baseOffset !== log.committedHW) {
        // An earlier cycle failed for this partition: these offsets followed the failed ones.
        const err = log.rollbackError ?? new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `${log.topic}-${log.partitionId}: an earlier flush failed`);
        this.rejectAll(p.pendings.splice(0), err);
        return false;
      }
      return true;
    });
    if (uploadError !== undefined) {
      this.stats.failedCycles++;
      this.log.warn({ key, err: String(uploadError) }, 'segment upload failed; failing the cycle');
      this.failParts(live, toKafkaStorageError(uploadError, `upload of segment object ${key} failed`));
      this.deleteQuietly(key); // a PUT that "failed" may still have landed
      settled();
      return;
    }
    try {
      if (live.length > 0) await this.commitCycle(key, live);
      else this.deleteQuietly(key);
    } finally {
      const t4 = performance.now();
      this.stats.commitMs += t4 - t3;
      this.stats.maxCycleMs = Math.max(this.stats.maxCycleMs, t4 - t0);
      settled();
    }
  }

  /** The fenced metadata commit of an uploaded object, with fence handling and ambiguity checks. */
  private async commitCycle(key: string, parts: CyclePart[]): Promise<void> {
    let live = parts;
    let anyCommitted = false;
    /** A commit call threw: it may still apply later (a statement finishing after a timeout). */
    let ambiguous = false;
    let attempts = 0;
    while (live.length > 0) {
      live = live.filter((p) => {
        if (p.log.state === 'open' && this.logs.get(p.log.key) === p.log) return true;
        // Closed while we committed: never commit it (its new leader may already be writing).
        this.rejectAll(p.pendings.splice(0), new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${p.log.topic}-${p.log.partitionId} is no longer led here`));
        return false;
      });
      if (live.length === 0) break;
      const request: FlushCommitPartition[] = live.map((p) => this.commitRequest(key, p));
      let result;
      try {
        result = await this.metadata.commitFlush(this.agentId, request);
      } catch (err) {
        attempts++;
        ambiguous = true;
        this.log.warn({ key, attempt: attempts, err: String(err) }, 'flush commit failed; checking whether it applied');
        const resolved = await this.resolveCommit(key, live);
        if (resolved === undefined) {
          this.stats.failedCycles++;
          this.failUnknown(key, live, err);
          return;
        }
        for (const p of resolved.committed) this.partCommitted(p);
        anyCommitted ||= resolved.committed.length > 0;
        live = resolved.notCommitted;
        if (live.length > 0 && attempts >= this.commitAttempts) {
          this.stats.failedCycles++;
          this.failParts(live, toKafkaStorageError(err, `flush commit of ${key} failed`));
          live = [];
        } else if (live.length > 0) {
          await sleep(this.timers, backoffDelay({ maxAttempts: 0, baseDelayMs: this.commitRetryDelayMs, maxDelayMs: 2_000 }, attempts - 1) + 1);
        }
        continue;
      }
      if (result.committed) {
        for (const p of live) this.partCommitted(p);
        anyCommitted = true;
        break;
      }
      if (result.fenced.length === 0) {
        this.failParts(live, new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'flush commit refused without a reason'));
        break;
      }
      const fenced = new Map(result.fenced.map((f) => [partitionKey(f.topic, f.partitionId), f.reason]));
      if (!live.some((p) => fenced.has(p.log.key))) {
        this.failParts(live, new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'flush commit fenced partitions it was not asked about'));
        break;
      }
      // After an ambiguous attempt, an 'offset' fence may mean that attempt applied after all.
      const lateCommitted = new Set<CyclePart>();
      const offsetFenced = live.filter((p) => fenced.get(p.log.key) === 'offset');
      if (ambiguous && offsetFenced.length > 0) {
        const r = await this.resolveCommit(key, offsetFenced);
        for (const p of r?.committed ?? []) {
          this.partCommitted(p);
          lateCommitted.add(p);
          anyCommitted = true;
        }
      }
      live = live.filter((p) => {
        if (lateCommitted.has(p)) return false;
        const reason = fenced.get(p.log.key);
        if (reason === undefined) return true;
        this.fencePart(p, reason);
        return false;
      });
      // The remaining partitions commit again from the same object.
    }
    // Delete only when no commit can still apply; otherwise the orphan cleaner decides later.
    if (!anyCommitted && !ambiguous) this.deleteQuietly(key);
  }

  private commitRequest(key: string, p: CyclePart): FlushCommitPartition {
    const c = p.chunk!;
    return {
      topic: p.log.topic,
      partitionId: p.log.partitionId,
      leaseEpoch: p.log.leaseEpoch,
      expectedHighWatermark: p.log.committedHW,
      segment: {
        topic: p.log.topic,
        partitionId: p.log.partitionId,
        baseOffset: c.baseOffset,
        endOffset: c.lastOffset,
        recordCount: c.recordCount,
        sizeBytes: c.sizeBytes,
        s3Bucket: this.store.bucket,
        s3Key: key,
        bytePosition: c.position,
        byteLength: c.length,
        maxTimestamp: c.maxTimestamp,
      },
    };
  }

  /** Whether the chunks' rows exist (committed) or not; undefined if the store stays unreachable. */
  private async resolveCommit(key: string, parts: CyclePart[]): Promise<{ committed: CyclePart[]; notCommitted: CyclePart[] } | undefined> {
    const deadline = this.clock.now() + this.commitResolveTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = await Promise.all(parts.map((p) => this.metadata.findSegmentForOffset(p.log.topic, p.log.partitionId, p.chunk!.baseOffset)));
        const committed: CyclePart[] = [];
        const notCommitted: CyclePart[] = [];
        parts.forEach((p, i) => {
          const r = rows[i];
          (r !== undefined && r.s3Key === key && r.bytePosition === p.chunk!.position ? committed : notCommitted).push(p);
        });
        return { committed, notCommitted };
      } catch (err) {
        if (this.clock.now() >= deadline || this.stopped) return undefined;
        this.log.debug({ key, attempt, err: String(err) }, 'cannot check the flush commit yet');
        await sleep(this.timers, backoffDelay({ maxAttempts: 0, baseDelayMs: this.commitRetryDelayMs, maxDelayMs: 1_000 }, attempt) + 1);
      }
    }
  }

  private partCommitted(p: CyclePart): void {
    const c = p.chunk!;
    const log = p.log;
    if (c.lastOffset + 1 > log.committedHW) log.committedHW = c.lastOffset + 1;
    this.stats.committedBytes += c.sizeBytes;
    this.stats.committedBatches += c.batchCount;
    // The part's batches are views of request buffers, ours only while their appends are unsettled:
    // a commit found applied after they were answered (resync) must not hand them out (the frames
    // may already hold other requests); its batches are read from storage instead.
    const owned = p.pendings.length > 0;
    for (const pd of p.pendings.splice(0)) this.settle(pd);
    // The appended buffers themselves (offsets assigned in place): listeners run now, before any
    // append's continuation can let its request buffer go.
    this.emit(this.commitListeners, {
      topic: log.topic,
      partitionId: log.partitionId,
      leaderEpoch: log.leaseEpoch,
      baseOffset: c.baseOffset,
      highWatermark: c.lastOffset + 1,
      batches: owned ? p.batches ?? [] : [],
    });
  }

  private rejectAll(pendings: Pending[], err: Error): void {
    for (const pd of pendings) this.settle(pd, err);
  }

  /** The cycle failed for these partitions: fail their appends and roll back their log end. */
  private failParts(parts: CyclePart[], err: KafkaError): void {
    for (const p of parts) {
      this.rejectAll(p.pendings.splice(0), err);
      const log = p.log;
      if (log.state !== 'open' || this.logs.get(log.key) !== log) continue;
      log.generation++;
      log.rollbackError = err;
      this.dropBuffer(log, err);
      log.nextOffset = log.committedHW;
      log.producers.rewind(log.nextOffset);
      this.emit(this.rollbackListeners, { topic: log.topic, partitionId: log.partitionId, highWatermark: log.committedHW, error: err, closed: false });
    }
  }

  private fencePart(p: CyclePart, reason: FenceReason): void {
    this.stats.fencedPartitions++;
    const what = `${p.log.topic}-${p.log.partitionId}`;
    const err =
      reason === 'unknown_partition'
        ? new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${what} no longer exists`)
        : new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${what}: flush commit fenced (${reason})`);
    this.log.warn({ topic: p.log.topic, partitionId: p.log.partitionId, reason }, 'flush commit fenced; closing partition');
    this.rejectAll(p.pendings.splice(0), err);
    this.shutPartition(p.log, err);
  }

  /** The commit's outcome stayed unknown: answer REQUEST_TIMED_OUT and resync in the background. */
  private failUnknown(key: string, parts: CyclePart[], cause: unknown): void {
    const err = new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `outcome of flush commit of ${key} is unknown: ${String(cause)}`);
    this.log.error({ key, err: String(cause) }, 'flush commit outcome unknown; partitions paused until it is known');
    for (const p of parts) {
      this.rejectAll(p.pendings.splice(0), err);
      p.batches = undefined; // answered: their request buffers are no longer ours, even to keep alive
      const log = p.log;
      if (log.state !== 'open' || this.logs.get(log.key) !== log) continue;
      log.generation++;
      log.rollbackError = err;
      this.dropBuffer(log, err);
      log.state = 'resyncing';
      void this.resync(key, p);
    }
  }

  private async resync(key: string, p: CyclePart): Promise<void> {
    const log = p.log;
    while (log.state === 'resyncing' && !this.stopped) {
      const r = await this.resolveCommit(key, [p]);
      if (r === undefined) continue;
      if (r.committed.length > 0) {
        this.partCommitted(p); // visible now; let tail caches and long polls know
        // Its appends were answered REQUEST_TIMED_OUT: a producer's retry is a duplicate of a written batch.
        log.producers.committed(p.chunk!.baseOffset, p.chunk!.lastOffset);
        this.log.warn({ key, topic: log.topic, partitionId: log.partitionId }, 'unknown flush commit turned out applied');
      }
      if (log.state === 'resyncing') {
        log.nextOffset = log.committedHW;
        log.producers.rewind(log.nextOffset);
        log.state = 'open';
      }
      return;
    }
  }

  private dropBuffer(log: PartitionLog, err: Error): void {
    if (log.buffer.length === 0) return;
    const dropped = log.buffer;
    this.unflushedBytes -= log.bufferBytes;
    log.buffer = [];
    log.bufferBytes = 0;
    this.dirty.delete(log);
    this.rejectAll(dropped, err);
    this.maybeStartCycle();
  }

  private shutPartition(log: PartitionLog, err: KafkaError): void {
    if (log.state === 'closed') return;
    log.state = 'closed';
    if (this.logs.get(log.key) === log) this.logs.delete(log.key);
    this.dropBuffer(log, err);
    log.nextOffset = log.committedHW;
    this.emit(this.rollbackListeners, { topic: log.topic, partitionId: log.partitionId, highWatermark: log.committedHW, error: err, closed: true });
  }

  private deleteQuietly(key: string): void {
    const registry = this.registry;
    if (registry === undefined) {
      this.store.delete(key).catch((err) => this.log.debug({ key, err: String(err) }, 'could not delete an uncommitted object (the orphan cleaner will)'));
      return;
    }
    // Claimed in the registry first (only if still unreferenced), so no late commit can name it.
    void (async () => {
      const claimed = await registry.abandonObjects([key]);
      if (claimed.length === 0) return;
      await this.store.delete(key);
      await registry.markObjectsDeleted(claimed);
    })().catch((err) => this.log.debug({ key, err: String(err) }, 'could not delete an uncommitted object (the registry cleaner will)'));
  }

  private emit<E>(listeners: Array<(e: E) => void>, e: E): void {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err: String(err) }, 'segment writer listener threw');
      }
    }
  }
}

/**
 * Defence in depth behind Produce validation: header values the segment format and the metadata
 * commit cannot hold are refused here, for this append alone. Found later, while encoding, they
 * would fail the whole flush cycle and with it every producer whose batches share it.
 */
function refuseUnstorable(infos: readonly BatchInfo[]): void {
  for (const i of infos) {
    if (!Number.isSafeInteger(i.maxTimestamp)) {
      throw new KafkaError(ErrorCode.INVALID_TIMESTAMP, `record batch maxTimestamp ${i.maxTimestamp} cannot be stored`);
    }
    if (i.recordsCount < 0) throw new KafkaError(ErrorCode.INVALID_RECORD, `record batch declares ${i.recordsCount} records`);
  }
}
