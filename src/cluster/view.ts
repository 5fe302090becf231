// The cluster as clients see it: live agents are brokers; the leader of a partition is its lease
// holder, or while it is unleased (or its holder is no longer live) its intended leader (placement).
// Every agent reads the same lease rows and live set, so Metadata from any agent names the same
// leaders. Both are kept for a short while so Metadata requests do not each cost queries.
import type { AgentRecord, MetadataStore, LeaseRecord } from '../../metadata/types.js';
import type { BrokerInfo } from '../context.js';
import type { Clock, Leadership } from './leases.js';

/** How long a read of a topic's lease rows is reused: bounds how stale a named leader can be. */
const LEASES_TTL_MS = 250;

export interface Placement {
  /** Live agents, node id order. */
  liveAgents(): Promise<AgentRecord[]>;
  /** The intended leader among the live agents as of the last read. */
  intended(topic: string, partitionId: number, partitionCount: number): number | undefined;
}

export class ClusterView {
  private readonly leaseCache = new Map<string, { at: number; value: Map<number, LeaseRecord> }>();

  constructor(
    private readonly metadata: Pick<MetadataStore, 'listPartitionLeases' | 'getPartitions'>,
    private readonly self: BrokerInfo & { agentId: string },
    private readonly leadership: Pick<Leadership, 'state'>,
    /** Wall clock, compared with lease expiry (database clock): a small skew only delays a hint. */
    private readonly clock: Clock,
    private readonly placement: Placement,
  ) {}

  /** Forgets the cached lease rows (another agent announced a change). */
  invalidate(): void {
    this.leaseCache.clear();
  }

  async brokers(): Promise<BrokerInfo[]> {
    const value: BrokerInfo[] = (await this.placement.liveAgents()).map((a) => ({ nodeId: a.nodeId, host: a.host, port: a.port, rack: a.rack, listeners: a.listeners }));
    // A client must be able to talk to the agent it asked, even while that agent is not live (it is
    // handing off or its heartbeat lapsed): it stays a broker, it is just nobody's intended leader.
    if (!value.some((b) => b.nodeId === this.self.nodeId)) value.push({ nodeId: this.self.nodeId, host: this.self.host, port: this.self.port, rack: this.self.rack, listeners: this.self.listeners });
    return value.sort((a, b) => a.nodeId - b.nodeId);
  }

  private async leases(topic: string): Promise<Map<number, LeaseRecord>> {
    const now = this.clock.now();
    const hit = this.leaseCache.get(topic);
    if (hit && now - hit.at < LEASES_TTL_MS) return hit.value;
    const value = new Map((await this.metadata.listPartitionLeases(topic)).map((l) => [l.partitionId, l]));
    this.leaseCache.set(topic, { at: now, value });
    return value;
  }

  /** Leader of each partition: us when we lead it, else the live holder of an unexpired lease, else the intended leader. */
  async leaders(topic: string, partitionCount: number): Promise<Array<{ nodeId: number; leaderEpoch: number }>> {
    const [agents, leases, partitions] = await Promise.all([this.placement.liveAgents(), this.leases(topic), this.metadata.getPartitions(topic)]);
    const nodeOf = new Map(agents.map((a) => [a.agentId, a.nodeId]));
    const now = this.clock.now();
    const out: Array<{ nodeId: number; leaderEpoch: number }> = [];
    for (let p = 0; p < partitionCount; p++) {
      let st = this.leadership.state(topic, p);
      // Our acquisition in flight may have stored its epoch already: the stored epoch + 1 named below
      // would then be one the partition never gets (and clients retry UNKNOWN_LEADER_EPOCH with it).
      if (st.kind === 'acquiring') st = await st.attempt.catch(() => this.leadership.state(topic, p));
      if (st.kind === 'leading') {
        out.push({ nodeId: this.self.nodeId, leaderEpoch: st.epoch });
        continue;
      }
      const lease = leases.get(p);
      const live = lease !== undefined && lease.leaseExpiresAt > now;
      const holder = lease ? nodeOf.get(lease.leaderAgentId) : undefined;
      if (live && holder !== undefined && lease.leaderAgentId !== this.self.agentId) {
        out.push({ nodeId: holder, leaderEpoch: lease.epoch });
        continue;
      }
      // Unleased, its holder not live, or our own lease we are handing off: the intended leader,
      // which takes the lease next. Name the epoch it will have: taking a lease bumps it, unless the
      // unexpired lease is already the intended leader's own (us after a restart). Clients send it
      // back as currentLeaderEpoch (ListOffsets v4+, Fetch v9+), and librdkafka's offsetsForTimes
      // fails outright on a fenced one.
      const intended = this.placement.intended(topic, p, partitionCount) ?? this.self.nodeId;
      const stored = Math.max(partitions[p]?.leaderEpoch ?? 0, lease?.epoch ?? 0);
      const keeps = live && intended === this.self.nodeId && lease.leaderAgentId === this.self.agentId && st.kind !== 'handing-off';
      out.push({ nodeId: intended, leaderEpoch: keeps ? lease.epoch : stored + 1 });
    }
    return out;
  }
}
