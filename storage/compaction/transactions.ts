// What the log cleaner knows of transactions while it walks a partition in offset order (Kafka's
// CleanedTransactionMetadata): which transactional batches belong to an aborted transaction (their
// records go, and never enter the key map), and which markers no longer have a data batch of their
// transaction before them (such a marker may go once its delete horizon has passed, KIP-534).
// The aborted transactions come from the partition's aborted-transactions index (aborted_txns): an
// entry (producer id, first offset) makes that producer's transactional batches from the first offset
// on aborted, up to its next marker.

export interface AbortedTxnEntry {
  producerId: number;
  firstOffset: number;
  /** The abort marker's offset (null: not filled in yet). */
  lastOffset: number | null;
}

export type MarkerType = 'commit' | 'abort' | 'unknown';

export class CleanerTxnState {
  private readonly entries: AbortedTxnEntry[];
  private next = 0;
  /** Producer id → its ongoing aborted transaction's index entry, and whether a batch of it was seen in this walk. */
  private readonly ongoingAborted = new Map<number, { entry: AbortedTxnEntry; seen: boolean }>();
  /** Index entries of aborted transactions with no batch left: the index no longer needs them. */
  readonly obsoleteEntries: AbortedTxnEntry[] = [];
  /** Producers with a batch of an ongoing (not aborted) transaction seen in this walk. */
  private readonly ongoingCommitted = new Set<number>();

  constructor(aborted: readonly AbortedTxnEntry[]) {
    this.entries = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  private consumeUpTo(offset: number): void {
    while (this.next < this.entries.length && this.entries[this.next]!.firstOffset <= offset) {
      const e = this.entries[this.next++]!;
      if (!this.ongoingAborted.has(e.producerId)) this.ongoingAborted.set(e.producerId, { entry: e, seen: false });
    }
  }

  /** A data batch: true when it belongs to an aborted transaction (all its records are to go). */
  onBatch(isTransactional: boolean, producerId: number, lastOffset: number): boolean {
    this.consumeUpTo(lastOffset);
    if (!isTransactional) return false;
    const aborted = this.ongoingAborted.get(producerId);
    if (aborted !== undefined) {
      aborted.seen = true;
      return true;
    }
    this.ongoingCommitted.add(producerId);
    return false;
  }

  /**
   * A marker: ends its producer's transaction. True when no data batch of that transaction was seen
   * in this walk (everything before it is gone), so the marker itself may go once its horizon passed.
   * An aborted transaction's marker seen with its batches stays this time: they go in this walk, and the
   * next walk finds the marker alone.
   */
  onMarker(producerId: number, lastOffset: number, type: MarkerType): boolean {
    this.consumeUpTo(lastOffset);
    if (type === 'unknown') return false;
    const aborted = this.ongoingAborted.get(producerId);
    const committedSeen = this.ongoingCommitted.has(producerId);
    this.ongoingAborted.delete(producerId);
    this.ongoingCommitted.delete(producerId);
    // As Kafka's cleaner rebuilds the transaction index: an aborted transaction none of whose batches is
    // left needs no entry (one left without its marker would hide the producer's later records).
    if (aborted !== undefined && !aborted.seen && type === 'abort') this.obsoleteEntries.push(aborted.entry);
    return !aborted?.seen && !committedSeen;
  }
}
