// Idempotent producers (KIP-98): for each partition, the last batches of every producer id, so that a
// retried batch is answered with the offsets it already has instead of being written twice, and a
// batch that skips sequence numbers is refused. The leading agent keeps this in memory; it changes as
// batches take their offsets (in append order) and is rewound when a flush fails, so it always
// describes the log the partition will have once its pending flushes commit.
//
// The rules follow Kafka's broker (ProducerStateManager / ProducerAppendInfo):
// - a batch whose producer id, epoch and sequence range equal one of the producer's last five batches
//   is a duplicate: nothing is written, the original's offsets are returned;
// - an epoch older than the producer's current one is fenced (INVALID_PRODUCER_EPOCH);
// - a newer epoch must start again at sequence 0;
// - within an epoch, a batch must start right after the previous one's last sequence (wrapping at
//   2^31 - 1), else OUT_OF_ORDER_SEQUENCE_NUMBER;
// - a producer this partition has no state for is accepted at any sequence (Kafka does the same once
//   a producer's batches are gone from the log).
// A partition taken over from another agent (or after a restart) rebuilds its table from the batches
// at the end of its log (restore), so a batch resent across the move is still recognised.
//
// Transactions (KIP-98): the table also knows each producer's open transaction in this partition (the
// offset of its first transactional batch not yet followed by a commit/abort marker): the last stable
// offset is the smallest of those. A marker closes it and fences the producer's older epochs here.
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { BASE_SEQUENCE_OFFSET, LAST_OFFSET_DELTA_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET } from '../protocol/record-batch.js';
import { readInt64, type BatchInfo } from './batch.js';

/** Batches remembered per producer: clients keep at most five requests in flight. */
export const PRODUCER_BATCH_WINDOW = 5;

/** Kafka's producer.id.expiration.ms default: a producer idle this long is forgotten. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;

const MAX_SEQUENCE = 0x7fffffff;

/** Snapshot: version (1 byte), batch count (4), then per batch producer id, epoch, first and last
 * sequence, base and last offset (8 + 2 + 4 + 4 + 8 + 8 bytes). Version 2 goes on with the open
 * transactions: count (4), then producer id and first offset (8 + 8); then the epochs markers set:
 * count (4), then producer id and epoch (8 + 2). Version 1 snapshots are still read. */
const SNAPSHOT_VERSION = 2;
const SNAPSHOT_HEADER_BYTES = 5;
const SNAPSHOT_ENTRY_BYTES = 34;
const SNAPSHOT_TXN_ENTRY_BYTES = 16;
const SNAPSHOT_EPOCH_ENTRY_BYTES = 10;

/** Record batch attributes: bit 4 transactional, bit 5 control (protocol/README.md). */
const ATTRIBUTES_AT = 21;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

function batchKind(buf: Buffer, pos: number): 'plain' | 'transactional' | 'control' {
  const a = buf.readInt16BE(pos + ATTRIBUTES_AT);
  return (a & CONTROL_BIT) !== 0 ? 'control' : (a & TRANSACTIONAL_BIT) !== 0 ? 'transactional' : 'plain';
}

export interface ProducerBatch {
  producerId: number;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
  /** Settles with the append that wrote the batch (rejects if its flush failed). */
  written: Promise<unknown>;
}

/** What an append of these batches must do. */
export type SequenceCheck =
  | { kind: 'append'; batches: Array<Omit<ProducerBatch, 'baseOffset' | 'lastOffset' | 'written'> & { info: BatchInfo; txn: 'plain' | 'transactional' | 'control' }> }
  | { kind: 'duplicate'; of: ProducerBatch }
  | { kind: 'refused'; error: KafkaError };

/** Sequence number after `seq` advanced by `delta` (sequences wrap from 2^31 - 1 to 0). */
export function addSequence(seq: number, delta: number): number {
  return seq > MAX_SEQUENCE - delta ? delta - (MAX_SEQUENCE - seq) - 1 : seq + delta;
}

/** The producer fields of the v2 batch starting at `pos`. */
export function producerFields(buf: Buffer, pos: number): { producerId: number; epoch: number; firstSeq: number; lastSeq: number } {
  const producerId = readInt64(buf, pos + PRODUCER_ID_OFFSET);
  const epoch = buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
  const firstSeq = buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
  const lastSeq = addSequence(firstSeq, buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET));
  return { producerId, epoch, firstSeq, lastSeq };
}

interface Producer {
  /** Its last batches, oldest first. */
  batches: ProducerBatch[];
  /** When it last appended (or was restored), for expiration. */
  lastSeenAt: number;
}

/** Producer id → last offset of its last data batch, from a snapshot (see ProducerStateTable.snapshot). */
export function lastDataOffsetsOfSnapshot(snapshot: Buffer, now: number): Map<number, number> {
  const t = new ProducerStateTable();
  t.restoreSnapshot(snapshot, now);
  return t.lastDataOffsets();
}

export class ProducerStateTable {
  private readonly producers = new Map<number, Producer>();
  /** Producer id → offset of the first batch of its open transaction here. */
  private readonly ongoing = new Map<number, number>();
  /** Producer id → the epoch of its last marker here: older epochs are fenced. */
  private readonly markerEpochs = new Map<number, number>();
  private nextSweepAt = 0;

  /** Producers idle for expirationMs are dropped (so short-lived producers do not accumulate). */
  constructor(private readonly expirationMs = DEFAULT_PRODUCER_ID_EXPIRATION_MS) {}

  get size(): number {
    return this.producers.size;
  }

  /** The batches remembered for a producer (tests, debugging). */
  batchesOf(producerId: number): readonly ProducerBatch[] {
    return this.producers.get(producerId)?.batches ?? [];
  }

  /** Checks an append's batches against the state (and against each other); changes nothing. */
  check(buf: Buffer, infos: readonly BatchInfo[]): SequenceCheck {
    const accepted: Extract<SequenceCheck, { kind: 'append' }>['batches'] = [];
    /** Where each producer stands once the batches before this one in the append are written. */
    const last = new Map<number, { epoch: number; lastSeq: number }>();
    for (const info of infos) {
      const f = producerFields(buf, info.position);
      if (f.producerId < 0) continue;
      const txn = batchKind(buf, info.position);
      const fencedBelow = this.markerEpochs.get(f.producerId);
      if (fencedBelow !== undefined && f.epoch < fencedBelow) {
        return refused(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${f.producerId} epoch ${f.epoch} is older than its epoch ${fencedBelow} of a transaction marker`);
      }
      if (txn === 'control') {
        // A marker (written by the broker for the transaction coordinator): no sequence of its own.
        const tail = this.producers.get(f.producerId)?.batches.at(-1);
        if (tail !== undefined && f.epoch < tail.epoch) {
          return refused(ErrorCode.INVALID_PRODUCER_EPOCH, `marker of producer ${f.producerId} epoch ${f.epoch} is older than its current epoch ${tail.epoch}`);
        }
        accepted.push({ ...f, info, txn });
        continue;
      }
      const known = this.producers.get(f.producerId)?.batches;
      if (known !== undefined && accepted.length === 0) {
        const dup = known.find((b) => b.epoch === f.epoch && b.firstSeq === f.firstSeq && b.lastSeq === f.lastSeq);
        if (dup !== undefined) return { kind: 'duplicate', of: dup };
      }
      const tail = known?.[known.length - 1];
      const current = last.get(f.producerId) ?? (tail && { epoch: tail.epoch, lastSeq: tail.lastSeq });
      if (current !== undefined) {
        if (f.epoch < current.epoch) {
          return refused(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${f.producerId} epoch ${f.epoch} is older than its current epoch ${current.epoch}`);
        }
        if (f.epoch > current.epoch ? f.firstSeq !== 0 : f.firstSeq !== addSequence(current.lastSeq, 1)) {
          return refused(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            f.epoch > current.epoch
              ? `producer ${f.producerId} epoch ${f.epoch} must start at sequence 0, not ${f.firstSeq}`
              : `producer ${f.producerId} epoch ${f.epoch}: sequence ${f.firstSeq} does not follow ${current.lastSeq}`,
          );
        }
      }
      last.set(f.producerId, { epoch: f.epoch, lastSeq: f.lastSeq });
      accepted.push({ ...f, info, txn });
    }
    return { kind: 'append', batches: accepted };
  }

  /** Records batches accepted by check(), once they have their offsets; `now` is the append time. */
  record(check: Extract<SequenceCheck, { kind: 'append' }>, written: Promise<unknown>, now: number): void {
    for (const { info, txn, ...f } of check.batches) {
      if (txn === 'control') {
        this.closeTransaction(f.producerId, f.epoch);
        continue;
      }
      if (txn === 'transactional' && !this.ongoing.has(f.producerId)) this.ongoing.set(f.producerId, info.baseOffset);
      const list = this.producer(f.producerId, now).batches;
      list.push({ ...f, baseOffset: info.baseOffset, lastOffset: info.lastOffset, written });
      if (list.length > PRODUCER_BATCH_WINDOW) list.shift();
    }
    this.expire(now);
  }

  private producer(producerId: number, now: number): Producer {
    let p = this.producers.get(producerId);
    if (p === undefined) this.producers.set(producerId, (p = { batches: [], lastSeenAt: now }));
    p.lastSeenAt = now;
    return p;
  }

  /** Drops producers idle for longer than the expiration (checked at most every tenth of it). */
  private expire(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + Math.max(1, Math.floor(this.expirationMs / 10));
    for (const [producerId, p] of this.producers) {
      if (now - p.lastSeenAt > this.expirationMs && !this.ongoing.has(producerId)) {
        this.producers.delete(producerId);
        this.markerEpochs.delete(producerId);
      }
    }
  }

  private closeTransaction(producerId: number, epoch: number): void {
    this.ongoing.delete(producerId);
    if ((this.markerEpochs.get(producerId) ?? -1) < epoch) this.markerEpochs.set(producerId, epoch);
  }

  /** The first offset of the producer's open transaction here (undefined: none open). */
  openTransaction(producerId: number): number | undefined {
    return this.ongoing.get(producerId);
  }

  /** The smallest first offset of the open transactions (undefined: none): the last stable offset bound. */
  firstUnstableOffset(): number | undefined {
    let min: number | undefined;
    for (const o of this.ongoing.values()) if (min === undefined || o < min) min = o;
    return min;
  }

  /** Producer id → last offset of its last data batch: the log cleaner keeps that batch (possibly empty). */
  lastDataOffsets(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [producerId, { batches }] of this.producers) {
      const last = batches.at(-1);
      if (last !== undefined) out.set(producerId, last.lastOffset);
    }
    return out;
  }

  /** Open transactions, for DescribeProducers-like views and tests. */
  openTransactions(): Array<{ producerId: number; firstOffset: number }> {
    return [...this.ongoing].map(([producerId, firstOffset]) => ({ producerId, firstOffset }));
  }

  /**
   * Rebuilds state from a committed batch read back from the log (a partition this agent just took
   * over). Batches may come in any order; each producer keeps its last five by offset.
   */
  restore(batch: Buffer, now: number): void {
    const f = producerFields(batch, 0);
    if (f.producerId < 0) return;
    const baseOffset = readInt64(batch, 0);
    // Read back in offset order: a marker closes the transaction the batches before it opened.
    const kind = batchKind(batch, 0);
    if (kind === 'control') return this.closeTransaction(f.producerId, f.epoch);
    if (kind === 'transactional' && !this.ongoing.has(f.producerId)) this.ongoing.set(f.producerId, baseOffset);
    const lastOffset = baseOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
    this.restoreBatch({ ...f, baseOffset, lastOffset }, now);
  }

  private restoreBatch(b: Omit<ProducerBatch, 'written'>, now: number): void {
    const { baseOffset } = b;
    const list = this.producer(b.producerId, now).batches;
    if (list.some((b) => b.baseOffset === baseOffset)) return;
    list.push({ ...b, written: Promise.resolve() });
    list.sort((a, b) => a.baseOffset - b.baseOffset);
    if (list.length > PRODUCER_BATCH_WINDOW) list.splice(0, list.length - PRODUCER_BATCH_WINDOW);
  }

  /**
   * The state as of `endOffset` (a committed high watermark): every remembered batch below it, in
   * the binary form restoreSnapshot() reads. A new leader starts from it instead of reading the log
   * back (see storage/README.md, "Producer state snapshots").
   */
  snapshot(endOffset: number): Buffer {
    const rows: Array<Omit<ProducerBatch, 'written'>> = [];
    for (const { batches } of this.producers.values()) for (const b of batches) if (b.lastOffset < endOffset) rows.push(b);
    const open = [...this.ongoing].filter(([, first]) => first < endOffset);
    const epochs = [...this.markerEpochs];
    const out = Buffer.alloc(
      SNAPSHOT_HEADER_BYTES + rows.length * SNAPSHOT_ENTRY_BYTES + 4 + open.length * SNAPSHOT_TXN_ENTRY_BYTES + 4 + epochs.length * SNAPSHOT_EPOCH_ENTRY_BYTES,
    );
    out.writeUInt8(SNAPSHOT_VERSION, 0);
    out.writeUInt32BE(rows.length, 1);
    let p = SNAPSHOT_HEADER_BYTES;
    for (const b of rows) {
      out.writeBigInt64BE(BigInt(b.producerId), p);
      out.writeInt16BE(b.epoch, p + 8);
      out.writeInt32BE(b.firstSeq, p + 10);
      out.writeInt32BE(b.lastSeq, p + 14);
      out.writeBigInt64BE(BigInt(b.baseOffset), p + 18);
      out.writeBigInt64BE(BigInt(b.lastOffset), p + 26);
      p += SNAPSHOT_ENTRY_BYTES;
    }
    out.writeUInt32BE(open.length, p);
    p += 4;
    for (const [producerId, first] of open) {
      out.writeBigInt64BE(BigInt(producerId), p);
      out.writeBigInt64BE(BigInt(first), p + 8);
      p += SNAPSHOT_TXN_ENTRY_BYTES;
    }
    out.writeUInt32BE(epochs.length, p);
    p += 4;
    for (const [producerId, epoch] of epochs) {
      out.writeBigInt64BE(BigInt(producerId), p);
      out.writeInt16BE(epoch, p + 8);
      p += SNAPSHOT_EPOCH_ENTRY_BYTES;
    }
    return out;
  }

  /** Adds the batches of a snapshot (checked whole first: a malformed one changes nothing and throws). */
  restoreSnapshot(snapshot: Buffer, now: number): void {
    const version = snapshot.length < SNAPSHOT_HEADER_BYTES ? 0 : snapshot.readUInt8(0);
    if (version !== 1 && version !== SNAPSHOT_VERSION) throw new Error('unknown producer state snapshot format');
    const count = snapshot.readUInt32BE(1);
    const batchesEnd = SNAPSHOT_HEADER_BYTES + count * SNAPSHOT_ENTRY_BYTES;
    const open: Array<[number, number]> = [];
    const epochs: Array<[number, number]> = [];
    if (version === 1) {
      if (snapshot.length !== batchesEnd) throw new Error('producer state snapshot has the wrong length');
    } else {
      const wrong = () => new Error('producer state snapshot has the wrong length');
      if (snapshot.length < batchesEnd + 4) throw wrong();
      const txns = snapshot.readUInt32BE(batchesEnd);
      const epochsAt = batchesEnd + 4 + txns * SNAPSHOT_TXN_ENTRY_BYTES;
      if (snapshot.length < epochsAt + 4) throw wrong();
      const nEpochs = snapshot.readUInt32BE(epochsAt);
      if (snapshot.length !== epochsAt + 4 + nEpochs * SNAPSHOT_EPOCH_ENTRY_BYTES) throw wrong();
      for (let i = 0, p = batchesEnd + 4; i < txns; i++, p += SNAPSHOT_TXN_ENTRY_BYTES) {
        const producerId = Number(snapshot.readBigInt64BE(p));
        const first = Number(snapshot.readBigInt64BE(p + 8));
        if (producerId < 0 || first < 0 || !Number.isSafeInteger(first)) throw new Error('producer state snapshot holds an impossible transaction');
        open.push([producerId, first]);
      }
      for (let i = 0, p = epochsAt + 4; i < nEpochs; i++, p += SNAPSHOT_EPOCH_ENTRY_BYTES) {
        epochs.push([Number(snapshot.readBigInt64BE(p)), snapshot.readInt16BE(p + 8)]);
      }
    }
    const rows: Array<Omit<ProducerBatch, 'written'>> = [];
    for (let i = 0, p = SNAPSHOT_HEADER_BYTES; i < count; i++, p += SNAPSHOT_ENTRY_BYTES) {
      const producerId = Number(snapshot.readBigInt64BE(p));
      const baseOffset = Number(snapshot.readBigInt64BE(p + 18));
      const lastOffset = Number(snapshot.readBigInt64BE(p + 26));
      if (producerId < 0 || baseOffset < 0 || lastOffset < baseOffset || !Number.isSafeInteger(lastOffset)) throw new Error('producer state snapshot holds an impossible batch');
      rows.push({ producerId, epoch: snapshot.readInt16BE(p + 8), firstSeq: snapshot.readInt32BE(p + 10), lastSeq: snapshot.readInt32BE(p + 14), baseOffset, lastOffset });
    }
    for (const r of rows) this.restoreBatch(r, now);
    for (const [producerId, epoch] of epochs) if ((this.markerEpochs.get(producerId) ?? -1) < epoch) this.markerEpochs.set(producerId, epoch);
    for (const [producerId, first] of open) this.ongoing.set(producerId, first);
  }

  /**
   * The batches at offsets baseOffset..lastOffset turned out committed after their appends had been
   * answered with an error (a flush commit whose outcome was unknown, found applied later): a retry
   * of one of them is a duplicate answered with its offsets, not with that error again.
   */
  committed(baseOffset: number, lastOffset: number): void {
    for (const { batches } of this.producers.values()) {
      for (const b of batches) if (b.baseOffset >= baseOffset && b.lastOffset <= lastOffset) b.written = Promise.resolve();
    }
  }

  /** The log end went back to `offset` (a flush failed): forget the batches at or after it. */
  rewind(offset: number): void {
    // A transaction whose first batch is rewound is not open any more (its producer resends it).
    // A rewound marker leaves its transaction closed: the coordinator decided it durably and writes
    // the marker again (for an abort, the aborted index entry was written before the marker).
    for (const [producerId, first] of this.ongoing) if (first >= offset) this.ongoing.delete(producerId);
    for (const [producerId, { batches: list }] of this.producers) {
      let keep = list.length;
      while (keep > 0 && list[keep - 1]!.baseOffset >= offset) keep--;
      if (keep === 0) this.producers.delete(producerId);
      else list.length = keep;
    }
  }
}

function refused(code: typeof ErrorCode.INVALID_PRODUCER_EPOCH | typeof ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: string): SequenceCheck {
  return { kind: 'refused', error: new KafkaError(code, message) };
}
