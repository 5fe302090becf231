// A byte-bounded LRU map (Map iteration order is insertion order; a hit re-inserts) plus a
// single-flight helper so concurrent misses for one key cause one load, not N.

export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; size: number }>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.bytes;
  }

  get count(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V, size: number): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.size;
      this.map.delete(key);
    }
    if (size > this.maxBytes) return; // would evict everything and still not fit
    this.map.set(key, { value, size });
    this.bytes += size;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= e.size;
    }
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e === undefined) return;
    this.bytes -= e.size;
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}

export class SingleFlight<V> {
  private readonly inflight = new Map<string, Promise<V>>();

  run(key: string, load: () => Promise<V>): Promise<V> {
    const existing = this.inflight.get(key);
    if (existing !== undefined) return existing;
    const p = load().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
