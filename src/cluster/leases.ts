// Leadership through leases. Each leased resource this agent touches (a topic-partition; the group
// coordinator may lease its shards the same way) has an explicit state; transitions go through one
// checked function, time is injected so expiry and self-fencing are testable, and the store is a
// narrow interface (acquire many, renew all of ours in one statement, release) so another kind of
// lease only needs another adapter.
//
// Safety rests on two clocks. The store judges expiry on the database clock, so two agents never
// both hold a lease. Locally, an agent counts its lease valid from *before* the request that granted
// or renewed it, for the TTL minus a margin: the database set the expiry after we sent the request,
// so our estimate ends first, and the margin covers timer lateness and clock-rate drift. When the
// estimate runs out without a renewal the agent stops serving (self-fencing) before anyone else can
// acquire. Flush commits are fenced by the database as well (lease epoch and expiry), so a stalled
// agent can never commit after losing its lease.
import type { MetadataStore } from '../../metadata/types.js';
import { ErrorCode, KafkaError, type ErrorCodeValue } from '../../protocol/errors.js';
import type { Logger } from '../logger.js';

export interface Clock {
  now(): number;
}

/** Wall clock (epoch ms): for timestamps clients see. */
export const systemClock: Clock = { now: () => Date.now() };

/** Monotonic ms: lease validity must not move when the wall clock is stepped. */
export const monotonicClock: Clock = { now: () => performance.now() };

/** A leased resource: a topic-partition, or any (name, number) pair such as a coordinator shard. */
export interface LeaseRef {
  topic: string;
  partitionId: number;
}

export interface LeaseGrant extends LeaseRef {
  holder: string;
  epoch: number;
}

/** What the state machine needs from the lease table. Expiry is judged by the store (database clock). */
export interface LeaseStore {
  /** Takes each free or expired lease (epoch + 1) or extends our unexpired one (same epoch), in one
   * statement; returns the leases `holder` now has among `refs` (others are held elsewhere or unknown). */
  acquire(holder: string, refs: readonly LeaseRef[], ttlMs: number): Promise<LeaseGrant[]>;
  /** Extends every unexpired lease `holder` has, in one statement; returns them. */
  renew(holder: string, ttlMs: number): Promise<LeaseGrant[]>;
  /** Ends these leases of `holder` now (the next holder gets epoch + 1). */
  release(holder: string, refs: readonly LeaseRef[]): Promise<void>;
}

/** Partition leases in the metadata store. */
export function partitionLeaseStore(
  m: Pick<MetadataStore, 'acquirePartitionLease' | 'acquirePartitionLeases' | 'renewAgentLeases' | 'releasePartitionLeases' | 'announceClusterChange'>,
): LeaseStore {
  const grant = (l: { topic: string; partitionId: number; leaderAgentId: string; epoch: number }): LeaseGrant => ({
    topic: l.topic,
    partitionId: l.partitionId,
    holder: l.leaderAgentId,
    epoch: l.epoch,
  });
  return {
    async acquire(holder, refs, ttlMs) {
      if (refs.length === 1) {
        // One partition (a request): an unknown partition is an error the client must see.
        const l = await m.acquirePartitionLease(refs[0]!.topic, refs[0]!.partitionId, holder, ttlMs);
        return l ? [grant(l)] : [];
      }
      return (await m.acquirePartitionLeases(holder, [...refs], ttlMs)).map(grant);
    },
    async renew(holder, ttlMs) {
      return (await m.renewAgentLeases(holder, ttlMs)).map(grant);
    },
    async release(holder, refs) {
      await m.releasePartitionLeases(holder, [...refs]);
      // The agents these partitions are intended for take them now, not at their next placement round.
      await m.announceClusterChange(holder).catch(() => undefined);
    },
  };
}

export type LeaseState =
  | { kind: 'unowned' }
  | { kind: 'acquiring'; attempt: Promise<LeaseState> }
  /** `since`: local time the granting request was sent; `validUntil`: end of our local estimate. */
  | { kind: 'leading'; epoch: number; since: number; validUntil: number }
  /** Graceful handoff: no new work is accepted; the lease is released once accepted work is done. */
  | { kind: 'handing-off'; epoch: number; since: number; validUntil: number; done: Promise<void> }
  | { kind: 'held-elsewhere'; leaderAgentId: string; epoch: number; recheckAt: number }
  | { kind: 'lost'; epoch: number; reason: string };

type Kind = LeaseState['kind'];

/** Which states each state may move to. */
const TRANSITIONS: Record<Kind, readonly Kind[]> = {
  unowned: ['acquiring'],
  acquiring: ['leading', 'held-elsewhere', 'unowned'],
  leading: ['leading', 'handing-off', 'lost', 'unowned'],
  'handing-off': ['handing-off', 'lost', 'unowned'],
  'held-elsewhere': ['acquiring', 'unowned'],
  lost: ['acquiring', 'unowned'],
};

export class IllegalLeaseTransition extends Error {}

export function transition(from: LeaseState, to: LeaseState): LeaseState {
  if (!TRANSITIONS[from.kind].includes(to.kind)) {
    throw new IllegalLeaseTransition(`lease state ${from.kind} cannot become ${to.kind}`);
  }
  return to;
}

/** What the owner of the leased work (the partition log) is told. */
export interface LeadershipListener {
  /** The lease is ours at `epoch`: get ready to serve. Requests wait for it; if it throws, the lease is released. */
  onLeading(ref: LeaseRef, epoch: number): Promise<void> | void;
  /** Graceful handoff: refuse new work, finish what was accepted (buffered appends, the flush in
   * progress). The lease is released only after this resolves. */
  onHandoff(ref: LeaseRef): Promise<void>;
  /** No longer leading (lost, fenced, released, forgotten): stop at once. */
  onLost(ref: LeaseRef): void;
}

export type LeaderResult = { ok: true; epoch: number } | { ok: false; errorCode: ErrorCodeValue; leaderAgentId?: string };

const keyOf = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

export interface LeadershipOptions {
  store: LeaseStore;
  agentId: string;
  ttlMs: number;
  /** How often every lease is renewed (one statement); default a quarter of the TTL. */
  renewIntervalMs?: number;
  /** Local validity = (time the granting request was sent) + TTL − this; default a tenth of the TTL. */
  fenceMarginMs?: number;
  /** Monotonic clock for validity (default performance.now). */
  clock?: Clock;
  log: Logger;
  listener: LeadershipListener;
  /** Whether a request may take a lease it finds free (placement: only those intended for us). Default: always. */
  mayAcquire?: (ref: LeaseRef) => boolean | Promise<boolean>;
  /** Name of the leased thing in log lines (default 'partition'). */
  what?: string;
}

interface Entry {
  topic: string;
  partitionId: number;
  state: LeaseState;
}

export class Leadership {
  private readonly states = new Map<string, Entry>();
  private readonly clock: Clock;
  readonly renewIntervalMs: number;
  readonly fenceMarginMs: number;
  private readonly what: string;
  private renewTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private fenceAt = Infinity;
  private renewing: Promise<void> | undefined;
  private stopping = false;
  /** Consecutive failed renewals (for the log: one line when they start, one when they end). */
  private renewFailures = 0;

  constructor(private readonly opts: LeadershipOptions) {
    this.clock = opts.clock ?? monotonicClock;
    this.renewIntervalMs = opts.renewIntervalMs ?? Math.max(100, Math.floor(opts.ttlMs / 4));
    this.fenceMarginMs = opts.fenceMarginMs ?? Math.max(1, Math.floor(opts.ttlMs / 10));
    this.what = opts.what ?? 'partition';
    if (this.renewIntervalMs + this.fenceMarginMs >= opts.ttlMs) {
      throw new Error(`lease renewal interval (${this.renewIntervalMs} ms) plus fencing margin (${this.fenceMarginMs} ms) must be below the lease TTL (${opts.ttlMs} ms)`);
    }
  }

  get ttlMs(): number {
    return this.opts.ttlMs;
  }

  state(topic: string, partitionId: number): LeaseState {
    return this.states.get(keyOf(topic, partitionId))?.state ?? { kind: 'unowned' };
  }

  private set(topic: string, partitionId: number, next: LeaseState): LeaseState {
    const k = keyOf(topic, partitionId);
    const cur = this.states.get(k)?.state ?? { kind: 'unowned' };
    const s = transition(cur, next);
    if (s.kind === 'unowned') this.states.delete(k);
    else this.states.set(k, { topic, partitionId, state: s });
    return s;
  }

  /** Leading partitions with their epochs (not those being handed off). */
  leading(): Array<{ topic: string; partitionId: number; epoch: number }> {
    const out: Array<{ topic: string; partitionId: number; epoch: number }> = [];
    for (const { topic, partitionId, state } of this.states.values()) {
      if (state.kind === 'leading') out.push({ topic, partitionId, epoch: state.epoch });
    }
    return out;
  }

  /** Every tracked resource and its state (placement decides from it). */
  entries(): Array<{ topic: string; partitionId: number; state: LeaseState }> {
    return [...this.states.values()].map((e) => ({ ...e }));
  }

  /**
   * Ensures this agent leads the partition, taking the lease when it is free or expired and
   * `mayAcquire` allows. Concurrent callers share one acquisition.
   */
  async ensureLeader(topic: string, partitionId: number): Promise<LeaderResult> {
    const now = this.clock.now();
    let st = this.state(topic, partitionId);
    if (st.kind === 'leading') {
      if (now < st.validUntil) return { ok: true, epoch: st.epoch };
      this.fence(now);
      st = this.state(topic, partitionId);
    }
    if (st.kind === 'handing-off') return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (st.kind === 'held-elsewhere' && now < st.recheckAt) {
      return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderAgentId: st.leaderAgentId };
    }
    if (st.kind !== 'acquiring') {
      if (this.stopping || !(await (this.opts.mayAcquire?.({ topic, partitionId }) ?? true))) return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
      st = this.state(topic, partitionId); // another request may have started acquiring meanwhile
    }
    if (st.kind === 'leading') return { ok: true, epoch: st.epoch };
    if (st.kind === 'acquiring') st = await st.attempt;
    else if (st.kind === 'handing-off') return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    else {
      const [attempt] = this.startAcquire([{ topic, partitionId }]);
      st = await attempt!;
    }
    if (st.kind === 'leading') return { ok: true, epoch: st.epoch };
    if (st.kind === 'held-elsewhere') return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderAgentId: st.leaderAgentId };
    return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  }

  /**
   * Placement: takes the leases of these resources in one statement (those not already led, being
   * acquired or handed off). Resolves when every attempt has settled; failures are logged.
   */
  async acquireMany(refs: readonly LeaseRef[]): Promise<number> {
    if (this.stopping) return 0;
    const todo = refs.filter((r) => {
      const k = this.state(r.topic, r.partitionId).kind;
      return k === 'unowned' || k === 'held-elsewhere' || k === 'lost';
    });
    if (todo.length === 0) return 0;
    const settled = await Promise.allSettled(this.startAcquire(todo));
    const failed = settled.filter((s) => s.status === 'rejected');
    if (failed.length > 0) this.opts.log.warn({ count: failed.length, err: String((failed[0] as PromiseRejectedResult).reason?.message ?? '') }, `${this.what} lease acquisition failed; the next placement round retries`);
    return settled.filter((s) => s.status === 'fulfilled' && s.value.kind === 'leading').length;
  }

  private startAcquire(refs: readonly LeaseRef[]): Array<Promise<LeaseState>> {
    const started = this.clock.now();
    const batch = Promise.resolve().then(() => this.opts.store.acquire(this.opts.agentId, refs, this.opts.ttlMs));
    return refs.map((ref) => {
      const attempt = batch.then(
        (grants) => this.acquired(ref, grants, started),
        (err: unknown) => {
          if (this.state(ref.topic, ref.partitionId).kind === 'acquiring') this.set(ref.topic, ref.partitionId, { kind: 'unowned' });
          throw err instanceof KafkaError ? err : new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, 'lease acquisition failed', { cause: err });
        },
      );
      this.set(ref.topic, ref.partitionId, { kind: 'acquiring', attempt });
      return attempt;
    });
  }

  private async acquired(ref: LeaseRef, grants: readonly LeaseGrant[], started: number): Promise<LeaseState> {
    const { topic, partitionId } = ref;
    const g = grants.find((x) => x.topic === topic && x.partitionId === partitionId && x.holder === this.opts.agentId);
    const cur = this.state(topic, partitionId);
    if (cur.kind !== 'acquiring') {
      // Forgotten meanwhile (topic deleted): do not keep a lease nobody will serve.
      if (g) this.releaseQuietly([ref]);
      return cur;
    }
    if (!g) {
      // Held by another agent (or unknown to a batch): look again after a short while.
      return this.set(topic, partitionId, { kind: 'held-elsewhere', leaderAgentId: '', epoch: -1, recheckAt: started + Math.min(1000, this.opts.ttlMs / 3) });
    }
    try {
      await this.opts.listener.onLeading(ref, g.epoch);
    } catch (err) {
      if (this.state(topic, partitionId).kind === 'acquiring') this.set(topic, partitionId, { kind: 'unowned' });
      this.releaseQuietly([ref]);
      throw err;
    }
    if (this.state(topic, partitionId).kind !== 'acquiring') {
      this.opts.listener.onLost(ref);
      this.releaseQuietly([ref]);
      return this.state(topic, partitionId);
    }
    const state = this.set(topic, partitionId, { kind: 'leading', epoch: g.epoch, since: started, validUntil: started + this.opts.ttlMs - this.fenceMarginMs });
    this.opts.log.info({ topic, partition: partitionId, epoch: g.epoch }, `lease acquired, leading ${this.what}`);
    this.scheduleFence(state.kind === 'leading' ? state.validUntil : undefined);
    return state;
  }

  /** Marks a resource as no longer led (fenced commit, renewal refused, expiry). */
  lose(topic: string, partitionId: number, reason: string, quiet = false): void {
    const st = this.state(topic, partitionId);
    if (st.kind !== 'leading' && st.kind !== 'handing-off') return;
    this.set(topic, partitionId, { kind: 'lost', epoch: st.epoch, reason });
    if (!quiet) this.opts.log.warn({ topic, partition: partitionId, epoch: st.epoch, reason }, `lost ${this.what} leadership`);
    this.opts.listener.onLost({ topic, partitionId });
  }

  /**
   * Self-fencing: stops serving every resource whose local validity ran out (renewals failed for
   * longer than TTL − margin). Returns how many were fenced.
   */
  fence(now = this.clock.now()): number {
    let n = 0;
    for (const { topic, partitionId, state } of [...this.states.values()]) {
      if ((state.kind === 'leading' || state.kind === 'handing-off') && now >= state.validUntil) {
        this.lose(topic, partitionId, 'self-fenced: lease not renewed in time', true);
        n++;
      }
    }
    if (n > 0) {
      this.opts.log.error(
        { count: n, ttlMs: this.opts.ttlMs, marginMs: this.fenceMarginMs },
        `lease renewal failed for too long: stopped serving ${n} ${this.what}(s) before their leases can expire (self-fenced); placement takes them again once the store answers`,
      );
    }
    return n;
  }

  /**
   * Arms the self-fencing timer for the earliest local validity. `at`: a validity just set (an
   * acquisition); when the timer already fires no later, nothing is recomputed (a batch of 10,000
   * acquisitions must not scan every state 10,000 times).
   */
  private scheduleFence(at?: number): void {
    if (this.renewTimer === undefined) return; // not running (tests drive fence() themselves)
    if (at !== undefined && this.fenceTimer !== undefined && this.fenceAt <= at) return;
    let first = Infinity;
    for (const { state } of this.states.values()) if (state.kind === 'leading' || state.kind === 'handing-off') first = Math.min(first, state.validUntil);
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
    if (first === Infinity) return;
    this.fenceAt = first;
    this.fenceTimer = setTimeout(() => {
      this.fenceTimer = undefined;
      this.fence();
      this.scheduleFence();
    }, Math.max(0, first - this.clock.now()) + 1);
    this.fenceTimer.unref();
  }

  /** Renews every lease we hold in one statement; those missing from the answer are lost. */
  renewAll(): Promise<void> {
    this.renewing ??= this.doRenew().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async doRenew(): Promise<void> {
    const started = this.clock.now();
    let grants: LeaseGrant[];
    try {
      grants = await this.opts.store.renew(this.opts.agentId, this.opts.ttlMs);
    } catch (err) {
      if (this.renewFailures++ === 0) this.opts.log.warn({ err: (err as Error).message }, `${this.what} lease renewal failed; retrying (leadership ends at the local lease estimate)`);
      this.fence();
      return;
    }
    if (this.renewFailures > 0) this.opts.log.info({ failures: this.renewFailures }, `${this.what} lease renewal works again`);
    this.renewFailures = 0;
    const kept = new Map(grants.map((g) => [keyOf(g.topic, g.partitionId), g]));
    const orphans: LeaseRef[] = [];
    for (const { topic, partitionId, state } of [...this.states.values()]) {
      if (state.kind !== 'leading' && state.kind !== 'handing-off') continue;
      if (state.since >= started) continue; // acquired after the renewal was sent: not judged by it
      const g = kept.get(keyOf(topic, partitionId));
      if (g === undefined || g.epoch !== state.epoch) this.lose(topic, partitionId, 'lease renewal refused (expired or taken over)');
      else this.set(topic, partitionId, { ...state, validUntil: Math.max(state.validUntil, started + this.opts.ttlMs - this.fenceMarginMs) });
    }
    for (const g of grants) {
      const st = this.state(g.topic, g.partitionId);
      const ours = (st.kind === 'leading' || st.kind === 'handing-off') && st.epoch === g.epoch;
      // A lease the database says we hold but we do not serve (a previous run under the same agent id,
      // a lost partition): give it back rather than keep it alive for nobody.
      if (!ours && st.kind !== 'acquiring') orphans.push({ topic: g.topic, partitionId: g.partitionId });
    }
    if (orphans.length > 0) {
      this.opts.log.info({ count: orphans.length }, `releasing ${this.what} leases held in the store but not served here`);
      this.releaseQuietly(orphans);
    }
    this.fence();
    this.scheduleFence();
  }

  private releaseQuietly(refs: readonly LeaseRef[]): void {
    this.opts.store.release(this.opts.agentId, refs).catch((err: unknown) => {
      this.opts.log.warn({ count: refs.length, err: (err as Error).message }, `${this.what} lease release failed; the leases will expire`);
    });
  }

  /**
   * Graceful handoff of one resource we lead: refuse new work, let the listener finish what was
   * accepted, then release the lease (the next holder takes it with epoch + 1). Resolves when done.
   */
  handOff(topic: string, partitionId: number): Promise<void> {
    const st = this.state(topic, partitionId);
    if (st.kind === 'handing-off') return st.done;
    if (st.kind !== 'leading') return Promise.resolve();
    const ref = { topic, partitionId };
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    this.set(topic, partitionId, { kind: 'handing-off', epoch: st.epoch, since: st.since, validUntil: st.validUntil, done });
    void (async () => {
      try {
        await this.opts.listener.onHandoff(ref);
      } catch (err) {
        this.opts.log.warn({ topic, partition: partitionId, err: (err as Error).message }, `${this.what} handoff: finishing accepted work failed`);
      }
      const before = this.state(topic, partitionId);
      if (before.kind !== 'handing-off' || before.epoch !== st.epoch) return; // lost or forgotten meanwhile
      try {
        await this.releaseSoon(ref);
      } catch (err) {
        this.opts.log.warn({ topic, partition: partitionId, err: (err as Error).message }, `${this.what} lease release failed; it will expire`);
      }
      const after = this.state(topic, partitionId);
      if (after.kind === 'handing-off' && after.epoch === st.epoch) {
        this.set(topic, partitionId, { kind: 'unowned' });
        this.opts.listener.onLost(ref);
      }
      this.opts.log.info({ topic, partition: partitionId, epoch: st.epoch }, `${this.what} handed off`);
    })().finally(resolveDone);
    return done;
  }

  private releaseBatch: { refs: LeaseRef[]; done: Promise<void> } | undefined;

  /** Releases a lease together with the others handed off in the same tick: one statement and one
   * announcement for a SIGTERM's hundreds of partitions, not one each. */
  private releaseSoon(ref: LeaseRef): Promise<void> {
    let batch = this.releaseBatch;
    if (batch === undefined) {
      const b: { refs: LeaseRef[]; done: Promise<void> } = { refs: [], done: Promise.resolve() };
      b.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (this.releaseBatch === b) this.releaseBatch = undefined;
        return this.opts.store.release(this.opts.agentId, b.refs);
      });
      this.releaseBatch = batch = b;
    }
    batch.refs.push(ref);
    return batch.done;
  }

  /** Hands off every resource we lead (SIGTERM) and stops acquiring. */
  async handOffAll(): Promise<void> {
    this.stopping = true;
    const refs = [...this.states.values()].filter((e) => e.state.kind === 'leading' || e.state.kind === 'handing-off');
    await Promise.all(refs.map((e) => this.handOff(e.topic, e.partitionId)));
  }

  start(): void {
    this.renewTimer = setInterval(() => {
      this.renewAll().catch((err: unknown) => this.opts.log.error({ err }, 'lease renewal loop failed'));
    }, this.renewIntervalMs);
    this.renewTimer.unref();
    this.scheduleFence();
  }

  /** Forgets every resource of a deleted topic (a topic re-created under its name starts afresh). */
  forgetTopic(topic: string): void {
    for (const { topic: t, partitionId } of [...this.states.values()]) if (t === topic) this.forget(topic, partitionId);
  }

  /** Forgets a resource (topic deleted). */
  forget(topic: string, partitionId: number): void {
    const st = this.state(topic, partitionId);
    if (st.kind === 'leading' || st.kind === 'handing-off') this.opts.listener.onLost({ topic, partitionId });
    if (st.kind !== 'unowned' && st.kind !== 'acquiring') this.set(topic, partitionId, { kind: 'unowned' });
  }

  /** Stops renewing and releases every lease still held (the end of a shutdown). */
  async releaseAll(): Promise<void> {
    this.stopping = true;
    const refs: LeaseRef[] = [];
    for (const { topic, partitionId, state } of [...this.states.values()]) {
      if (state.kind !== 'leading' && state.kind !== 'handing-off') continue;
      this.set(topic, partitionId, { kind: 'unowned' });
      this.opts.listener.onLost({ topic, partitionId });
      refs.push({ topic, partitionId });
    }
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.renewTimer = this.fenceTimer = undefined;
    if (refs.length === 0) return;
    try {
      await this.opts.store.release(this.opts.agentId, refs);
    } catch (err) {
      this.opts.log.warn({ count: refs.length, err: (err as Error).message }, `${this.what} lease release failed; the leases will expire`);
    }
  }
}
