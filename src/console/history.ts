// What the console's charts show over time, sampled in memory on this agent: throughput (from the
// agent's metrics registry) and every consumer group's total lag (from the metadata database, as
// `streamhouse lag` reads it). Bounded: each series is a ring of CAPACITY samples, at most MAX_GROUPS
// groups are followed; a group not seen for a whole ring is dropped. Nothing is persisted: a restarted
// agent starts its charts empty.

export const CAPACITY = 360; // 1 hour at the default 10 s
export const MAX_GROUPS = 1000;

/** A fixed-size ring of (time, values) samples. */
export class Ring {
  private readonly times: number[] = [];
  private readonly values: number[][] = [];
  private start = 0;

  constructor(private readonly capacity = CAPACITY) {}

  push(time: number, values: number[]): void {
    if (this.times.length < this.capacity) {
      this.times.push(time);
      this.values.push(values);
    } else {
      this.times[this.start] = time;
      this.values[this.start] = values;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  get size(): number {
    return this.times.length;
  }

  get lastTime(): number | undefined {
    return this.times.length === 0 ? undefined : this.times[(this.start + this.times.length - 1) % this.times.length];
  }

  /** Oldest first: [times, series 0, series 1, ...]. */
  columns(series: number): number[][] {
    const n = this.times.length;
    const out: number[][] = Array.from({ length: series + 1 }, () => new Array<number>(n));
    for (let i = 0; i < n; i++) {
      const j = (this.start + i) % n;
      out[0]![i] = this.times[j]!;
      for (let s = 0; s < series; s++) out[s + 1]![i] = this.values[j]![s] ?? 0;
    }
    return out;
  }
}

export interface ThroughputTotals {
  bytesIn: number;
  messagesIn: number;
  bytesOut: number;
}

export interface HistorySources {
  /** Counters since the agent started (undefined when metrics are off). */
  throughput(): Promise<ThroughputTotals | undefined>;
  /** Total lag of each group. */
  groupLag(): Promise<Array<{ groupId: string; totalLag: number }>>;
}

export class ConsoleHistory {
  /** Per second: bytes in, messages in, bytes out. */
  readonly throughput = new Ring();
  readonly lag = new Map<string, Ring>();
  private last: { time: number; totals: ThroughputTotals } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private intervalMs = 10_000;

  constructor(
    private readonly sources: HistorySources,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.intervalMs = intervalMs;
    void this.sampleNow();
    this.timer = setInterval(() => void this.sampleNow(), intervalMs);
    this.timer.unref();
  }

  /** One sample (concurrent calls share it). */
  sampleNow(): Promise<void> {
    this.running ??= this.sample()
      .catch(this.onError)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async sample(): Promise<void> {
    const now = Date.now();
    const totals = await this.sources.throughput();
    if (totals !== undefined) {
      if (this.last !== undefined && now > this.last.time) {
        const s = (now - this.last.time) / 1000;
        const p = this.last.totals;
        this.throughput.push(now, [(totals.bytesIn - p.bytesIn) / s, (totals.messagesIn - p.messagesIn) / s, (totals.bytesOut - p.bytesOut) / s]);
      }
      this.last = { time: now, totals };
    }
    const lags = await this.sources.groupLag();
    for (const g of lags) {
      let ring = this.lag.get(g.groupId);
      if (ring === undefined) {
        if (this.lag.size >= MAX_GROUPS) continue;
        this.lag.set(g.groupId, (ring = new Ring()));
      }
      ring.push(now, [g.totalLag]);
    }
    // Groups gone for a whole ring's time are forgotten.
    const seen = new Set(lags.map((g) => g.groupId));
    for (const [id, ring] of this.lag) {
      if (!seen.has(id) && now - (ring.lastTime ?? now) > CAPACITY * this.intervalMs) this.lag.delete(id);
    }
  }
}
