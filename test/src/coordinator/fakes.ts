// Test doubles for the group coordinator: a manual clock with timers, an in-memory store for the group
// and offset methods (same behaviour as the SQL store: a group with only offsets reads as Empty), and
// consumer-protocol helpers.
import { ErrorCode, KafkaError, encodeSubscription, encodeAssignment } from '../../../protocol/index.js';
import type { AgentRecord, CommittedOffset, CoordinatorFence, CoordinatorLease, GroupRecord, OffsetCommitInput, TopicRecord } from '../../../metadata/types.js';
import type { CoordinatorStore, ShardLeaseStore, Timers, TimerHandle } from '../../../src/coordinator/index.js';

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

/** Timers that only fire when the test advances time; due timers run in time order, then creation order. */
export class FakeTimers implements Timers {
  private t = 1_000_000;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.pending.set(id, { id, at: this.t + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete((handle as { id: number }).id);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Moves the clock forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending.values()) if (p.at <= target && (next === undefined || p.at < next.at || (p.at === next.at && p.id < next.id))) next = p;
      if (next === undefined) break;
      this.pending.delete(next.id);
      this.t = next.at;
      next.fn();
    }
    this.t = target;
  }
}

const key = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

/**
 * The group/offset half of MetadataStore in memory, with call counters and an injectable failure, plus
 * coordinator shard leases and registered agents with the SQL store's rules (expiry on `leaseClock`, the
 * database clock; fenced writes refused with NOT_COORDINATOR, checked when the write is applied).
 */
export class MemoryGroupStore implements CoordinatorStore {
  readonly leases = new Map<number, CoordinatorLease>();
  readonly agents = new Map<string, AgentRecord>();
  /** The database clock of leases. */
  leaseClock: () => number = () => this.now;
  /** When set, lease statements throw it (the database unreachable for lease renewal). */
  failLeases: Error | undefined;
  /** Writes refused by their fence. */
  fencedWrites = 0;
  /** Cluster changes announced (coordinator shards released by a handoff). */
  announced = 0;
  readonly topics = new Map<string, TopicRecord>();
  readonly groups = new Map<string, GroupRecord>();
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  calls = { commitOffsets: 0, saveGroup: 0, getGroup: 0, deleteGroup: 0, deleteOffsets: 0 };
  /** When set, writes throw it (a lost database). */
  failWrites: Error | undefined;
  /** Delay of every write (ms of real time), to let writes queue up. */
  writeDelayMs = 0;
  now = 1_700_000_000_000;

  addTopic(name: string, partitionCount: number): void {
    this.topics.set(name, { name, topicId: `id-${name}`, partitionCount, retentionMs: null, config: {}, createdAt: 0, updatedAt: 0 });
  }

  private async write(fence?: CoordinatorFence): Promise<void> {
    if (this.writeDelayMs > 0) await new Promise((r) => setTimeout(r, this.writeDelayMs));
    if (this.failWrites) throw this.failWrites;
    if (fence === undefined) return;
    const l = this.leases.get(fence.shard);
    if (l === undefined || l.leaderAgentId !== fence.agentId || l.epoch !== fence.epoch || l.leaseExpiresAt <= this.leaseClock()) {
      this.fencedWrites++;
      throw new KafkaError(ErrorCode.NOT_COORDINATOR, `agent ${fence.agentId} no longer holds coordinator shard ${fence.shard} with epoch ${fence.epoch}`);
    }
  }

  // --- agents and coordinator leases ---

  addAgent(agentId: string, nodeId: number, host = 'localhost', port = 9092): void {
    this.agents.set(agentId, { agentId, nodeId, host, port, rack: null, lastHeartbeat: this.leaseClock(), startedAt: this.leaseClock() } as AgentRecord);
  }

  async listLiveAgents(maxAgeMs: number): Promise<AgentRecord[]> {
    const now = this.leaseClock();
    return [...this.agents.values()].filter((a) => a.lastHeartbeat >= now - maxAgeMs).sort((a, b) => a.nodeId - b.nodeId);
  }

  /** The store as the shard leases see it (the database clock is `leaseClock`). */
  leaseStore(): ShardLeaseStore {
    return {
      acquireCoordinatorLeases: (a, s, t) => this.acquireCoordinatorLeases(a, s, t),
      renewCoordinatorLeases: (a, t) => this.renewCoordinatorLeases(a, t),
      releaseCoordinatorLeases: (a, l) => this.releaseCoordinatorLeases(a, l),
      listCoordinatorLeases: () => this.listCoordinatorLeases(),
      listLiveAgents: (m) => this.listLiveAgents(m),
      now: async () => this.leaseClock(),
      announceClusterChange: async () => void this.announced++,
    };
  }

  private leaseOp(): void {
    if (this.failLeases) throw this.failLeases;
  }

  async acquireCoordinatorLeases(agentId: string, shards: number[], ttlMs: number): Promise<CoordinatorLease[]> {
    this.leaseOp();
    const now = this.leaseClock();
    const out: CoordinatorLease[] = [];
    for (const shard of [...new Set(shards)].sort((a, b) => a - b)) {
      const l = this.leases.get(shard);
      let next: CoordinatorLease | undefined;
      if (l === undefined) next = { shard, leaderAgentId: agentId, leaseExpiresAt: now + ttlMs, epoch: 1 };
      else if (l.leaderAgentId === agentId && l.leaseExpiresAt > now) next = { ...l, leaseExpiresAt: now + ttlMs };
      else if (l.leaseExpiresAt <= now) next = { shard, leaderAgentId: agentId, leaseExpiresAt: now + ttlMs, epoch: l.epoch + 1 };
      if (next !== undefined) {
        this.leases.set(shard, next);
        out.push({ ...next });
      }
    }
    return out;
  }

  async renewCoordinatorLeases(agentId: string, ttlMs: number): Promise<CoordinatorLease[]> {
    this.leaseOp();
    const now = this.leaseClock();
    const out: CoordinatorLease[] = [];
    for (const l of this.leases.values()) {
      if (l.leaderAgentId === agentId && l.leaseExpiresAt > now) {
        l.leaseExpiresAt = now + ttlMs;
        out.push({ ...l });
      }
    }
    return out;
  }

  async releaseCoordinatorLeases(agentId: string, leases: Array<{ shard: number; epoch: number }>): Promise<void> {
    this.leaseOp();
    const now = this.leaseClock();
    for (const r of leases) {
      const l = this.leases.get(r.shard);
      if (l !== undefined && l.leaderAgentId === agentId && l.epoch === r.epoch) l.leaseExpiresAt = Math.min(l.leaseExpiresAt, now);
    }
  }

  async listCoordinatorLeases(): Promise<CoordinatorLease[]> {
    this.leaseOp();
    return [...this.leases.values()].map((l) => ({ ...l })).sort((a, b) => a.shard - b.shard);
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    return this.topics.get(name);
  }

  async commitOffsets(groupId: string, offsets: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void> {
    if (groupId === '') throw new KafkaError(ErrorCode.INVALID_GROUP_ID);
    this.calls.commitOffsets++;
    await this.write(fence);
    this.put(groupId, offsets);
  }

  private put(groupId: string, offsets: OffsetCommitInput[]): void {
    let g = this.offsets.get(groupId);
    if (g === undefined) this.offsets.set(groupId, (g = new Map()));
    for (const o of offsets) {
      g.set(key(o.topic, o.partitionId), {
        groupId,
        topic: o.topic,
        partitionId: o.partitionId,
        offset: o.offset,
        leaderEpoch: o.leaderEpoch ?? -1,
        metadata: o.metadata ?? null,
        commitTimestamp: o.commitTimestamp ?? this.now,
      });
    }
  }

  async fetchOffsets(groupId: string, partitions?: Array<{ topic: string; partitionId: number }>): Promise<CommittedOffset[]> {
    const g = this.offsets.get(groupId);
    if (g === undefined) return [];
    if (partitions === undefined) return [...g.values()].sort((a, b) => (a.topic === b.topic ? a.partitionId - b.partitionId : a.topic < b.topic ? -1 : 1));
    return partitions.map((p) => g.get(key(p.topic, p.partitionId))).filter((o): o is CommittedOffset => o !== undefined);
  }

  async deleteOffsets(groupId: string, partitions: Array<{ topic: string; partitionId: number }>, fence?: CoordinatorFence): Promise<void> {
    this.calls.deleteOffsets++;
    await this.write(fence);
    const g = this.offsets.get(groupId);
    for (const p of partitions) g?.delete(key(p.topic, p.partitionId));
  }

  async listGroupsWithOffsetsBefore(committedBefore: number): Promise<string[]> {
    return [...this.offsets].filter(([, g]) => [...g.values()].some((o) => o.commitTimestamp < committedBefore)).map(([id]) => id).sort();
  }

  async expireOffsets(groupId: string, committedBefore: number, topics?: string[], fence?: CoordinatorFence): Promise<number> {
    await this.write(fence);
    const g = this.offsets.get(groupId);
    let n = 0;
    for (const [k, o] of g ?? []) {
      if (o.commitTimestamp < committedBefore && (topics === undefined || topics.includes(o.topic))) {
        g!.delete(k);
        n++;
      }
    }
    return n;
  }

  async saveGroup(group: GroupRecord, offsets: OffsetCommitInput[] = [], fence?: CoordinatorFence): Promise<void> {
    this.calls.saveGroup++;
    await this.write(fence);
    this.groups.set(group.groupId, { ...structuredClone(group), updatedAt: this.now });
    this.put(group.groupId, offsets);
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    this.calls.getGroup++;
    const g = this.groups.get(groupId);
    if (g) return structuredClone(g);
    if ((this.offsets.get(groupId)?.size ?? 0) > 0) return this.implicit(groupId);
    return undefined;
  }

  /** As the SQL store reads a group that has only offsets: created/updated at its oldest/newest commit. */
  private implicit(groupId: string): GroupRecord {
    const times = [...(this.offsets.get(groupId)?.values() ?? [])].map((o) => o.commitTimestamp);
    return { groupId, state: 'Empty', protocolType: null, protocolName: null, generation: 0, leaderId: null, members: [], createdAt: Math.min(...times), updatedAt: Math.max(...times) };
  }

  async listGroups(): Promise<GroupRecord[]> {
    const out = [...this.groups.values()].map((g) => structuredClone(g));
    for (const [id, o] of this.offsets) if (o.size > 0 && !this.groups.has(id)) out.push(this.implicit(id));
    return out.sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  async deleteGroup(groupId: string, fence?: CoordinatorFence): Promise<boolean> {
    this.calls.deleteGroup++;
    await this.write(fence);
    const a = this.groups.delete(groupId);
    const b = this.offsets.delete(groupId);
    return a || b;
  }
}

/** Consumer-protocol subscription bytes for `topics`. */
export function subscription(topics: string[]): Buffer {
  return encodeSubscription({ topics, userData: null, ownedPartitions: [] }, 1);
}

/** Consumer-protocol assignment bytes. */
export function assignment(partitions: Record<string, number[]>): Buffer {
  return encodeAssignment({ assignedPartitions: Object.entries(partitions).map(([topic, ps]) => ({ topic, partitions: ps })), userData: null }, 1);
}

/** Lets queued promise callbacks (store writes, replies) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
