// The leader's tail cache: the most recently committed batches of every partition it leads, bounded
// in bytes across all partitions. Consumers at the tail are served from here and never touch the
// object store. Only committed data ever enters (it is filled from the writer's commit events), and
// each partition's cached range is contiguous, ending at the last commit. Eviction is global and
// oldest-commit-first, which always removes entries from the front of some partition's range.
import { readInt64 } from './batch.js';

interface Entry {
  baseOffset: number;
  lastOffset: number;
  buf: Buffer;
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

interface Group {
  part: PartTail;
  count: number;
  bytes: number;
}

export class TailCache {
  private readonly parts = new Map<string, PartTail>();
  private readonly groups: Group[] = [];
  private groupHead = 0;
  private bytes = 0;
  hits = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.bytes;
  }

  /** Adds committed batches (contiguous, ascending). A gap resets the partition's range. */
  append(key: string, batches: Buffer[]): void {
    if (batches.length === 0 || this.maxBytes <= 0) return;
    let part = this.parts.get(key);
    const first = readInt64(batches[0], 0);
    if (part !== undefined && part.endOffset !== first) {
      this.drop(key);
      part = undefined;
    }
    if (part === undefined) {
      part = { entries: [], head: 0, endOffset: first, bytes: 0, dead: false };
      this.parts.set(key, part);
    }
    let bytes = 0;
    for (const b of batches) {
      const baseOffset = readInt64(b, 0);
      const lastOffset = baseOffset + b.readInt32BE(23);
      part.entries.push({ baseOffset, lastOffset, buf: b });
      part.endOffset = lastOffset + 1;
      bytes += b.length;
    }
    part.bytes += bytes;
    this.bytes += bytes;
    this.groups.push({ part, count: batches.length, bytes });
    this.evict();
  }

  private evict(): void {
    while (this.bytes > this.maxBytes && this.groupHead < this.groups.length) {
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

  /** The cached offset range [start, end) of a partition, if any. */
  range(key: string): { start: number; end: number } | undefined {
    const part = this.parts.get(key);
    if (part === undefined || part.head >= part.entries.length) return undefined;
    return { start: part.entries[part.head].baseOffset, end: part.endOffset };
  }

  /**
   * Offers batches from the one containing `offset`, in order, while `accept` returns true.
   * Returns false (offering nothing) when `offset` is not inside the cached range.
   */
  scan(key: string, offset: number, accept: (buf: Buffer, baseOffset: number, lastOffset: number) => boolean): boolean {
    const part = this.parts.get(key);
    if (part === undefined || part.head >= part.entries.length) return false;
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
    for (let i = lo; i < es.length; i++) {
      if (!accept(es[i].buf, es[i].baseOffset, es[i].lastOffset)) break;
    }
    return true;
  }
}
