// The leader's tail cache: the most recently committed batches of every partition it leads, bounded
// in bytes across all partitions. Consumers at the tail are served from here and never touch the
// object store. Only committed data ever enters (it is filled from the writer's commit events), and
// each partition's cached range is contiguous, ending at the last commit.
//
// The bytes live in ONE ring buffer allocated once: committed batches are copied in, and the oldest
// commits are evicted as the ring wraps over them. Holding views of produce requests instead would
// keep every request buffer alive for as long as it is cached, and that stream of long-lived buffers
// is what drove V8's old-generation collections under load (a full mark about every 64 MB committed).
// Views offered by scan() are valid until the next append: callers copy what they keep.
import { readInt64 } from './batch.js';

interface Entry {
  baseOffset: number;
  lastOffset: number;
  /** Monotonic ring position of the first byte (ring index = pos % capacity). */
  pos: number;
  length: number;
}

interface PartTail {
  entries: Entry[];
  /** Index of the first live entry (evicted entries before it are dropped lazily). */
  head: number;
  /** One past the last cached offset. */
  endOffset: number;
  bytes: number;
  dead: boolean;
}

/** One append (one commit of one partition): the unit of eviction, oldest first. */
interface Group {
  part: PartTail;
  count: number;
  bytes: number;
  /** Ring position of the group's first byte. */
  start: number;
}

export class TailCache {
  private readonly parts = new Map<string, PartTail>();
  private readonly groups: Group[] = [];
  private groupHead = 0;
  private bytes = 0;
  private ring: Buffer | undefined;
  /** Monotonic: the next byte is written at writePos % capacity. */
  private writePos = 0;
  hits = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes of live cached batches. */
  get size(): number {
    return this.bytes;
  }

  /** Adds committed batches (contiguous, ascending), copying them. A gap resets the partition's range. */
  append(key: string, batches: Buffer[]): void {
    if (batches.length === 0 || this.maxBytes <= 0) return;
    let part = this.parts.get(key);
    const first = readInt64(batches[0], 0);
    if (part !== undefined && part.endOffset !== first) {
      this.drop(key);
      part = undefined;
    }
    let total = 0;
    for (const b of batches) total += b.length;
    if (total > this.maxBytes) {
      // Larger than the whole cache: not cached, and the range it would have continued is gone.
      this.drop(key);
      return;
    }
    if (part === undefined) {
      part = { entries: [], head: 0, endOffset: first, bytes: 0, dead: false };
      this.parts.set(key, part);
    }
    const ring = (this.ring ??= Buffer.allocUnsafeSlow(this.maxBytes));
    // A group is contiguous in the ring: when it does not fit before the end, skip to the start.
    let at = this.writePos % this.maxBytes;
    if (at + total > this.maxBytes) {
      this.writePos += this.maxBytes - at;
      at = 0;
    }
    const start = this.writePos;
    this.evictBefore(start + total - this.maxBytes);
    let pos = start;
    for (const b of batches) {
      const baseOffset = readInt64(b, 0);
      const lastOffset = baseOffset + b.readInt32BE(23);
      b.copy(ring, at + (pos - start));
      part.entries.push({ baseOffset, lastOffset, pos, length: b.length });
      part.endOffset = lastOffset + 1;
      pos += b.length;
    }
    this.writePos = pos;
    part.bytes += total;
    this.bytes += total;
    this.groups.push({ part, count: batches.length, bytes: total, start });
  }

  /** Evicts, oldest first, every group that starts before ring position `limit` (about to be overwritten). */
  private evictBefore(limit: number): void {
    while (this.groupHead < this.groups.length && this.groups[this.groupHead].start < limit) {
      const g = this.groups[this.groupHead++];
      if (g.part.dead) continue;
      g.part.head += g.count;
      g.part.bytes -= g.bytes;
      this.bytes -= g.bytes;
      if (g.part.head > 64 && g.part.head * 2 > g.part.entries.length) {
        g.part.entries = g.part.entries.slice(g.part.head);
        g.part.head = 0;
      }
    }
    if (this.groupHead > 1024 && this.groupHead * 2 > this.groups.length) {
      this.groups.splice(0, this.groupHead);
      this.groupHead = 0;
    }
  }

  /** Forgets a partition (leadership moved, or the partition was reset). */
  drop(key: string): void {
    const part = this.parts.get(key);
    if (part === undefined) return;
    part.dead = true;
    this.bytes -= part.bytes;
    part.entries = [];
    part.bytes = 0;
    this.parts.delete(key);
  }

  /** The partitions with cached batches. */
  keys(): IterableIterator<string> {
    return this.parts.keys();
  }

  /** The cached offset range [start, end) of a partition, if any. */
  range(key: string): { start: number; end: number } | undefined {
    const part = this.parts.get(key);
    if (part === undefined || part.head >= part.entries.length) return undefined;
    return { start: part.entries[part.head].baseOffset, end: part.endOffset };
  }

  /**
   * Offers batches from the one containing `offset`, in order, while `accept` returns true. The
   * buffers are views into the ring, valid until the next append: copy them before keeping them.
   * Returns false (offering nothing) when `offset` is not inside the cached range.
   */
  scan(key: string, offset: number, accept: (buf: Buffer, baseOffset: number, lastOffset: number) => boolean): boolean {
    const part = this.parts.get(key);
    if (part === undefined || part.head >= part.entries.length || this.ring === undefined) return false;
    const es = part.entries;
    if (offset < es[part.head].baseOffset || offset >= part.endOffset) return false;
    let lo = part.head;
    let hi = es.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (es[mid].lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    this.hits++;
    const ring = this.ring;
    for (let i = lo; i < es.length; i++) {
      const e = es[i];
      const at = e.pos % this.maxBytes;
      if (!accept(ring.subarray(at, at + e.length), e.baseOffset, e.lastOffset)) break;
    }
    return true;
  }
}
