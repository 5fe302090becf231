// The partition leader's side of transactions: writes commit/abort markers (control batches) into
// the partitions this agent leads, keeps their aborted-transactions index, and checks transactional
// batches against the coordinator's state before they are appended.
//
// An abort's index entry (producer id, first offset of its transaction here) is stored before the
// abort marker is appended, under the partition lease: once a reader can see past the transaction's
// first offset (the LSO moves when the marker is appended), the entry that tells it to drop the
// transaction's records is already there, whatever crashes after. A commit needs nothing besides the
// marker: the coordinator decided it durably and writes the marker again if it is lost.
import { buildControlBatch } from '../../protocol/record-batch.js';
import { ErrorCode, KafkaError, type ErrorCodeValue } from '../../protocol/errors.js';
import type { Logger } from '../logger.js';
import type { AbortedTxn, TxnStore } from './store.js';

/** What this needs of the partition log and the segment writer. */
export interface LeaderLog {
  lead(topic: string, partitionId: number, forBatch?: Buffer): Promise<number>;
  append(topic: string, partitionId: number, batch: Buffer): Promise<{ baseOffset: number; lastOffset: number }>;
  openTransaction(topic: string, partitionId: number, producerId: number): number | undefined;
}

const key = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

/** Aborted transactions answered per partition in one Fetch response (Kafka sends them all; this bounds memory). */
const MAX_ABORTED_PER_FETCH = 10_000;

interface AbortedIndex {
  leaseEpoch: number;
  entries: AbortedTxn[];
  loading?: Promise<void>;
  /** The log start offset the entries were last pruned to. */
  prunedTo: number;
}

export class PartitionTransactions {
  private readonly aborted = new Map<string, AbortedIndex>();
  /** Producers verified to be in an open transaction that includes a partition: producerId:epoch → keys. */
  private readonly verified = new Map<string, Set<string>>();

  constructor(
    private readonly log: LeaderLog,
    private readonly store: TxnStore,
    private readonly agentId: string,
    private readonly logger?: Logger,
  ) {}

  /**
   * Whether the stored decision of the producer's transaction asks for this marker: a marker from
   * another agent is written only when PostgreSQL holds the matching PrepareCommit/PrepareAbort naming
   * the partition, so no client can commit or abort a transaction the coordinator did not decide.
   */
  async decided(topic: string, partitionId: number, producerId: number, producerEpoch: number, commit: boolean): Promise<boolean> {
    const t = await this.store.byProducer(producerId);
    return (
      t !== undefined &&
      t.producerEpoch === producerEpoch &&
      t.state === (commit ? 'PrepareCommit' : 'PrepareAbort') &&
      t.partitions.some(([name, p]) => name === topic && p === partitionId)
    );
  }

  /**
   * WriteTxnMarkers for one partition: the marker is appended and committed (resolves after the flush
   * commit), or the error code says why not (the coordinator retries).
   */
  async writeMarker(topic: string, partitionId: number, producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch: number): Promise<ErrorCodeValue> {
    const marker = buildControlBatch(commit ? 'commit' : 'abort', { producerId, producerEpoch, coordinatorEpoch });
    try {
      const leaseEpoch = await this.log.lead(topic, partitionId, marker);
      const first = this.log.openTransaction(topic, partitionId, producerId);
      if (!commit && first !== undefined) {
        const ok = await this.store.addAborted(this.agentId, leaseEpoch, topic, partitionId, producerId, first);
        if (!ok) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
        const idx = this.aborted.get(key(topic, partitionId));
        if (idx !== undefined && idx.leaseEpoch === leaseEpoch && !idx.entries.some((e) => e.producerId === producerId && e.firstOffset === first)) {
          idx.entries.push({ producerId, firstOffset: first, lastOffset: null });
          idx.entries.sort((a, b) => a.firstOffset - b.firstOffset);
        }
      }
      const r = await this.log.append(topic, partitionId, marker);
      this.forgetVerified(producerId);
      if (!commit && first !== undefined) {
        const idx = this.aborted.get(key(topic, partitionId));
        const e = idx?.entries.find((x) => x.producerId === producerId && x.firstOffset === first);
        if (e !== undefined) e.lastOffset = r.baseOffset;
        await this.store.setAbortedLast(topic, partitionId, producerId, first, r.baseOffset).catch((err: unknown) => {
          this.logger?.debug({ topic, partitionId, err: (err as Error).message }, 'recording the abort marker offset failed (the entry stays open-ended)');
        });
      }
      return ErrorCode.NONE;
    } catch (err) {
      if (err instanceof KafkaError) return err.code;
      this.logger?.warn({ topic, partitionId, producerId, err: (err as Error).message }, 'writing a transaction marker failed');
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    }
  }

  /**
   * Aborted transactions overlapping [fromOffset, upTo) of a partition led here under `leaseEpoch`.
   * Entries whose abort marker fell below `logStartOffset` (retention) are dropped, in memory and in
   * the database, so the index stays as long as the retained log.
   */
  async abortedBetween(topic: string, partitionId: number, leaseEpoch: number, fromOffset: number, upTo: number, logStartOffset = 0): Promise<Array<{ producerId: number; firstOffset: number }>> {
    const k = key(topic, partitionId);
    let idx = this.aborted.get(k);
    if (idx === undefined || idx.leaseEpoch !== leaseEpoch) {
      const fresh: AbortedIndex = { leaseEpoch, entries: [], prunedTo: logStartOffset };
      if (logStartOffset > 0) this.prune(topic, partitionId, logStartOffset);
      fresh.loading = this.store.loadAborted(topic, partitionId, logStartOffset).then((rows) => {
        // Entries added while loading (markers written meanwhile) are kept.
        for (const e of fresh.entries) if (!rows.some((r) => r.producerId === e.producerId && r.firstOffset === e.firstOffset)) rows.push(e);
        fresh.entries = rows.sort((a, b) => a.firstOffset - b.firstOffset);
        fresh.loading = undefined;
      });
      this.aborted.set(k, (idx = fresh));
      fresh.loading.catch(() => {
        if (this.aborted.get(k) === fresh) this.aborted.delete(k);
      });
    }
    if (idx.loading !== undefined) await idx.loading;
    if (logStartOffset > idx.prunedTo) {
      idx.prunedTo = logStartOffset;
      const before = idx.entries.length;
      idx.entries = idx.entries.filter((e) => e.lastOffset === null || e.lastOffset >= logStartOffset);
      if (idx.entries.length < before) this.prune(topic, partitionId, logStartOffset);
    }
    const out: Array<{ producerId: number; firstOffset: number }> = [];
    for (const e of idx.entries) {
      if (e.firstOffset >= upTo) break;
      if (e.lastOffset !== null && e.lastOffset < fromOffset) continue;
      out.push({ producerId: e.producerId, firstOffset: e.firstOffset });
      if (out.length >= MAX_ABORTED_PER_FETCH) break;
    }
    return out;
  }

  private prune(topic: string, partitionId: number, logStartOffset: number): void {
    this.store.pruneAborted(topic, partitionId, logStartOffset).catch((err: unknown) => {
      this.logger?.debug({ topic, partitionId, err: (err as Error).message }, 'pruning the aborted-transactions index failed (retried at the next prune)');
    });
  }

  /** Drops the cached index of a partition (the log cleaner removed entries): the next read loads it again. */
  forgetPartition(topic: string, partitionId: number): void {
    this.aborted.delete(key(topic, partitionId));
  }

  /** Drops the index entries of a topic (deleted or re-created). */
  forgetTopic(topic: string): void {
    for (const k of [...this.aborted.keys()]) if (k.startsWith(`${topic}\u0000`)) this.aborted.delete(k);
  }

  /**
   * A transactional batch may be appended only if the producer (at this epoch) has an open transaction
   * that includes the partition (AddPartitionsToTxn first). Checked against the coordinator's row the
   * first time per transaction and partition; later batches find the transaction open here.
   */
  async checkTransactionalBatch(topic: string, partitionId: number, producerId: number, producerEpoch: number): Promise<ErrorCodeValue> {
    if (this.log.openTransaction(topic, partitionId, producerId) !== undefined) return ErrorCode.NONE;
    const vk = `${producerId}:${producerEpoch}`;
    if (this.verified.get(vk)?.has(key(topic, partitionId))) return ErrorCode.NONE;
    const txn = await this.store.byProducer(producerId);
    if (txn === undefined) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch < txn.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (producerEpoch > txn.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (txn.state !== 'Ongoing' || !txn.partitions.some(([t, p]) => t === topic && p === partitionId)) return ErrorCode.INVALID_TXN_STATE;
    let set = this.verified.get(vk);
    if (set === undefined) {
      if (this.verified.size > 100_000) this.verified.clear();
      this.verified.set(vk, (set = new Set()));
    }
    set.add(key(topic, partitionId));
    return ErrorCode.NONE;
  }

  private forgetVerified(producerId: number): void {
    for (const vk of [...this.verified.keys()]) if (vk.startsWith(`${producerId}:`)) this.verified.delete(vk);
  }
}
