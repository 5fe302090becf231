// Partition leadership through leases in the metadata store. Each partition this agent touches has
// an explicit lease state; transitions go through one checked function, and time is injected so
// expiry is testable. A partition is led only while its lease is held: the writer accepts produce for
// it between `onLeading` and `onLost`.
import type { LeaseRecord, MetadataStore } from '../metadata/types.js';
import { ErrorCode, KafkaError, type ErrorCodeValue } from '../protocol/errors.js';
import type { Logger } from './logger.js';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type LeaseState =
  | { kind: 'unowned' }
  | { kind: 'acquiring'; attempt: Promise<LeaseState> }
  | { kind: 'leading'; epoch: number; highWatermark: number; validUntil: number }
  | { kind: 'held-elsewhere'; leaderAgentId: string; epoch: number; recheckAt: number }
  | { kind: 'lost'; epoch: number; reason: string };

type Kind = LeaseState['kind'];

/** Which states each state may move to. */
const TRANSITIONS: Record<Kind, readonly Kind[]> = {
  unowned: ['acquiring'],
  acquiring: ['leading', 'held-elsewhere', 'unowned'],
  leading: ['leading', 'lost', 'unowned'],
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

/** What the partition log (the segment writer) is told about leadership changes. */
export interface LeadershipListener {
  onLeading(topic: string, partitionId: number, lease: { epoch: number; highWatermark: number }): void;
  onLost(topic: string, partitionId: number): void;
}

export type LeaderResult = { ok: true; epoch: number } | { ok: false; errorCode: ErrorCodeValue; leaderAgentId?: string };

const key = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

export interface LeadershipOptions {
  metadata: Pick<MetadataStore, 'acquirePartitionLease' | 'renewPartitionLease' | 'releasePartitionLease' | 'getPartition'>;
  agentId: string;
  ttlMs: number;
  clock?: Clock;
  log: Logger;
  listener: LeadershipListener;
}

export class Leadership {
  private readonly states = new Map<string, { topic: string; partitionId: number; state: LeaseState }>();
  private readonly clock: Clock;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(private readonly opts: LeadershipOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  state(topic: string, partitionId: number): LeaseState {
    return this.states.get(key(topic, partitionId))?.state ?? { kind: 'unowned' };
  }

  private set(topic: string, partitionId: number, next: LeaseState): LeaseState {
    const k = key(topic, partitionId);
    const cur = this.states.get(k)?.state ?? { kind: 'unowned' };
    const s = transition(cur, next);
    if (s.kind === 'unowned') this.states.delete(k);
    else this.states.set(k, { topic, partitionId, state: s });
    return s;
  }

  /** Leading partitions with their epochs. */
  leading(): Array<{ topic: string; partitionId: number; epoch: number }> {
    const out: Array<{ topic: string; partitionId: number; epoch: number }> = [];
    for (const { topic, partitionId, state } of this.states.values()) {
      if (state.kind === 'leading') out.push({ topic, partitionId, epoch: state.epoch });
    }
    return out;
  }

  /**
   * Ensures this agent leads the partition, taking the lease when it is free or expired.
   * Concurrent callers share one acquisition.
   */
  async ensureLeader(topic: string, partitionId: number): Promise<LeaderResult> {
    const now = this.clock.now();
    let st = this.state(topic, partitionId);
    if (st.kind === 'leading') {
      if (now < st.validUntil) return { ok: true, epoch: st.epoch };
      // Our renewals have been failing for a whole lease: someone else may lead by now.
      this.lose(topic, partitionId, 'lease not renewed in time');
      st = this.state(topic, partitionId);
    }
    if (st.kind === 'held-elsewhere' && now < st.recheckAt) {
      return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderAgentId: st.leaderAgentId };
    }
    if (st.kind !== 'acquiring') {
      const attempt = this.acquire(topic, partitionId);
      this.set(topic, partitionId, { kind: 'acquiring', attempt });
      st = await attempt;
    } else st = await st.attempt;
    if (st.kind === 'leading') return { ok: true, epoch: st.epoch };
    if (st.kind === 'held-elsewhere') return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderAgentId: st.leaderAgentId };
    return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  }

  private async acquire(topic: string, partitionId: number): Promise<LeaseState> {
    const started = this.clock.now();
    let lease: LeaseRecord | undefined;
    try {
      lease = await this.opts.metadata.acquirePartitionLease(topic, partitionId, this.opts.agentId, this.opts.ttlMs);
    } catch (err) {
      this.set(topic, partitionId, { kind: 'unowned' });
      throw err instanceof KafkaError ? err : new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, 'lease acquisition failed', { cause: err });
    }
    if (lease === undefined) {
      // Held by another agent: look again after a short while (it may expire).
      return this.set(topic, partitionId, { kind: 'held-elsewhere', leaderAgentId: '', epoch: -1, recheckAt: started + Math.min(1000, this.opts.ttlMs / 3) });
    }
    if (lease.leaderAgentId !== this.opts.agentId) {
      return this.set(topic, partitionId, { kind: 'held-elsewhere', leaderAgentId: lease.leaderAgentId, epoch: lease.epoch, recheckAt: started + Math.min(1000, this.opts.ttlMs / 3) });
    }
    let partition;
    try {
      partition = await this.opts.metadata.getPartition(topic, partitionId);
    } catch (err) {
      this.set(topic, partitionId, { kind: 'unowned' });
      throw err;
    }
    if (!partition) {
      this.set(topic, partitionId, { kind: 'unowned' });
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    // Validity is counted from before the request, on our clock: conservative against slow round trips.
    const state = this.set(topic, partitionId, { kind: 'leading', epoch: lease.epoch, highWatermark: partition.highWatermark, validUntil: started + this.opts.ttlMs });
    this.opts.log.info({ topic, partition: partitionId, epoch: lease.epoch }, 'lease acquired, leading partition');
    this.opts.listener.onLeading(topic, partitionId, { epoch: lease.epoch, highWatermark: partition.highWatermark });
    return state;
  }

  /** Marks a partition as no longer led (fenced commit, renewal refused, expiry). */
  lose(topic: string, partitionId: number, reason: string): void {
    const st = this.state(topic, partitionId);
    if (st.kind !== 'leading') return;
    this.set(topic, partitionId, { kind: 'lost', epoch: st.epoch, reason });
    this.opts.log.warn({ topic, partition: partitionId, epoch: st.epoch, reason }, 'lost partition leadership');
    this.opts.listener.onLost(topic, partitionId);
  }

  /** Renews every held lease once; refused renewals lose the partition. */
  async renewAll(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      for (const { topic, partitionId, epoch } of this.leading()) {
        const started = this.clock.now();
        let lease: LeaseRecord | undefined;
        try {
          lease = await this.opts.metadata.renewPartitionLease(topic, partitionId, this.opts.agentId, epoch, this.opts.ttlMs);
        } catch (err) {
          // Database trouble: keep leading until our own estimate of the lease runs out.
          this.opts.log.warn({ topic, partition: partitionId, err: (err as Error).message }, 'lease renewal failed, will retry');
          continue;
        }
        const st = this.state(topic, partitionId);
        if (st.kind !== 'leading' || st.epoch !== epoch) continue;
        if (lease === undefined || lease.epoch !== epoch) this.lose(topic, partitionId, 'lease renewal refused');
        else this.set(topic, partitionId, { ...st, validUntil: started + this.opts.ttlMs });
      }
    } finally {
      this.renewing = false;
    }
  }

  startRenewing(): void {
    const every = Math.max(100, Math.floor(this.opts.ttlMs / 3));
    this.renewTimer = setInterval(() => {
      this.renewAll().catch((err: unknown) => this.opts.log.error({ err }, 'lease renewal loop failed'));
    }, every);
    this.renewTimer.unref();
  }

  /** Forgets every partition of a deleted topic (a topic re-created under its name starts afresh). */
  forgetTopic(topic: string): void {
    for (const { topic: t, partitionId } of [...this.states.values()]) if (t === topic) this.forget(topic, partitionId);
  }

  /** Forgets a partition (topic deleted). */
  forget(topic: string, partitionId: number): void {
    const st = this.state(topic, partitionId);
    if (st.kind === 'leading') this.opts.listener.onLost(topic, partitionId);
    if (st.kind !== 'unowned' && st.kind !== 'acquiring') this.set(topic, partitionId, { kind: 'unowned' });
  }

  /** Stops renewing and releases every held lease (graceful shutdown). */
  async releaseAll(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    for (const { topic, partitionId } of this.leading()) {
      try {
        await this.opts.metadata.releasePartitionLease(topic, partitionId, this.opts.agentId);
      } catch (err) {
        this.opts.log.warn({ topic, partition: partitionId, err: (err as Error).message }, 'lease release failed; it will expire');
      }
      this.set(topic, partitionId, { kind: 'unowned' });
      this.opts.listener.onLost(topic, partitionId);
    }
  }
}
