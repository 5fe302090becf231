// A read-through cache in front of a MetadataStore, with the same interface. It serves topics and
// partitions from memory, and the segment index of the partitions this agent leads (those whose lease it
// acquired through this cache), so the fetch path's find_segment_for_offset costs no query.
//
// What keeps it right:
// - every change made through it updates or drops the entries it touches;
// - changes made by other agents are dropped by invalidateTopic(name), and topic/partition entries are
//   re-read after `ttlMs` in case a notification was missed;
// - for a partition we lead, high watermark and segments change only through us (the flush commit is
//   fenced by our lease), so the cached high watermark is authoritative while the lease is held;
// - a read that was in flight while something changed must not install what it read: structural changes
//   cancel in-flight loads; in-place updates (a new high watermark) are replayed onto them.
// All writes of an agent must go through the same CachedMetadataStore instance.
import { randomUUID } from 'node:crypto';
import type {
  AclBinding,
  AgentRecord,
  CommittedOffset,
  CreateTopicInput,
  FlushCommitPartition,
  FlushCommitResult,
  GroupRecord,
  LeaseRecord,
  CoordinatorLease,
  CoordinatorFence,
  MetadataStore,
  NewSegment,
  OffsetCommitInput,
  PartitionRecord,
  PartitionSegmentStats,
  SegmentRecord,
  TopicRecord,
  ProducerSnapshotInput,
  ProducerSnapshotRecord,
} from './types.js';

export interface CacheOptions {
  /** Topic and partition entries are re-read after this long (default 30 s; 0 = only when invalidated). */
  ttlMs?: number;
  /** Most segments kept in memory per led partition, newest first kept (default 256). */
  maxSegmentsPerPartition?: number;
  /** Clock for expiry (injectable for tests). */
  now?: () => number;
}

type Partitions = Array<PartitionRecord | undefined>;
type PartitionPatch = (byId: Partitions) => void;

interface TopicEntry {
  record: TopicRecord;
  at: number;
}

interface PartitionsEntry {
  /** Indexed by partition id; undefined marks a partition to re-read. */
  byId: Partitions;
  at: number;
  snapshot?: readonly PartitionRecord[];
}

interface PartitionsLoad {
  cancelled: boolean;
  patches: PartitionPatch[];
  result?: Promise<Partitions>;
}

/** Contiguous segments covering every offset in [from, next). */
interface SegmentIndex {
  segments: SegmentRecord[];
  from: number;
  next: number;
}

interface LedPartition {
  epoch: number;
  index?: SegmentIndex;
  /** Bumped whenever segments change other than by appending (cancels in-flight index loads). */
  version: number;
}

const key = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

function freeze<T extends object>(value: T): T {
  return Object.freeze(value);
}

export class CachedMetadataStore implements MetadataStore {
  readonly kind: 'postgres' | 'pglite';
  private readonly ttlMs: number;
  private readonly maxSegments: number;
  private readonly clock: () => number;

  private readonly topics = new Map<string, TopicEntry>();
  private readonly topicIds = new Map<string, string>();
  /** Per topic, bumped by structural changes; topic-record loads install only if it did not move. */
  private readonly topicVersions = new Map<string, number>();
  /** Bumped with any topic version (for loads that do not know the topic name in advance). */
  private generation = 0;
  private readonly partitions = new Map<string, PartitionsEntry>();
  private readonly partitionLoads = new Map<string, Set<PartitionsLoad>>();
  private readonly led = new Map<string, LedPartition>();
  private readonly changeListeners: Array<(topic: string) => void> = [];

  constructor(
    readonly inner: MetadataStore,
    opts: CacheOptions = {},
  ) {
    this.kind = inner.kind;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.maxSegments = Math.max(1, opts.maxSegmentsPerPartition ?? 256);
    this.clock = opts.now ?? Date.now;
  }

  // --- invalidation --------------------------------------------------------------------------------

  /** Drops everything cached about a topic (call when another agent changed it). */
  invalidateTopic(name: string): void {
    this.bumpTopic(name);
    const entry = this.topics.get(name);
    if (entry) this.topicIds.delete(entry.record.topicId);
    this.topics.delete(name);
    this.dropPartitions(name);
    for (const [k, led] of this.led) {
      if (k.startsWith(`${name}\u0000`)) this.dropIndex(led);
    }
  }

  /**
   * The topic was deleted or re-created under its name (another topic id): drops everything cached
   * about it, including which of its partitions we lead.
   */
  forgetTopic(name: string): void {
    this.invalidateTopic(name);
    for (const k of [...this.led.keys()]) if (k.startsWith(`${name}\u0000`)) this.led.delete(k);
  }

  /**
   * Calls `listener(topic)` after every topic change made through this cache (create, delete, new
   * partitions, configs) has committed: the local twin of the NOTIFY other agents receive, so an
   * agent reacts to its own changes the same way, on PGlite too.
   */
  onTopicChange(listener: (topic: string) => void): void {
    this.changeListeners.push(listener);
  }

  private changed(topic: string): void {
    for (const l of this.changeListeners) l(topic);
  }

  /** Drops every cached entry (leadership knowledge is kept). */
  invalidateAll(): void {
    for (const name of new Set([...this.topics.keys(), ...this.partitions.keys(), ...this.partitionLoads.keys()])) {
      this.invalidateTopic(name);
    }
    for (const led of this.led.values()) this.dropIndex(led);
  }

  /** Partitions this cache believes this agent leads, with their lease epochs. */
  ledPartitions(): Array<{ topic: string; partitionId: number; epoch: number }> {
    return [...this.led].map(([k, v]) => {
      const i = k.lastIndexOf('\u0000');
      return { topic: k.slice(0, i), partitionId: Number(k.slice(i + 1)), epoch: v.epoch };
    });
  }

  private bumpTopic(name: string): void {
    this.topicVersions.set(name, (this.topicVersions.get(name) ?? 0) + 1);
    this.generation++;
  }

  private fresh(at: number): boolean {
    return this.ttlMs === 0 || this.clock() - at < this.ttlMs;
  }

  private dropPartitions(topic: string): void {
    this.partitions.delete(topic);
    const loads = this.partitionLoads.get(topic);
    if (loads) for (const l of loads) l.cancelled = true;
  }

  /** Applies an in-place change to the cached partitions of a topic and to loads in flight. */
  private patchPartitions(topic: string, patch: PartitionPatch): void {
    const entry = this.partitions.get(topic);
    if (entry) {
      patch(entry.byId);
      entry.snapshot = undefined;
    }
    const loads = this.partitionLoads.get(topic);
    if (loads) for (const l of loads) l.patches.push(patch);
  }

  /** Marks one partition to be re-read. */
  private forgetPartition(topic: string, partitionId: number): void {
    this.patchPartitions(topic, (byId) => {
      if (partitionId < byId.length) byId[partitionId] = undefined;
    });
  }

  private updatePartition(topic: string, partitionId: number, change: Partial<PartitionRecord>): void {
    this.patchPartitions(topic, (byId) => {
      const cur = byId[partitionId];
      if (cur) byId[partitionId] = freeze({ ...cur, ...change });
    });
  }

  private dropIndex(led: LedPartition): void {
    led.index = undefined;
    led.version++;
  }

  private installTopic(record: TopicRecord): TopicRecord {
    const frozen = freeze({ ...record, config: freeze({ ...record.config }) });
    const old = this.topics.get(record.name);
    if (old && old.record.topicId !== record.topicId) this.topicIds.delete(old.record.topicId);
    this.topics.set(record.name, { record: frozen, at: this.clock() });
    this.topicIds.set(record.topicId, record.name);
    return frozen;
  }

  /**
   * Reads a topic's partitions, joining a read of the same topic already in flight (unless an
   * invalidation cancelled it): an agent taking 1,000 partition leases at once asks for each of them,
   * and 1,000 reads of 1,000 rows queued its lease renewals behind them on PGlite.
   */
  private loadPartitions(topic: string): Promise<Partitions> {
    for (const l of this.partitionLoads.get(topic) ?? []) if (!l.cancelled && l.result) return l.result;
    const load: PartitionsLoad = { cancelled: false, patches: [] };
    load.result = this.readPartitions(topic, load);
    return load.result;
  }

  private async readPartitions(topic: string, load: PartitionsLoad): Promise<Partitions> {
    let loads = this.partitionLoads.get(topic);
    if (!loads) this.partitionLoads.set(topic, (loads = new Set()));
    loads.add(load);
    try {
      const rows = await this.inner.getPartitions(topic);
      const byId: Partitions = [];
      for (const r of rows) byId[r.partitionId] = freeze(r);
      for (const patch of load.patches) patch(byId);
      if (!load.cancelled && rows.length > 0) this.partitions.set(topic, { byId, at: this.clock() });
      return byId;
    } finally {
      loads.delete(load);
      if (loads.size === 0) this.partitionLoads.delete(topic);
    }
  }

  // --- pass-through lifecycle ----------------------------------------------------------------------

  close(): Promise<void> {
    this.topics.clear();
    this.topicIds.clear();
    this.partitions.clear();
    this.led.clear();
    return this.inner.close();
  }

  now(): Promise<number> {
    return this.inner.now();
  }

  // --- topics & partitions -------------------------------------------------------------------------

  async createTopic(input: CreateTopicInput): Promise<TopicRecord> {
    this.invalidateTopic(input.name);
    const record = await this.inner.createTopic(input);
    this.invalidateTopic(input.name);
    const installed = this.installTopic(record);
    this.changed(input.name);
    return installed;
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    const entry = this.topics.get(name);
    if (entry && this.fresh(entry.at)) return entry.record;
    const version = this.topicVersions.get(name) ?? 0;
    const record = await this.inner.getTopic(name);
    if (!record) return undefined;
    if ((this.topicVersions.get(name) ?? 0) !== version) return freeze(record);
    return this.installTopic(record);
  }

  async getTopicById(topicId: string): Promise<TopicRecord | undefined> {
    const name = this.topicIds.get(topicId);
    if (name !== undefined) {
      const entry = this.topics.get(name);
      if (entry && this.fresh(entry.at) && entry.record.topicId === topicId) return entry.record;
    }
    const generation = this.generation;
    const record = await this.inner.getTopicById(topicId);
    if (!record) return undefined;
    return generation === this.generation ? this.installTopic(record) : freeze(record);
  }

  async listTopics(): Promise<TopicRecord[]> {
    const generation = this.generation;
    const records = await this.inner.listTopics();
    return records.map((r) => (generation === this.generation ? this.installTopic(r) : freeze(r)));
  }

  async deleteTopic(name: string): Promise<boolean> {
    this.invalidateTopic(name);
    let deleted = false;
    try {
      deleted = await this.inner.deleteTopic(name);
      return deleted;
    } finally {
      this.forgetTopic(name);
      if (deleted) this.changed(name);
    }
  }

  async addPartitions(name: string, newPartitionCount: number): Promise<TopicRecord> {
    try {
      const record = await this.inner.addPartitions(name, newPartitionCount);
      this.invalidateTopic(name);
      const installed = this.installTopic(record);
      this.changed(name);
      return installed;
    } catch (err) {
      this.invalidateTopic(name);
      throw err;
    }
  }

  async updateTopicConfig(
    name: string,
    config: Record<string, string>,
    retentionMs?: number | null,
  ): Promise<TopicRecord> {
    this.bumpTopic(name);
    this.topics.delete(name);
    const record = await this.inner.updateTopicConfig(name, config, retentionMs);
    this.bumpTopic(name);
    const installed = this.installTopic(record);
    this.changed(name);
    return installed;
  }

  async getPartitions(topic: string): Promise<PartitionRecord[]> {
    const entry = this.partitions.get(topic);
    if (entry && this.fresh(entry.at) && !entry.byId.includes(undefined)) {
      return (entry.snapshot ??= freeze(entry.byId.slice() as PartitionRecord[])) as PartitionRecord[];
    }
    const byId = await this.loadPartitions(topic);
    return freeze(byId.filter((p): p is PartitionRecord => p !== undefined)) as PartitionRecord[];
  }

  async getPartition(topic: string, partitionId: number): Promise<PartitionRecord | undefined> {
    const entry = this.partitions.get(topic);
    if (entry && this.fresh(entry.at)) {
      const p = entry.byId[partitionId];
      if (p) return p;
    }
    const byId = await this.loadPartitions(topic);
    const p = byId[partitionId];
    if (p !== undefined || partitionId >= byId.length) return p;
    // Forgotten while the read was in flight (a new lease, a new high watermark: read it again), and
    // reads of a topic are shared: this partition alone, from the store.
    const fresh = await this.inner.getPartition(topic, partitionId);
    return fresh === undefined ? undefined : freeze(fresh);
  }

  async updateHighWatermark(topic: string, partitionId: number, highWatermark: number): Promise<void> {
    this.forgetPartition(topic, partitionId);
    const led = this.led.get(key(topic, partitionId));
    if (led) this.dropIndex(led);
    await this.inner.updateHighWatermark(topic, partitionId, highWatermark);
    this.forgetPartition(topic, partitionId);
  }

  async setLogStartOffset(topic: string, partitionId: number, offset: number): Promise<number> {
    try {
      const logStartOffset = await this.inner.setLogStartOffset(topic, partitionId, offset);
      this.updatePartition(topic, partitionId, { logStartOffset });
      return logStartOffset;
    } catch (err) {
      this.forgetPartition(topic, partitionId);
      throw err;
    }
  }

  // --- segments ------------------------------------------------------------------------------------

  async addSegment(segment: NewSegment): Promise<SegmentRecord> {
    const led = this.led.get(key(segment.topic, segment.partitionId));
    if (led) this.dropIndex(led);
    return this.inner.addSegment(segment);
  }

  async findSegmentForOffset(topic: string, partitionId: number, offset: number): Promise<SegmentRecord | undefined> {
    const led = this.led.get(key(topic, partitionId));
    if (!led) return this.inner.findSegmentForOffset(topic, partitionId, offset);
    const hit = lookup(led.index, offset);
    if (hit !== null) return hit;
    // As leader our high watermark is authoritative: nothing exists at or beyond it.
    const partition = await this.getPartition(topic, partitionId);
    if (partition && offset >= partition.highWatermark) return undefined;
    const version = led.version;
    const segments = await this.inner.listSegments(topic, partitionId, offset, this.maxSegments);
    const found = segments[0] && segments[0].baseOffset <= offset ? segments[0] : undefined;
    if (this.led.get(key(topic, partitionId)) === led && led.version === version && segments.length > 0) {
      const index = buildIndex(segments);
      // Keep the index that reaches further (the tail is what consumers read).
      if (index && (!led.index || index.next >= led.index.next)) led.index = index;
    }
    return found && freeze(found);
  }

  listSegments(topic: string, partitionId: number, fromOffset?: number, limit?: number): Promise<SegmentRecord[]> {
    return this.inner.listSegments(topic, partitionId, fromOffset, limit);
  }

  segmentStats(topic?: string): Promise<PartitionSegmentStats[]> {
    return this.inner.segmentStats(topic);
  }

  async deleteSegmentsBefore(topic: string, partitionId: number, offset: number): Promise<SegmentRecord[]> {
    const led = this.led.get(key(topic, partitionId));
    if (led) this.dropIndex(led);
    return this.inner.deleteSegmentsBefore(topic, partitionId, offset);
  }

  async commitFlush(agentId: string, input: FlushCommitPartition[]): Promise<FlushCommitResult> {
    // Segment ids are chosen here so that the indexed copies carry the ids the database has.
    const partitions = input.map((p) => (p.segment.id ? p : { ...p, segment: { ...p.segment, id: randomUUID() } }));
    let result: FlushCommitResult;
    try {
      result = await this.inner.commitFlush(agentId, partitions);
    } catch (err) {
      // Unknown outcome (e.g. the connection broke after the commit was sent): re-read these partitions.
      for (const p of partitions) this.forgetLed(p.topic, p.partitionId, false);
      throw err;
    }
    if (result.committed) {
      for (const p of partitions) {
        const highWatermark = p.segment.endOffset + 1;
        this.updatePartition(p.topic, p.partitionId, { highWatermark });
        const led = this.led.get(key(p.topic, p.partitionId));
        if (!led) continue;
        const index = led.index;
        if (index && index.next === p.segment.baseOffset) {
          index.segments.push(freeze({ ...p.segment, id: p.segment.id!, createdAt: this.clock() }));
          index.next = highWatermark;
          if (index.segments.length > this.maxSegments) {
            index.segments.splice(0, index.segments.length - this.maxSegments);
            index.from = index.segments[0]!.baseOffset;
          }
        } else if (index) {
          this.dropIndex(led);
        }
      }
    } else {
      for (const f of result.fenced) this.forgetLed(f.topic, f.partitionId, f.reason !== 'offset');
    }
    return result;
  }

  /** Re-read a partition and its segments; `lost` also forgets that we lead it. */
  private forgetLed(topic: string, partitionId: number, lost: boolean): void {
    this.forgetPartition(topic, partitionId);
    const k = key(topic, partitionId);
    const led = this.led.get(k);
    if (!led) return;
    this.dropIndex(led);
    if (lost) this.led.delete(k);
  }

  // --- consumer offsets & groups (not cached) ------------------------------------------------------

  commitOffset(groupId: string, offset: OffsetCommitInput): Promise<void> {
    return this.inner.commitOffset(groupId, offset);
  }
  commitOffsets(groupId: string, offsets: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void> {
    return this.inner.commitOffsets(groupId, offsets, fence);
  }
  fetchOffsets(groupId: string, partitions?: Array<{ topic: string; partitionId: number }>): Promise<CommittedOffset[]> {
    return this.inner.fetchOffsets(groupId, partitions);
  }
  deleteOffsets(groupId: string, partitions: Array<{ topic: string; partitionId: number }>, fence?: CoordinatorFence): Promise<void> {
    return this.inner.deleteOffsets(groupId, partitions, fence);
  }
  listGroupsWithOffsetsBefore(committedBefore: number): Promise<string[]> {
    return this.inner.listGroupsWithOffsetsBefore(committedBefore);
  }
  expireOffsets(groupId: string, committedBefore: number, topics?: string[], fence?: CoordinatorFence): Promise<number> {
    return this.inner.expireOffsets(groupId, committedBefore, topics, fence);
  }
  saveGroup(group: GroupRecord, offsets?: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void> {
    return this.inner.saveGroup(group, offsets, fence);
  }
  getGroup(groupId: string): Promise<GroupRecord | undefined> {
    return this.inner.getGroup(groupId);
  }
  listGroups(): Promise<GroupRecord[]> {
    return this.inner.listGroups();
  }
  deleteGroup(groupId: string, fence?: CoordinatorFence): Promise<boolean> {
    return this.inner.deleteGroup(groupId, fence);
  }
  // Coordinator shard leases are not cached: the coordinator keeps its own state (src/coordinator/shards.ts).
  acquireCoordinatorLeases(agentId: string, shards: number[], ttlMs: number): Promise<CoordinatorLease[]> {
    return this.inner.acquireCoordinatorLeases(agentId, shards, ttlMs);
  }
  renewCoordinatorLeases(agentId: string, ttlMs: number): Promise<CoordinatorLease[]> {
    return this.inner.renewCoordinatorLeases(agentId, ttlMs);
  }
  releaseCoordinatorLeases(agentId: string, leases: Array<{ shard: number; epoch: number }>): Promise<void> {
    return this.inner.releaseCoordinatorLeases(agentId, leases);
  }
  listCoordinatorLeases(): Promise<CoordinatorLease[]> {
    return this.inner.listCoordinatorLeases();
  }
  agreeClusterSetting(name: string, value: string): Promise<string> {
    return this.inner.agreeClusterSetting(name, value);
  }
  endAgentLeases(agentId: string): Promise<{ partitions: number; shards: number }> {
    return this.inner.endAgentLeases(agentId);
  }
  saveProducerSnapshots(agentId: string, snapshots: ProducerSnapshotInput[]): Promise<number> {
    return this.inner.saveProducerSnapshots(agentId, snapshots);
  }
  loadProducerSnapshot(topic: string, partitionId: number): Promise<ProducerSnapshotRecord | undefined> {
    return this.inner.loadProducerSnapshot(topic, partitionId);
  }

  // --- agents & leases (leases teach the cache which partitions we lead) ---------------------------

  registerAgent(input: Parameters<MetadataStore['registerAgent']>[0]): Promise<AgentRecord> {
    return this.inner.registerAgent(input);
  }
  heartbeatAgent(agentId: string): Promise<void> {
    return this.inner.heartbeatAgent(agentId);
  }
  listLiveAgents(maxAgeMs: number): Promise<AgentRecord[]> {
    return this.inner.listLiveAgents(maxAgeMs);
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.inner.listAgents();
  }
  async deregisterAgent(agentId: string): Promise<void> {
    await this.inner.deregisterAgent(agentId);
    this.led.clear();
  }
  retireAgent(agentId: string): Promise<void> {
    return this.inner.retireAgent(agentId);
  }
  listAcls(): Promise<AclBinding[]> {
    return this.inner.listAcls();
  }
  createAcls(bindings: readonly AclBinding[]): Promise<number> {
    return this.inner.createAcls(bindings);
  }
  deleteAcls(bindings: readonly AclBinding[]): Promise<AclBinding[]> {
    return this.inner.deleteAcls(bindings);
  }

  announceClusterChange(agentId: string): Promise<void> {
    return this.inner.announceClusterChange(agentId);
  }
  allocateProducerId(): Promise<number> {
    return this.inner.allocateProducerId();
  }

  private noteLease(lease: LeaseRecord): void {
    const k = key(lease.topic, lease.partitionId);
    const led = this.led.get(k);
    if (led && led.epoch === lease.epoch) return; // renewal: nothing changed
    // New leadership: the previous leader may have moved the high watermark since we last looked.
    if (led) this.dropIndex(led);
    this.led.set(k, { epoch: lease.epoch, version: (led?.version ?? 0) + 1 });
    this.forgetPartition(lease.topic, lease.partitionId);
  }

  async acquirePartitionLease(
    topic: string,
    partitionId: number,
    agentId: string,
    ttlMs: number,
  ): Promise<LeaseRecord | undefined> {
    const lease = await this.inner.acquirePartitionLease(topic, partitionId, agentId, ttlMs);
    if (lease) this.noteLease(lease);
    else this.forgetLed(topic, partitionId, true);
    return lease;
  }

  async acquirePartitionLeases(
    agentId: string,
    partitions: Array<{ topic: string; partitionId: number }>,
    ttlMs: number,
  ): Promise<LeaseRecord[]> {
    const leases = await this.inner.acquirePartitionLeases(agentId, partitions, ttlMs);
    const got = new Set(leases.map((l) => key(l.topic, l.partitionId)));
    for (const l of leases) this.noteLease(l);
    for (const p of partitions) if (!got.has(key(p.topic, p.partitionId))) this.forgetLed(p.topic, p.partitionId, true);
    return leases;
  }

  async renewPartitionLease(
    topic: string,
    partitionId: number,
    agentId: string,
    epoch: number,
    ttlMs: number,
  ): Promise<LeaseRecord | undefined> {
    const lease = await this.inner.renewPartitionLease(topic, partitionId, agentId, epoch, ttlMs);
    if (lease) this.noteLease(lease);
    else this.forgetLed(topic, partitionId, true);
    return lease;
  }

  async renewAgentLeases(agentId: string, ttlMs: number): Promise<LeaseRecord[]> {
    const leases = await this.inner.renewAgentLeases(agentId, ttlMs);
    const kept = new Set(leases.map((l) => key(l.topic, l.partitionId)));
    for (const l of leases) this.noteLease(l);
    for (const p of this.ledPartitions()) {
      if (!kept.has(key(p.topic, p.partitionId))) this.forgetLed(p.topic, p.partitionId, true);
    }
    return leases;
  }

  async releasePartitionLease(topic: string, partitionId: number, agentId: string): Promise<void> {
    this.forgetLed(topic, partitionId, true);
    await this.inner.releasePartitionLease(topic, partitionId, agentId);
  }

  async releasePartitionLeases(agentId: string, partitions: Array<{ topic: string; partitionId: number }>): Promise<void> {
    for (const p of partitions) this.forgetLed(p.topic, p.partitionId, true);
    await this.inner.releasePartitionLeases(agentId, partitions);
  }

  listPartitionLeases(topic?: string): Promise<LeaseRecord[]> {
    return this.inner.listPartitionLeases(topic);
  }
}

/** The indexed segment holding `offset`; undefined if the index says none exists there; null if the
 * index does not cover it. */
function lookup(index: SegmentIndex | undefined, offset: number): SegmentRecord | undefined | null {
  if (!index || offset < index.from || offset >= index.next) return null;
  const segs = index.segments;
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segs[mid]!.baseOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  const s = segs[lo]!;
  return s.baseOffset <= offset && offset <= s.endOffset ? s : undefined;
}

/** An index from segments in offset order, keeping the longest contiguous run that ends with the last. */
function buildIndex(segments: SegmentRecord[]): SegmentIndex | undefined {
  if (segments.length === 0) return undefined;
  let start = segments.length - 1;
  while (start > 0 && segments[start - 1]!.endOffset + 1 === segments[start]!.baseOffset) start--;
  const run = segments.slice(start).map((s) => freeze(s));
  return { segments: run, from: run[0]!.baseOffset, next: run[run.length - 1]!.endOffset + 1 };
}
