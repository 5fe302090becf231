// Placement in action: every agent, every `intervalMs` (and at once when told the topics changed),
// reads the live set and the topic list, computes the partitions intended for it (rendezvous
// hashing, placement.ts), takes the leases of those it does not lead yet in one statement, and
// hands off those it leads that are now intended for another live agent (one joined, or this agent
// is no longer live). While some of its share is still held elsewhere (a handoff under way, a
// crashed agent's lease not expired yet) it looks again every `retryMs`, so it takes each lease
// within about that long after it is released or expires.
import type { AgentRecord, MetadataStore, TopicRecord } from '../../metadata/types.js';
import type { Logger } from '../logger.js';
import type { Leadership, LeaseRef } from './leases.js';
import { intendedLeader, shareOf } from './placement.js';

export interface BalancerOptions {
  metadata: Pick<MetadataStore, 'listTopics' | 'getTopic'>;
  membership: { liveAgents(): Promise<AgentRecord[]>; selfLive(): boolean };
  leadership: Leadership;
  nodeId: number;
  /** Placement round interval (default 1000 ms). */
  intervalMs?: number;
  /** Next round while part of our share is not led yet (default 200 ms). */
  retryMs?: number;
  log: Logger;
}

export class Balancer {
  private nodes: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly retryMs: number;

  constructor(private readonly opts: BalancerOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.retryMs = opts.retryMs ?? 200;
  }

  /** Node ids of the live set of the last round. */
  liveNodes(): readonly number[] {
    return this.nodes;
  }

  /** Partition counts of the topics seen (placement rounds, Metadata): placement depends on them. */
  private readonly counts = new Map<string, number>();

  /** The intended leader of a partition of a topic with `partitionCount` partitions (undefined when no agent is live). */
  intended(topic: string, partitionId: number, partitionCount: number): number | undefined {
    this.counts.set(topic, partitionCount);
    return intendedLeader(topic, partitionId, partitionCount, this.nodes);
  }

  /** Whether a partition is intended for this agent (lazy acquisition is allowed only then). */
  async isOurs(ref: LeaseRef): Promise<boolean> {
    if (!this.opts.membership.selfLive()) return false;
    let count = this.counts.get(ref.topic);
    if (count === undefined) {
      // A topic no round has placed yet (just created): its size from the (cached) topic record.
      const t = await this.opts.metadata.getTopic(ref.topic);
      if (t === undefined) return false;
      count = t.partitionCount;
      this.counts.set(ref.topic, count);
      this.trigger();
    }
    return intendedLeader(ref.topic, ref.partitionId, count, this.nodes) === this.opts.nodeId;
  }

  /** The live agents (read through the membership's short cache); a change of the set places again at once. */
  liveAgents(): Promise<AgentRecord[]> {
    return this.readLive(false);
  }

  private async readLive(inRound: boolean): Promise<AgentRecord[]> {
    const agents = await this.opts.membership.liveAgents();
    const nodes = agents.map((a) => a.nodeId).sort((a, b) => a - b);
    if (nodes.join(',') !== this.nodes.join(',')) {
      this.opts.log.info({ live: nodes, was: this.nodes }, 'live agents changed; placing partitions again');
      this.nodes = nodes;
      if (!inRound && this.timer !== undefined) this.trigger();
    }
    return agents;
  }

  /** One placement round (rounds never overlap; one asked for during a round runs right after it). */
  round(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.doRound()
      .catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'placement round failed; the next one retries'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.round();
        }
      });
    return this.running;
  }

  /** A pending round: true when part of our share is not led yet. */
  private pending = false;

  private async doRound(): Promise<void> {
    const [, topics] = await Promise.all([this.readLive(true), this.opts.metadata.listTopics()]);
    const nodes = this.nodes;
    if (this.stopped) return;
    const self = this.opts.nodeId;
    const share = this.opts.membership.selfLive() ? shareOf(self, topics, nodes) : [];
    const mine = new Set(share.map((r) => `${r.topic}\u0000${r.partitionId}`));
    const known = new Map<string, TopicRecord>(topics.map((t) => [t.name, t]));
    this.counts.clear();
    for (const t of topics) this.counts.set(t.name, t.partitionCount);
    const leaving: LeaseRef[] = [];
    for (const { topic, partitionId, state } of this.opts.leadership.entries()) {
      if (state.kind !== 'leading') continue;
      const t = known.get(topic);
      if (t === undefined || partitionId >= t.partitionCount) continue; // deleted: forgotten elsewhere
      if (!mine.has(`${topic}\u0000${partitionId}`)) leaving.push({ topic, partitionId });
    }
    if (leaving.length > 0) {
      this.opts.log.info({ count: leaving.length, to: nodes }, 'handing off partitions intended for other agents');
      for (const r of leaving) void this.opts.leadership.handOff(r.topic, r.partitionId);
    }
    await this.opts.leadership.acquireMany(share);
    this.pending = share.some((r) => this.opts.leadership.state(r.topic, r.partitionId).kind !== 'leading');
  }

  start(): void {
    const tick = () => {
      this.timer = undefined;
      if (this.stopped) return;
      void this.round().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.pending ? this.retryMs : this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** Something changed (topics, the live set): place again now. */
  trigger(): void {
    if (!this.stopped) void this.round();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
