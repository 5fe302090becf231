// The partition log of this agent: produce and fetch for the partitions it leads, joining the lease
// state machine (src/cluster/leases.ts), the group-commit writer and the cached reader (storage/). It
// also wakes long-polling fetches when a flush commit advances a high watermark.
//
// Topic identity: the writer, the reader and leadership know partitions by topic name, so this log
// remembers the topic id behind the name for every topic it holds state of. A topic change announced
// by any agent (topicChanged: NOTIFY on PostgreSQL, the cache's own change events on every store)
// makes it look the topic up again; deleted, or re-created under its name with another id, and
// everything held for the old topic goes (leadership, buffered appends, tail cache, segment rows,
// long-poll waiters), so no request is ever answered with the old topic's records. Requests for the
// topic wait for that check (one query) instead of racing it.
import type { MetadataStore, TopicRecord } from '../metadata/types.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { CompressionType, DEFAULT_MAX_DECOMPRESSED_BYTES } from '../protocol/compression.js';
import { TimestampType, readBatchHeader, readBatchRecords, type BatchRecord } from '../protocol/record-batch.js';
import { DecodeError } from '../protocol/varint.js';
import type { SegmentReader, SegmentWriter, CommitEvent, RollbackEvent, TimestampLookup, ProducerSnapshot } from '../storage/index.js';
import type { PartitionLog, PartitionView } from './context.js';
import type { Leadership, LeadershipListener, LeaseRef } from './cluster/leases.js';
import type { Logger } from './logger.js';
import { withDecompressionSlot } from './decompression-slots.js';

const key = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

/**
 * How far back a partition's log is read for idempotent producers' state when this agent takes it
 * over: enough for the batches producers may still resend (at most five per producer in flight).
 */
export const PRODUCER_SCAN_OFFSETS = 10_000;
const PRODUCER_SCAN_READ_BYTES = 4 * 1024 * 1024;
/** Read-backs started by a takeover (not by a waiting producer) at once: taking over hundreds of
 * partitions must not flood the object store and slow down the produce and fetch it now serves. */
const EAGER_SCANS = 4;
/** How long a handoff waits for its producer snapshot to be saved (the next leader reads the log back otherwise). */
const SNAPSHOT_SAVE_TIMEOUT_MS = 1000;

/** Producer state snapshots (metadata producer_snapshots): saved on handoff and every `intervalMs` while leading. */
export interface ProducerSnapshotOptions {
  agentId: string;
  intervalMs: number;
}

type Pending = { epoch: number; scan?: Promise<void> };

interface Waiter {
  keys: string[];
  offsets: number[];
  wake: () => void;
}

export class AgentPartitionLog implements PartitionLog, LeadershipListener {
  private leadership!: Leadership;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Led partitions whose idempotent-producer state has not been read back from the log yet. */
  private readonly unscanned = new Map<string, Pending>();
  /** Takeover read-backs waiting for one of the EAGER_SCANS slots. */
  private readonly eagerQueue: Array<() => void> = [];
  private eagerRunning = 0;
  /** Led partitions → the end offset of the producer snapshot last saved for them. */
  private readonly snapshotSavedAt = new Map<string, number>();
  private snapshotTimer: NodeJS.Timeout | undefined;
  private snapshotBatch: { items: Array<ProducerSnapshot & LeaseRef>; done: Promise<void> } | undefined;
  /** Topic name → id of the topic whose partitions this agent holds state for. */
  private readonly topicIds = new Map<string, string>();
  /** Topic name → bumped each time its state is dropped (an acquisition racing the drop is undone). */
  private readonly topicGenerations = new Map<string, number>();
  /** Topic name → the identity check in progress after a change was announced. */
  private readonly checking = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly metadata: Pick<MetadataStore, 'getPartition' | 'setLogStartOffset' | 'getTopic'> &
      Partial<Pick<MetadataStore, 'saveProducerSnapshots' | 'loadProducerSnapshot'>> & { forgetTopic?(name: string): void },
    private readonly writer: SegmentWriter,
    private readonly reader: SegmentReader,
    /** Bound on decompressing a stored batch (--max-decompressed-bytes). */
    private readonly maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    private readonly log?: Logger,
    /** Off when absent: every takeover reads the end of the log back. */
    private readonly snapshots?: ProducerSnapshotOptions,
  ) {
    writer.onCommit((e) => this.committed(e));
    writer.onRollback((e) => this.rolledBack(e));
    if (snapshots !== undefined) {
      this.snapshotTimer = setInterval(() => void this.saveChangedSnapshots(), snapshots.intervalMs);
      this.snapshotTimer.unref();
    }
  }

  /** Set once by the agent (leadership and log refer to each other). */
  attach(leadership: Leadership): void {
    this.leadership = leadership;
  }

  // LeadershipListener -------------------------------------------------------------------------

  async onLeading({ topic, partitionId }: LeaseRef, epoch: number): Promise<void> {
    // The lease is new (or renewed after a restart): the previous leader may have moved the high
    // watermark; the cache forgot the partition when the lease was noted, so this reads it afresh.
    const partition = await this.metadata.getPartition(topic, partitionId);
    if (!partition) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    this.reader.invalidate(topic, partitionId);
    this.writer.openPartition(topic, partitionId, { leaseEpoch: epoch, highWatermark: partition.highWatermark });
    const k = key(topic, partitionId);
    this.snapshotSavedAt.delete(k);
    if (partition.highWatermark > 0) {
      // Read idempotent producers' state back now, not on the first produce: after a handoff or a
      // failover the producers are already retrying towards us. A failure here is retried by that
      // first request.
      const pending: Pending = { epoch };
      this.unscanned.set(k, pending);
      this.eagerQueue.push(() => {
        if (this.unscanned.get(k) !== pending || pending.scan !== undefined) return false; // started by a request, or moot
        this.eagerRunning++;
        this.scanProducers(topic, partitionId, pending)
          .catch(() => undefined)
          .finally(() => {
            this.eagerRunning--;
            this.pumpEager();
          });
        return true;
      });
      this.pumpEager();
    } else this.unscanned.delete(k);
  }

  private pumpEager(): void {
    while (this.eagerRunning < EAGER_SCANS && this.eagerQueue.length > 0) this.eagerQueue.shift()!();
  }

  async onHandoff({ topic, partitionId }: LeaseRef): Promise<void> {
    // New produce is refused (NOT_LEADER_OR_FOLLOWER, clients refresh metadata and retry at the new
    // leader); what was accepted is committed and acked before the lease is released, and the
    // producers' state as of the final high watermark is saved for the next leader (unless it was
    // never read back here completely).
    const k = key(topic, partitionId);
    const complete = !this.unscanned.has(k);
    this.unscanned.delete(k);
    this.snapshotSavedAt.delete(k);
    const snapshot = await this.writer.drainPartition(topic, partitionId);
    this.reader.invalidate(topic, partitionId);
    if (snapshot !== undefined && complete) await this.saveSnapshots([{ topic, partitionId, ...snapshot }], SNAPSHOT_SAVE_TIMEOUT_MS);
  }

  onLost({ topic, partitionId }: LeaseRef): void {
    this.unscanned.delete(key(topic, partitionId));
    this.snapshotSavedAt.delete(key(topic, partitionId));
    void this.writer.closePartition(topic, partitionId);
    this.reader.invalidate(topic, partitionId);
  }

  // Producer state snapshots ----------------------------------------------------------------------

  /** Saves the snapshots of led partitions whose high watermark moved since their last one (one statement). */
  private async saveChangedSnapshots(): Promise<void> {
    const due: Array<ProducerSnapshot & LeaseRef> = [];
    for (const p of this.writer.openPartitions()) {
      const k = key(p.topic, p.partitionId);
      if (p.highWatermark === 0 || this.unscanned.has(k) || this.snapshotSavedAt.get(k) === p.highWatermark) continue;
      if (this.leadership.state(p.topic, p.partitionId).kind !== 'leading') continue;
      const snapshot = this.writer.producerSnapshot(p.topic, p.partitionId);
      if (snapshot !== undefined) due.push({ topic: p.topic, partitionId: p.partitionId, ...snapshot });
    }
    if (due.length > 0) await this.saveSnapshots(due, this.snapshots!.intervalMs);
  }

  /**
   * Saves snapshots, joined with others asked for in the same tick into one statement; never throws
   * (a snapshot not saved only means the next leader reads more of the log back). Waits at most `timeoutMs`.
   */
  private async saveSnapshots(items: Array<ProducerSnapshot & LeaseRef>, timeoutMs: number): Promise<void> {
    const save = this.metadata.saveProducerSnapshots?.bind(this.metadata);
    if (this.snapshots === undefined || save === undefined) return;
    let batch = this.snapshotBatch;
    if (batch === undefined) {
      const b: { items: Array<ProducerSnapshot & LeaseRef>; done: Promise<void> } = { items: [], done: Promise.resolve() };
      b.done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        if (this.snapshotBatch === b) this.snapshotBatch = undefined;
        try {
          await save(this.snapshots!.agentId, b.items);
          for (const i of b.items) {
            const k = key(i.topic, i.partitionId);
            if (this.leadership.state(i.topic, i.partitionId).kind === 'leading') this.snapshotSavedAt.set(k, i.endOffset);
          }
        } catch (err) {
          this.log?.debug({ count: b.items.length, err: (err as Error).message }, 'saving producer state snapshots failed; the next leader reads the log back');
        }
      });
      this.snapshotBatch = batch = b;
    }
    batch.items.push(...items);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([batch.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]).finally(() => clearTimeout(timer));
  }

  // Writer events ------------------------------------------------------------------------------

  private committed(e: CommitEvent): void {
    this.reader.onCommitted(e);
    const set = this.waiters.get(key(e.topic, e.partitionId));
    if (set === undefined) return;
    const k = key(e.topic, e.partitionId);
    for (const w of [...set]) {
      const i = w.keys.indexOf(k);
      if (i >= 0 && e.highWatermark > w.offsets[i]) w.wake();
    }
  }

  private rolledBack(e: RollbackEvent): void {
    if (this.stopping) return;
    // The drain of a handoff closes the partition itself: that is not a loss (the lease is released next).
    if (this.leadership.state(e.topic, e.partitionId).kind === 'handing-off') return;
    if (e.closed && e.error.code === ErrorCode.NOT_LEADER_OR_FOLLOWER) this.leadership.lose(e.topic, e.partitionId, e.error.message);
  }

  /** The agent is shutting down: partitions closed by the writer are not leadership losses. */
  stop(): void {
    this.stopping = true;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = undefined;
  }

  // PartitionLog ---------------------------------------------------------------------------------

  async lead(topic: string, partitionId: number, forBatch?: Buffer): Promise<number> {
    const check = this.checking.get(topic);
    if (check !== undefined) await check;
    const generation = this.topicGenerations.get(topic) ?? 0;
    if (!this.topicIds.has(topic)) {
      const record = await this.metadata.getTopic(topic);
      if (record === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      if ((this.topicGenerations.get(topic) ?? 0) !== generation) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `topic ${topic} changed`);
      if (!this.topicIds.has(topic)) this.topicIds.set(topic, record.topicId);
    }
    const r = await this.leadership.ensureLeader(topic, partitionId);
    if ((this.topicGenerations.get(topic) ?? 0) !== generation) {
      // The topic was dropped while we took the lease, which may be the old topic's: start again.
      this.leadership.forget(topic, partitionId);
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `topic ${topic} changed`);
    }
    if (!r.ok) throw new KafkaError(r.errorCode);
    // Only an idempotent producer's batch needs the producer state read back after a takeover (its
    // sequence is checked against it); reads and other producers go on while the scan runs, so a
    // handoff or failover of partitions holding much data is not held up by reading it back.
    const pending = this.unscanned.get(key(topic, partitionId));
    if (pending !== undefined && forBatch !== undefined && hasProducerId(forBatch)) await this.scanProducers(topic, partitionId, pending);
    return r.epoch;
  }

  /** Reads the end of a partition just taken over back into the writer's producer state (once). */
  private scanProducers(topic: string, partitionId: number, pending: Pending): Promise<void> {
    pending.scan ??= this.readProducerState(topic, partitionId, pending.epoch).then(
      () => {
        const k = key(topic, partitionId);
        if (this.unscanned.get(k) === pending) this.unscanned.delete(k);
      },
      (err: unknown) => {
        pending.scan = undefined; // the next request tries again
        throw err instanceof KafkaError ? err : new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'reading producer state back failed', { cause: err });
      },
    );
    return pending.scan;
  }

  private async readProducerState(topic: string, partitionId: number, epoch: number): Promise<void> {
    const hw = this.writer.highWatermark(topic, partitionId);
    const [p, snapshot] = await Promise.all([this.metadata.getPartition(topic, partitionId), this.loadSnapshot(topic, partitionId)]);
    if (hw === undefined || p === undefined) return;
    let offset = Math.max(p.logStartOffset, hw - PRODUCER_SCAN_OFFSETS);
    // The previous leader's snapshot, when it covers the log up to a point we would read anyway:
    // start from it and read back only what was written after it (nothing, after a handoff).
    if (snapshot !== undefined && snapshot.endOffset <= hw && snapshot.endOffset >= offset && snapshot.leaseEpoch < epoch) {
      try {
        this.writer.restoreProducerSnapshot(topic, partitionId, epoch, snapshot.state);
        offset = snapshot.endOffset;
      } catch (err) {
        this.log?.warn({ topic, partition: partitionId, err: (err as Error).message }, 'ignoring an unreadable producer state snapshot; reading the log back');
      }
    }
    const from = offset;
    let read = 0;
    const done = () =>
      this.log?.info({ topic, partition: partitionId, epoch, snapshotEnd: snapshot?.endOffset, snapshotEpoch: snapshot?.leaseEpoch, from, highWatermark: hw, batchesRead: read }, 'producer state read back');
    while (offset < hw) {
      let batches: Buffer[];
      try {
        batches = await this.reader.read(topic, partitionId, offset, PRODUCER_SCAN_READ_BYTES, hw);
      } catch (err) {
        // Below what retention kept: nothing older to learn from.
        if (err instanceof KafkaError && err.code === ErrorCode.OFFSET_OUT_OF_RANGE) return done();
        throw err;
      }
      if (batches.length === 0) return done();
      read += batches.length;
      this.writer.restoreProducers(topic, partitionId, epoch, batches);
      const last = readBatchHeader(batches[batches.length - 1]!);
      offset = last.baseOffset + last.lastOffsetDelta + 1;
    }
    done();
  }

  private async loadSnapshot(topic: string, partitionId: number) {
    if (this.snapshots === undefined || this.metadata.loadProducerSnapshot === undefined) return undefined;
    return this.metadata.loadProducerSnapshot(topic, partitionId).catch((err: unknown) => {
      this.log?.debug({ topic, partition: partitionId, err: (err as Error).message }, 'could not load the producer state snapshot; reading the log back');
      return undefined;
    });
  }

  async state(topic: string, partitionId: number, opts?: { stable?: boolean }): Promise<PartitionView> {
    const epoch = await this.lead(topic, partitionId);
    // The last stable offset needs the open transactions: after a takeover they are read back first.
    const pending = opts?.stable ? this.unscanned.get(key(topic, partitionId)) : undefined;
    if (pending !== undefined) await this.scanProducers(topic, partitionId, pending);
    const hw = this.writer.highWatermark(topic, partitionId);
    const p = await this.metadata.getPartition(topic, partitionId);
    if (hw === undefined || p === undefined) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const lso = this.writer.lastStableOffset(topic, partitionId) ?? hw;
    return { highWatermark: hw, lastStableOffset: Math.max(lso, p.logStartOffset), logStartOffset: p.logStartOffset, leaderEpoch: epoch };
  }

  append(topic: string, partitionId: number, batch: Buffer): Promise<{ baseOffset: number; lastOffset: number; logStartOffset: number }> {
    // Not async up to writer.append, which takes its offsets before returning: call order is offset
    // order. The writer refuses partitions it was not opened for (not led) with NOT_LEADER_OR_FOLLOWER.
    const committed = this.writer.append(topic, partitionId, batch);
    return committed.then(async (r) => {
      const p = await this.metadata.getPartition(topic, partitionId);
      return { ...r, logStartOffset: p?.logStartOffset ?? 0 };
    });
  }

  async read(topic: string, partitionId: number, offset: number, maxBytes: number, upTo?: number): Promise<Buffer[]> {
    await this.lead(topic, partitionId);
    const committed = this.writer.highWatermark(topic, partitionId);
    if (committed === undefined) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // upTo: the last stable offset for read_committed (always a batch boundary).
    const hw = upTo === undefined ? committed : Math.min(upTo, committed);
    if (offset >= hw) return [];
    return this.reader.read(topic, partitionId, offset, maxBytes, hw);
  }

  waitForData(partitions: Array<{ topic: string; partitionId: number; offset: number }>, timeoutMs: number): Promise<void> {
    if (partitions.length === 0 || timeoutMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const w: Waiter = { keys: partitions.map((p) => key(p.topic, p.partitionId)), offsets: partitions.map((p) => p.offset), wake: () => undefined };
      const timer = setTimeout(() => w.wake(), timeoutMs);
      w.wake = () => {
        clearTimeout(timer);
        for (const k of w.keys) {
          const set = this.waiters.get(k);
          set?.delete(w);
          if (set?.size === 0) this.waiters.delete(k);
        }
        resolve();
      };
      for (const k of w.keys) {
        let set = this.waiters.get(k);
        if (set === undefined) this.waiters.set(k, (set = new Set()));
        set.add(w);
      }
      // A commit may have landed between the caller's read and now.
      for (let i = 0; i < partitions.length; i++) {
        const hw = this.writer.highWatermark(partitions[i].topic, partitions[i].partitionId);
        if (hw !== undefined && hw > partitions[i].offset) return w.wake();
      }
    });
  }

  async offsetForTimestamp(topic: string, partitionId: number, timestamp: number): Promise<{ offset: number; timestamp: number } | undefined> {
    const st = await this.state(topic, partitionId);
    const hit = await this.reader.offsetForTimestamp(topic, partitionId, timestamp, { highWatermark: st.highWatermark, fromOffset: st.logStartOffset });
    if (hit === undefined) return undefined;
    return firstRecordAtOrAfter(`${topic}-${partitionId}`, hit, timestamp, st.logStartOffset, this.maxDecompressedBytes);
  }

  async maxTimestamp(topic: string, partitionId: number): Promise<{ offset: number; timestamp: number } | undefined> {
    const st = await this.state(topic, partitionId);
    const hit = await this.reader.maxTimestampOffset(topic, partitionId, { highWatermark: st.highWatermark, fromOffset: st.logStartOffset });
    if (hit === undefined) return undefined;
    return firstRecordAtOrAfter(`${topic}-${partitionId}`, hit, hit.timestamp, st.logStartOffset, this.maxDecompressedBytes);
  }

  /** The topic was deleted here: drop everything held for it at once. */
  forgetTopic(topic: string): void {
    this.dropTopic(topic, 'deleted');
  }

  /**
   * A topic changed somewhere (undefined: changes may have been missed, check every topic). Looks
   * the topic up again; deleted or re-created, and its state is dropped. Requests for it wait meanwhile.
   */
  topicChanged(topic: string | undefined): void {
    if (topic === undefined) {
      for (const t of [...this.topicIds.keys()]) this.topicChanged(t);
      return;
    }
    const known = this.topicIds.get(topic);
    if (known === undefined || this.stopping) return;
    const previous = this.checking.get(topic);
    const check: Promise<void> = (async () => {
      await previous;
      let current: TopicRecord | undefined;
      try {
        current = await this.metadata.getTopic(topic);
      } catch {
        current = undefined; // unknown: dropping is always safe (the next request takes the lease again)
      }
      const held = this.topicIds.get(topic);
      if (held !== undefined && current?.topicId !== held) this.dropTopic(topic, current === undefined ? 'deleted' : 're-created');
    })().finally(() => {
      if (this.checking.get(topic) === check) this.checking.delete(topic);
    });
    this.checking.set(topic, check);
  }

  /** Resolves once every check of the topic started so far has finished (its state dropped if it had to be). */
  async settled(topic: string): Promise<void> {
    for (let check = this.checking.get(topic); check !== undefined; check = this.checking.get(topic)) await check;
  }

  private dropTopic(topic: string, reason: string): void {
    this.topicGenerations.set(topic, (this.topicGenerations.get(topic) ?? 0) + 1);
    this.topicIds.delete(topic);
    this.leadership.forgetTopic(topic);
    this.metadata.forgetTopic?.(topic);
    this.reader.invalidateTopic(topic);
    for (const k of [...this.unscanned.keys()]) if (k.startsWith(`${topic}\u0000`)) this.unscanned.delete(k);
    // Long polls on it return now (and find the topic gone, or the new one).
    for (const [k, set] of [...this.waiters]) if (k.startsWith(`${topic}\u0000`)) for (const w of [...set]) w.wake();
    this.log?.info({ topic, reason }, 'dropped the state of a deleted topic');
  }

  async deleteRecords(topic: string, partitionId: number, offset: number): Promise<number> {
    await this.lead(topic, partitionId);
    return this.metadata.setLogStartOffset(topic, partitionId, offset);
  }
}

/** Whether any record batch in `records` carries a producer id (an idempotent or transactional producer). */
export function hasProducerId(records: Buffer): boolean {
  // Record batch v2: baseOffset int64, batchLength int32 (bytes after this field), …, producerId int64 at 43.
  for (let pos = 0; pos + 51 <= records.length; ) {
    if (records.readBigInt64BE(pos + 43) >= 0n) return true;
    const length = records.readInt32BE(pos + 8);
    if (length <= 0) return false;
    pos += 12 + length;
  }
  return false;
}

/**
 * Record precision inside the batch the reader found: the first record with timestamp ≥ target.
 * A compressed batch is decompressed within the bound: one stored before the bound was lowered, or
 * by a writer that slipped past it, fails this partition's answer (logged by the handler), never the
 * agent's memory.
 */
async function firstRecordAtOrAfter(partition: string, hit: TimestampLookup, target: number, logStartOffset: number, maxDecompressedBytes: number): Promise<{ offset: number; timestamp: number }> {
  const h = readBatchHeader(hit.batch);
  if (h.timestampType === TimestampType.logAppendTime) {
    // LogAppendTime: every record carries the batch's maxTimestamp.
    return { offset: Math.max(h.baseOffset, logStartOffset), timestamp: h.maxTimestamp };
  }
  let records: BatchRecord[];
  try {
    records = h.compression === CompressionType.none
      ? await readBatchRecords(hit.batch, maxDecompressedBytes)
      : await withDecompressionSlot(() => readBatchRecords(hit.batch, maxDecompressedBytes));
  } catch (err) {
    if (err instanceof DecodeError) throw new Error(`${partition}: reading the batch at offset ${h.baseOffset} for a timestamp: ${err.message}`, { cause: err });
    throw err;
  }
  for (const r of records) {
    if (r.offset >= logStartOffset && r.timestamp >= target) return { offset: r.offset, timestamp: r.timestamp };
  }
  return { offset: hit.offset, timestamp: hit.timestamp };
}
