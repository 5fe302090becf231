// The transaction coordinator (KIP-98). A transactional id belongs to the coordinator shard
// shardFor(id) (the same shards, leases and epochs as consumer groups; FindCoordinator key type 1), and
// its state lives in the `transactions` row, written only under that shard's fence. The states and
// transitions are Kafka's:
//
//   Empty / CompleteCommit / CompleteAbort --AddPartitions/AddOffsets--> Ongoing
//   Ongoing --EndTxn(commit)--> PrepareCommit --markers written--> CompleteCommit
//   Ongoing --EndTxn(abort), timeout, InitProducerId--> PrepareAbort --markers written--> CompleteAbort
//
// A transaction is decided once its Prepare* row is stored (with a commit, its TxnOffsetCommit offsets
// become committed offsets in that same statement). Markers are then written to every partition; until
// they all are, whoever owns the shard retries them: this agent right away, the next owner after a
// failover (the periodic sweep finds Prepare* rows of the shards it owns). Timed-out transactions are
// aborted by the same sweep, with the producer epoch bumped so the old producer is fenced.
import { ErrorCode, type ErrorCodeValue } from '../../protocol/errors.js';
import type { CoordinatorFence } from '../../metadata/types.js';
import type { CoordinatorShards } from '../coordinator/shards.js';
import type { Logger } from '../logger.js';
import type { MarkerWriter } from './markers.js';
import type { TxnOffsetInput, TxnRecord, TxnState, TxnStore } from './store.js';

/** Kafka's transaction.max.timeout.ms default. */
export const MAX_TRANSACTION_TIMEOUT_MS = 900_000;
/** How long EndTxn waits for its markers before answering (they go on in the background). */
const END_TXN_MARKER_WAIT_MS = 5_000;
const MARKER_RETRY_MS = 100;
const MAX_EPOCH = 32_766;

export interface TransactionCoordinatorOptions {
  agentId: string;
  store: TxnStore;
  shards: Pick<CoordinatorShards, 'check' | 'owned' | 'epochOf' | 'fenced' | 'shardOf'>;
  markers: MarkerWriter;
  allocateProducerId(): Promise<number>;
  topicPartitionCount(topic: string): Promise<number | undefined>;
  log: Logger;
  /** Timeout and recovery sweep (default 1 s). */
  sweepMs?: number;
}

type Result<T> = { errorCode: ErrorCodeValue } & Partial<T>;

export class TransactionCoordinator {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Transactions whose markers this agent is writing now. */
  private readonly completing = new Map<string, Promise<boolean>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: TransactionCoordinatorOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'transaction sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.opts.sweepMs ?? 1000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
    this.opts.markers.close();
  }

  /** Runs `fn` for one transactional id at a time (requests, sweeps and marker completions). */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  private async fence(id: string): Promise<CoordinatorFence | undefined> {
    if (this.closed) return undefined;
    const c = await this.opts.shards.check(id);
    return c.ok ? { shard: c.shard, agentId: this.opts.agentId, epoch: c.epoch } : undefined;
  }

  private async save(t: TxnRecord, fence: CoordinatorFence, offsets: 'commit' | 'abort' | 'keep' = 'keep'): Promise<void> {
    try {
      const r = await this.opts.store.save(t, fence, offsets);
      t.startedAt = r.startedAt;
      t.updatedAt = r.updatedAt;
    } catch (err) {
      if ((err as { code?: number }).code === ErrorCode.NOT_COORDINATOR) this.opts.shards.fenced(fence.shard, fence.epoch);
      throw err;
    }
  }

  private errorOf(err: unknown, what: string): ErrorCodeValue {
    const code = (err as { code?: number }).code;
    if (code === ErrorCode.NOT_COORDINATOR) return ErrorCode.NOT_COORDINATOR;
    this.opts.log.warn({ err: (err as Error).message }, what);
    return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }

  // ---- InitProducerId ------------------------------------------------------------------------------

  initProducerId(id: string, timeoutMs: number, producerId: number, producerEpoch: number): Promise<Result<{ producerId: number; producerEpoch: number }>> {
    if (timeoutMs <= 0 || timeoutMs > MAX_TRANSACTION_TIMEOUT_MS) return Promise.resolve({ errorCode: ErrorCode.INVALID_TRANSACTION_TIMEOUT });
    return this.serial(id, async () => {
      const fence = await this.fence(id);
      if (fence === undefined) return { errorCode: ErrorCode.NOT_COORDINATOR };
      try {
        let t = await this.opts.store.get(id);
        if (t === undefined) {
          t = { transactionalId: id, shard: fence.shard, producerId: await this.opts.allocateProducerId(), producerEpoch: 0, state: 'Empty', timeoutMs, partitions: [], groups: [], startedAt: -1, updatedAt: 0 };
          await this.save(t, fence);
          return { errorCode: ErrorCode.NONE, producerId: t.producerId, producerEpoch: t.producerEpoch };
        }
        // KIP-360: a producer that names its id and epoch may bump only its own current epoch.
        if (producerId >= 0 && (producerId !== t.producerId || producerEpoch !== t.producerEpoch)) {
          // A retry of a bump already done (the answer was lost) is answered with the bumped epoch.
          if (!(producerId === t.producerId && producerEpoch === t.producerEpoch - 1 && t.state === 'Empty')) return { errorCode: ErrorCode.PRODUCER_FENCED };
          return { errorCode: ErrorCode.NONE, producerId: t.producerId, producerEpoch: t.producerEpoch };
        }
        if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort') {
          if (!(await this.complete(t, fence, END_TXN_MARKER_WAIT_MS))) return { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS };
        }
        if (t.state === 'Ongoing') {
          // The previous instance's transaction: aborted with a bumped epoch (fencing it everywhere).
          this.bump(t);
          if (!(await this.decide(t, fence, false)) || !(await this.complete(t, fence, END_TXN_MARKER_WAIT_MS))) return { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS };
        }
        await this.nextInstance(t);
        t.state = 'Empty';
        t.timeoutMs = timeoutMs;
        t.partitions = [];
        t.groups = [];
        t.startedAt = -1;
        await this.save(t, fence);
        return { errorCode: ErrorCode.NONE, producerId: t.producerId, producerEpoch: t.producerEpoch };
      } catch (err) {
        return { errorCode: this.errorOf(err, 'InitProducerId failed') };
      }
    });
  }

  /** Fences the current epoch (an abort's markers carry the bumped one); at the last epoch it stays. */
  private bump(t: TxnRecord): void {
    if (t.producerEpoch < MAX_EPOCH) t.producerEpoch += 1;
  }

  /** A new producer instance: the next epoch, or a new producer id once the epochs run out (as Kafka). */
  private async nextInstance(t: TxnRecord): Promise<void> {
    if (t.producerEpoch < MAX_EPOCH) t.producerEpoch += 1;
    else {
      t.producerId = await this.opts.allocateProducerId();
      t.producerEpoch = 0;
    }
  }

  /** Checks a request's producer id and epoch against the row (Kafka's order of errors). */
  private validate(t: TxnRecord | undefined, producerId: number, producerEpoch: number): ErrorCodeValue {
    if (t === undefined || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (t.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    return ErrorCode.NONE;
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------------------

  /** Per-partition error codes (same order as `partitions`). `verifyOnly`: KIP-890 check, nothing written. */
  addPartitions(id: string, producerId: number, producerEpoch: number, partitions: Array<[string, number]>, verifyOnly: boolean): Promise<ErrorCodeValue[]> {
    return this.serial(id, async () => {
      const all = (code: ErrorCodeValue) => partitions.map(() => code);
      const fence = await this.fence(id);
      if (fence === undefined) return all(ErrorCode.NOT_COORDINATOR);
      try {
        const t = await this.opts.store.get(id);
        const bad = this.validate(t, producerId, producerEpoch);
        if (bad !== ErrorCode.NONE) return all(bad);
        const txn = t!;
        if (verifyOnly) {
          return partitions.map(([topic, p]) => (txn.state === 'Ongoing' && txn.partitions.some(([a, b]) => a === topic && b === p) ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE));
        }
        if (txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') return all(ErrorCode.CONCURRENT_TRANSACTIONS);
        const codes: ErrorCodeValue[] = [];
        for (const [topic, p] of partitions) {
          const count = await this.opts.topicPartitionCount(topic);
          codes.push(count === undefined || p < 0 || p >= count ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NONE);
        }
        if (codes.some((c) => c !== ErrorCode.NONE)) return codes.map((c) => (c === ErrorCode.NONE ? ErrorCode.OPERATION_NOT_ATTEMPTED : c));
        const fresh = partitions.filter(([topic, p]) => !txn.partitions.some(([a, b]) => a === topic && b === p));
        if (txn.state === 'Ongoing' && fresh.length === 0) return codes;
        this.begin(txn);
        for (const tp of fresh) if (!txn.partitions.some(([a, b]) => a === tp[0] && b === tp[1])) txn.partitions.push(tp);
        await this.save(txn, fence);
        return codes;
      } catch (err) {
        return all(this.errorOf(err, 'AddPartitionsToTxn failed'));
      }
    });
  }

  addOffsets(id: string, producerId: number, producerEpoch: number, groupId: string): Promise<ErrorCodeValue> {
    return this.serial(id, async () => {
      const fence = await this.fence(id);
      if (fence === undefined) return ErrorCode.NOT_COORDINATOR;
      try {
        const t = await this.opts.store.get(id);
        const bad = this.validate(t, producerId, producerEpoch);
        if (bad !== ErrorCode.NONE) return bad;
        const txn = t!;
        if (txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
        if (txn.state === 'Ongoing' && txn.groups.includes(groupId)) return ErrorCode.NONE;
        this.begin(txn);
        if (!txn.groups.includes(groupId)) txn.groups.push(groupId);
        await this.save(txn, fence);
        return ErrorCode.NONE;
      } catch (err) {
        return this.errorOf(err, 'AddOffsetsToTxn failed');
      }
    });
  }

  private begin(t: TxnRecord): void {
    if (t.state === 'Ongoing') return;
    t.state = 'Ongoing';
    t.partitions = [];
    t.groups = [];
    t.startedAt = -2; // now, on the database clock
  }

  /** TxnOffsetCommit, answered by the group's coordinator: the offsets wait for the transaction's end. */
  async txnOffsetCommit(id: string, groupId: string, producerId: number, producerEpoch: number, offsets: TxnOffsetInput[]): Promise<ErrorCodeValue> {
    const c = await this.opts.shards.check(groupId);
    if (!c.ok || this.closed) return ErrorCode.NOT_COORDINATOR;
    const fence = { shard: c.shard, agentId: this.opts.agentId, epoch: c.epoch };
    try {
      const open = await this.opts.store.addOffsets(id, groupId, producerId, producerEpoch, offsets, fence);
      if (open) return ErrorCode.NONE;
      const t = await this.opts.store.get(id);
      const bad = this.validate(t, producerId, producerEpoch);
      return bad !== ErrorCode.NONE ? bad : ErrorCode.INVALID_TXN_STATE;
    } catch (err) {
      if ((err as { code?: number }).code === ErrorCode.NOT_COORDINATOR) this.opts.shards.fenced(fence.shard, fence.epoch);
      return this.errorOf(err, 'TxnOffsetCommit failed');
    }
  }

  /** Partitions of a group with offsets waiting for a transaction to end (OffsetFetch require_stable). */
  pendingOffsets(groupId: string): Promise<Array<{ topic: string; partitionId: number }>> {
    return this.opts.store.pendingOffsets(groupId).catch(() => []);
  }

  // ---- EndTxn --------------------------------------------------------------------------------------

  endTxn(id: string, producerId: number, producerEpoch: number, commit: boolean): Promise<ErrorCodeValue> {
    return this.serial(id, async () => {
      const fence = await this.fence(id);
      if (fence === undefined) return ErrorCode.NOT_COORDINATOR;
      try {
        const t = await this.opts.store.get(id);
        const bad = this.validate(t, producerId, producerEpoch);
        const txn = t!;
        if (bad !== ErrorCode.NONE) {
          // An abort by timeout bumped the epoch: the old producer learns it is fenced.
          return bad;
        }
        const want: TxnState = commit ? 'CompleteCommit' : 'CompleteAbort';
        switch (txn.state) {
          case 'Ongoing':
            if (!(await this.decide(txn, fence, commit))) return ErrorCode.NOT_COORDINATOR;
            await this.complete(txn, fence, END_TXN_MARKER_WAIT_MS);
            return ErrorCode.NONE;
          case 'PrepareCommit':
          case 'PrepareAbort':
            if ((txn.state === 'PrepareCommit') !== commit) return ErrorCode.INVALID_TXN_STATE;
            return (await this.complete(txn, fence, END_TXN_MARKER_WAIT_MS)) ? ErrorCode.NONE : ErrorCode.CONCURRENT_TRANSACTIONS;
          case 'CompleteCommit':
          case 'CompleteAbort':
            // A retry of the EndTxn that completed it.
            return txn.state === want ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
          case 'Empty':
            return ErrorCode.INVALID_TXN_STATE;
        }
      } catch (err) {
        return this.errorOf(err, 'EndTxn failed');
      }
    });
  }

  /** Ongoing → Prepare*: the decision, stored (with the offsets' fate) before any marker is written. */
  private async decide(t: TxnRecord, fence: CoordinatorFence, commit: boolean): Promise<boolean> {
    t.state = commit ? 'PrepareCommit' : 'PrepareAbort';
    await this.save(t, fence, commit ? 'commit' : 'abort');
    return true;
  }

  /**
   * Writes the markers of a Prepare* transaction until all are written (then Complete*), for at most
   * `waitMs`; the attempt goes on in the background after that. Resolves to whether it completed.
   */
  private complete(t: TxnRecord, fence: CoordinatorFence, waitMs: number): Promise<boolean> {
    let run = this.completing.get(t.transactionalId);
    if (run === undefined) {
      run = this.writeMarkers({ ...t, partitions: [...t.partitions] }, fence).finally(() => this.completing.delete(t.transactionalId));
      this.completing.set(t.transactionalId, run);
    }
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([run, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), waitMs)))]).then((done) => {
      clearTimeout(timer);
      if (done) {
        t.state = t.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort';
        t.partitions = [];
        t.groups = [];
      }
      return done;
    });
  }

  private async writeMarkers(t: TxnRecord, fence: CoordinatorFence): Promise<boolean> {
    const commit = t.state === 'PrepareCommit';
    let remaining = t.partitions.map(([topic, partitionId]) => ({ topic, partitionId }));
    for (let attempt = 0; remaining.length > 0; attempt++) {
      if (this.closed || this.opts.shards.epochOf(fence.shard) !== fence.epoch) return false;
      let results;
      try {
        results = await this.opts.markers.write(remaining, t.producerId, t.producerEpoch, commit, fence.epoch);
      } catch (err) {
        this.opts.log.warn({ transactionalId: t.transactionalId, err: (err as Error).message }, 'writing transaction markers failed; retrying');
        results = remaining.map((r) => ({ ...r, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR as ErrorCodeValue }));
      }
      // A deleted topic needs no marker.
      remaining = results.filter((r) => r.errorCode !== ErrorCode.NONE && r.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).map(({ topic, partitionId }) => ({ topic, partitionId }));
      if (remaining.length > 0) {
        if (attempt % 50 === 10) this.opts.log.info({ transactionalId: t.transactionalId, remaining: remaining.length, errors: results.map((r) => r.errorCode) }, 'transaction markers not all written yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(1000, MARKER_RETRY_MS * (1 + Math.floor(attempt / 10)))));
      }
    }
    const done: TxnRecord = { ...t, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: [], groups: [] };
    try {
      await this.save(done, fence);
      return true;
    } catch (err) {
      this.opts.log.warn({ transactionalId: t.transactionalId, err: (err as Error).message }, 'completing a transaction failed (the next owner of its shard completes it)');
      return false;
    }
  }

  // ---- the sweep: timeouts and transactions left deciding by a previous owner ----------------------

  private async sweep(): Promise<void> {
    const owned = this.opts.shards.owned();
    if (owned.length === 0 || this.closed) return;
    const { txns, dbNow } = await this.opts.store.listOpen(owned.map((o) => o.shard));
    for (const t of txns) {
      if (this.completing.has(t.transactionalId)) continue;
      if (t.state === 'Ongoing' && dbNow !== undefined && t.startedAt >= 0 && dbNow - t.startedAt > t.timeoutMs) {
        void this.serial(t.transactionalId, () => this.abortTimedOut(t.transactionalId));
      } else if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort') {
        void this.serial(t.transactionalId, async () => {
          const fence = await this.fence(t.transactionalId);
          const now = fence && (await this.opts.store.get(t.transactionalId));
          if (fence !== undefined && now !== undefined && (now.state === 'PrepareCommit' || now.state === 'PrepareAbort')) await this.complete(now, fence, 0);
        });
      }
    }
  }

  private async abortTimedOut(id: string): Promise<void> {
    const fence = await this.fence(id);
    if (fence === undefined) return;
    try {
      const t = await this.opts.store.get(id);
      if (t === undefined || t.state !== 'Ongoing') return;
      this.opts.log.info({ transactionalId: id, producerId: t.producerId, epoch: t.producerEpoch, timeoutMs: t.timeoutMs }, 'aborting a transaction that timed out');
      this.bump(t);
      await this.decide(t, fence, false);
      await this.complete(t, fence, 0);
    } catch (err) {
      this.errorOf(err, 'aborting a timed-out transaction failed');
    }
  }

  // ---- DescribeTransactions / ListTransactions ------------------------------------------------------

  async describe(id: string): Promise<{ errorCode: ErrorCodeValue; txn?: TxnRecord }> {
    const fence = await this.fence(id);
    if (fence === undefined) return { errorCode: ErrorCode.NOT_COORDINATOR };
    try {
      const t = await this.opts.store.get(id);
      return t === undefined ? { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND } : { errorCode: ErrorCode.NONE, txn: t };
    } catch (err) {
      return { errorCode: this.errorOf(err, 'DescribeTransactions failed') };
    }
  }

  /** The transactions of the shards this agent coordinates (each agent lists its own, as Kafka's brokers do). */
  async list(): Promise<TxnRecord[]> {
    const owned = new Set(this.opts.shards.owned().map((o) => o.shard));
    return (await this.opts.store.list()).filter((t) => owned.has(this.opts.shards.shardOf(t.transactionalId)));
  }
}
