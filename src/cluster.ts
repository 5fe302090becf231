// The cluster as clients see it: live agents are brokers, lease holders are partition leaders.
// Both views are read from the metadata store and kept for a short while so Metadata requests do not
// each cost queries.
import type { AgentRecord, MetadataStore, LeaseRecord } from '../metadata/types.js';
import type { BrokerInfo } from './context.js';
import type { Clock, Leadership } from './leadership.js';

const VIEW_TTL_MS = 1000;

export class ClusterView {
  private agentsCache: { at: number; value: AgentRecord[] } | undefined;
  private readonly leaseCache = new Map<string, { at: number; value: Map<number, LeaseRecord> }>();

  constructor(
    private readonly metadata: Pick<MetadataStore, 'listLiveAgents' | 'listPartitionLeases' | 'getPartitions'>,
    private readonly self: BrokerInfo & { agentId: string },
    private readonly leadership: Leadership,
    private readonly clock: Clock,
    private readonly liveWithinMs: number,
  ) {}

  private async agents(): Promise<AgentRecord[]> {
    const now = this.clock.now();
    if (this.agentsCache && now - this.agentsCache.at < VIEW_TTL_MS) return this.agentsCache.value;
    const value = await this.metadata.listLiveAgents(this.liveWithinMs);
    this.agentsCache = { at: now, value };
    return value;
  }

  async brokers(): Promise<BrokerInfo[]> {
    const value: BrokerInfo[] = (await this.agents()).map((a) => ({ nodeId: a.nodeId, host: a.host, port: a.port, rack: a.rack }));
    if (!value.some((b) => b.nodeId === this.self.nodeId)) value.push({ nodeId: this.self.nodeId, host: this.self.host, port: this.self.port, rack: this.self.rack });
    return value.sort((a, b) => a.nodeId - b.nodeId);
  }

  private async leases(topic: string): Promise<Map<number, LeaseRecord>> {
    const now = this.clock.now();
    const hit = this.leaseCache.get(topic);
    if (hit && now - hit.at < VIEW_TTL_MS) return hit.value;
    const value = new Map((await this.metadata.listPartitionLeases(topic)).map((l) => [l.partitionId, l]));
    this.leaseCache.set(topic, { at: now, value });
    return value;
  }

  /** Leader of each partition: us when we lead it, the holder of a live lease, else us (we take it when served). */
  async leaders(topic: string, partitionCount: number): Promise<Array<{ nodeId: number; leaderEpoch: number }>> {
    const [agents, leases, partitions] = await Promise.all([this.agents(), this.leases(topic), this.metadata.getPartitions(topic)]);
    const nodeOf = new Map(agents.map((a) => [a.agentId, a.nodeId]));
    // Lease expiry is on the database clock; a small skew here only delays a hand-over hint.
    const now = this.clock.now();
    const out: Array<{ nodeId: number; leaderEpoch: number }> = [];
    for (let p = 0; p < partitionCount; p++) {
      const st = this.leadership.state(topic, p);
      if (st.kind === 'leading') {
        out.push({ nodeId: this.self.nodeId, leaderEpoch: st.epoch });
        continue;
      }
      const lease = leases.get(p);
      const holder = lease ? nodeOf.get(lease.leaderAgentId) : undefined;
      if (lease && holder !== undefined && lease.leaseExpiresAt > now && lease.leaderAgentId !== this.self.agentId) {
        out.push({ nodeId: holder, leaderEpoch: lease.epoch });
      } else {
        // We take the lease when first served, which bumps the epoch unless the unexpired lease is
        // already ours: name that epoch. Clients send it back as currentLeaderEpoch (ListOffsets v4+,
        // Fetch v9+), and librdkafka's offsetsForTimes fails outright on a fenced one.
        const ours = lease !== undefined && lease.leaderAgentId === this.self.agentId && lease.leaseExpiresAt > now;
        const stored = Math.max(partitions[p]?.leaderEpoch ?? 0, lease?.epoch ?? 0);
        out.push({ nodeId: this.self.nodeId, leaderEpoch: ours ? lease.epoch : stored + 1 });
      }
    }
    return out;
  }
}
