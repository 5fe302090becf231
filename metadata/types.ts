// The metadata store's typed API: everything except record bytes. One implementation serves
// PostgreSQL (node-postgres) and PGlite (embedded); both run the same Drizzle migrations.
// Times are epoch milliseconds. Offsets are JS numbers (Kafka offsets stay far below 2^53).

export interface TopicRecord {
  name: string;
  /** Stable topic id (uuid string) for Metadata v10+ / Fetch v13+. */
  topicId: string;
  partitionCount: number;
  retentionMs: number | null;
  /** Topic-level config overrides (Kafka config names → string values). */
  config: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface PartitionRecord {
  topic: string;
  partitionId: number;
  /** Next offset to be written (Kafka's high watermark / log end offset: all below it are committed). */
  highWatermark: number;
  logStartOffset: number;
  leaderEpoch: number;
  createdAt: number;
  updatedAt: number;
}

/** One chunk of one partition inside a segment object. */
export interface SegmentRecord {
  id: string;
  topic: string;
  partitionId: number;
  baseOffset: number;
  /** Last offset contained (inclusive). */
  endOffset: number;
  recordCount: number;
  sizeBytes: number;
  s3Bucket: string;
  s3Key: string;
  /** Byte position of this partition's chunk inside the object, and its length. */
  bytePosition: number;
  byteLength: number;
  /** Largest record timestamp in the chunk (ListOffsets by time). */
  maxTimestamp: number;
  createdAt: number;
}

export type NewSegment = Omit<SegmentRecord, 'id' | 'createdAt'> & { id?: string };

export interface FlushCommitPartition {
  topic: string;
  partitionId: number;
  /** The lease epoch the committing agent believes it holds. */
  leaseEpoch: number;
  /** The high watermark the commit builds on: must equal the partition's current one. */
  expectedHighWatermark: number;
  /** The new chunk; the new high watermark is segment.endOffset + 1. */
  segment: NewSegment;
}

export type FenceReason = 'lease' | 'offset' | 'unknown_partition';

export interface FencedPartition {
  topic: string;
  partitionId: number;
  reason: FenceReason;
  /** The partition's high watermark at the time of the check (absent for unknown partitions). */
  highWatermark?: number;
  /** The lease as found: its holder and epoch (absent if the partition has no lease row). */
  leaderAgentId?: string;
  leaseEpoch?: number;
}

export type FlushCommitResult = { committed: true } | { committed: false; fenced: FencedPartition[] };

export interface LeaseRecord {
  topic: string;
  partitionId: number;
  leaderAgentId: string;
  /** Database clock, epoch ms. */
  leaseExpiresAt: number;
  epoch: number;
}

/** A coordinator shard's lease (coordinator_leases): who coordinates the groups hashing to `shard`
 * (a negative shard, -1 - node id, is that agent's membership lease: see schema.ts). */
export interface CoordinatorLease {
  shard: number;
  leaderAgentId: string;
  /** Database clock, epoch ms. */
  leaseExpiresAt: number;
  epoch: number;
}

/**
 * What a group or offset write carries when it is made by a coordinator: the shard it believes it holds
 * and the epoch. The write happens only if `agentId` holds that shard's lease with that epoch, unexpired on
 * the database clock, checked in the same statement; otherwise it throws KafkaError(NOT_COORDINATOR) and
 * nothing is written. Writes without a fence are unconditional (tools, tests).
 */
export interface CoordinatorFence {
  shard: number;
  agentId: string;
  epoch: number;
}

export interface AgentRecord {
  agentId: string;
  /** Stable small integer used as the Kafka broker node id. */
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** Advertised listeners, Kafka's `NAME://host:port,...` (null: host:port only). */
  listeners?: string | null;
  lastHeartbeat: number;
  startedAt: number;
}

/** Per partition: how many segment rows it has and what they hold (the admin CLI's overview). */
export interface PartitionSegmentStats {
  topic: string;
  partitionId: number;
  segmentCount: number;
  recordCount: number;
  /** Record batch bytes (uncompressed), summed over the rows. */
  sizeBytes: number;
  /** Bytes of the partition's chunks inside the segment objects (compressed). */
  storedBytes: number;
}

export interface CommittedOffset {
  groupId: string;
  topic: string;
  partitionId: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestamp: number;
}

export type OffsetCommitInput = Omit<CommittedOffset, 'groupId' | 'commitTimestamp'> & {
  commitTimestamp?: number;
};

/** Persisted classic-group state (written by the group coordinator). */
export interface GroupRecord {
  groupId: string;
  state: string;
  protocolType: string | null;
  protocolName: string | null;
  generation: number;
  leaderId: string | null;
  /** Members with their subscription/assignment bytes, base64 where binary. */
  members: unknown[];
  createdAt: number;
  updatedAt: number;
}

export interface CreateTopicInput {
  name: string;
  partitionCount: number;
  retentionMs?: number | null;
  config?: Record<string, string>;
}

export interface MetadataStore {
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;

  // topics & partitions
  createTopic(input: CreateTopicInput): Promise<TopicRecord>;
  getTopic(name: string): Promise<TopicRecord | undefined>;
  getTopicById(topicId: string): Promise<TopicRecord | undefined>;
  listTopics(): Promise<TopicRecord[]>;
  deleteTopic(name: string): Promise<boolean>;
  addPartitions(name: string, newPartitionCount: number): Promise<TopicRecord>;
  updateTopicConfig(name: string, config: Record<string, string>, retentionMs?: number | null): Promise<TopicRecord>;
  getPartitions(topic: string): Promise<PartitionRecord[]>;
  getPartition(topic: string, partitionId: number): Promise<PartitionRecord | undefined>;
  updateHighWatermark(topic: string, partitionId: number, highWatermark: number): Promise<void>;
  /** DeleteRecords: moves log_start_offset forward (never backward, never past the high watermark). */
  setLogStartOffset(topic: string, partitionId: number, offset: number): Promise<number>;

  // segments
  addSegment(segment: NewSegment): Promise<SegmentRecord>;
  findSegmentForOffset(topic: string, partitionId: number, offset: number): Promise<SegmentRecord | undefined>;
  listSegments(topic: string, partitionId: number, fromOffset?: number, limit?: number): Promise<SegmentRecord[]>;
  /** Segment counts and sizes per partition, of one topic or all; partitions without segments are absent (read-only). */
  segmentStats(topic?: string): Promise<PartitionSegmentStats[]>;
  /** The fenced flush commit: all or nothing (see FlushCommitPartition). */
  commitFlush(agentId: string, partitions: FlushCommitPartition[]): Promise<FlushCommitResult>;
  /** Retention: deletes the segment rows entirely below `offset` (end_offset < offset); returns them. */
  deleteSegmentsBefore(topic: string, partitionId: number, offset: number): Promise<SegmentRecord[]>;

  // consumer offsets & groups
  commitOffset(groupId: string, offset: OffsetCommitInput): Promise<void>;
  commitOffsets(groupId: string, offsets: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void>;
  fetchOffsets(groupId: string, partitions?: Array<{ topic: string; partitionId: number }>): Promise<CommittedOffset[]>;
  deleteOffsets(groupId: string, partitions: Array<{ topic: string; partitionId: number }>, fence?: CoordinatorFence): Promise<void>;
  /** Groups with at least one offset committed before `committedBefore` (epoch ms): expiry candidates. */
  listGroupsWithOffsetsBefore(committedBefore: number): Promise<string[]>;
  /** Deletes the group's offsets committed before `committedBefore` (only of `topics` when given); returns how many. */
  expireOffsets(groupId: string, committedBefore: number, topics?: string[], fence?: CoordinatorFence): Promise<number>;
  saveGroup(group: GroupRecord, offsets?: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void>;
  getGroup(groupId: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;
  deleteGroup(groupId: string, fence?: CoordinatorFence): Promise<boolean>;

  // agents & leases (compare-and-set on the database clock)
  /**
   * Registers (or re-registers) an agent. Its node id is kept across re-registrations; a new agent gets
   * `nodeId` if given, else the smallest free one. An explicit `nodeId` held by another agent is taken
   * over only if that agent's last heartbeat is older than `staleAfterMs` (default 30 s).
   * With `liveWithinMs`, an agent id whose row had a heartbeat within that window belongs to a live
   * agent: nothing changes and AgentIdInUseError (INVALID_REQUEST) names it; an older row is taken over
   * (same node id). Without it the row is always taken over (re-registration of this very agent).
   * `takeOverSameAddress`: a live row with our host and port is taken over too (the caller knows the
   * agent that wrote it is dead: its data directory's lock was left behind).
   */
  registerAgent(input: {
    agentId: string;
    host: string;
    port: number;
    rack?: string | null;
    nodeId?: number;
    staleAfterMs?: number;
    liveWithinMs?: number;
    takeOverSameAddress?: boolean;
    /** Advertised listeners, `NAME://host:port,...`. */
    listeners?: string | null;
  }): Promise<AgentRecord>;
  heartbeatAgent(agentId: string): Promise<void>;
  listLiveAgents(maxAgeMs: number): Promise<AgentRecord[]>;
  /** Every registered agent, live or not, by node id (read-only; the admin CLI). */
  listAgents(): Promise<AgentRecord[]>;
  deregisterAgent(agentId: string): Promise<void>;
  /** Takes the agent out of the live set (its heartbeat reads as lapsed) while it keeps its row, node
   * id and leases: the first step of a graceful shutdown, so others place its partitions elsewhere
   * while it hands them off. A later heartbeat fails (register again to come back). */
  retireAgent(agentId: string): Promise<void>;
  /** Records `value` for a cluster-wide setting unless one is recorded; returns the recorded value. */
  agreeClusterSetting(name: string, value: string): Promise<string>;
  /** Ends every unexpired partition and coordinator lease held under `agentId` (a new run of the agent
   * starts: it takes them again with the next epoch, fencing its previous run). Returns the counts. */
  endAgentLeases(agentId: string): Promise<{ partitions: number; shards: number }>;
  /** Tells every agent listening (PostgreSQL LISTEN/NOTIFY, CLUSTER_CHANGES_CHANNEL) that the live set
   * or the leases changed, so they place partitions again now instead of at their next round. No-op on PGlite. */
  announceClusterChange(agentId: string): Promise<void>;
  /** A producer id no agent has handed out before (InitProducerId for idempotent producers). */
  allocateProducerId(): Promise<number>;
  /** Takes a free or expired lease (epoch + 1, even if it was ours) or extends our unexpired one (same epoch);
   * undefined if another agent holds it. Throws UNKNOWN_TOPIC_OR_PARTITION for an unknown partition. */
  acquirePartitionLease(topic: string, partitionId: number, agentId: string, ttlMs: number): Promise<LeaseRecord | undefined>;
  /** Extends our lease of that epoch while it is unexpired; undefined once it expired or was taken over
   * (then acquirePartitionLease, which bumps the epoch). */
  renewPartitionLease(topic: string, partitionId: number, agentId: string, epoch: number, ttlMs: number): Promise<LeaseRecord | undefined>;
  /** Ends our lease now (the next holder gets epoch + 1). */
  releasePartitionLease(topic: string, partitionId: number, agentId: string): Promise<void>;
  /** releasePartitionLease for many partitions in one statement. */
  releasePartitionLeases(agentId: string, partitions: Array<{ topic: string; partitionId: number }>): Promise<void>;
  listPartitionLeases(topic?: string): Promise<LeaseRecord[]>;
  /** acquirePartitionLease for many partitions in one statement; returns the leases obtained (unknown
   * partitions and those held by others are simply absent). */
  acquirePartitionLeases(
    agentId: string,
    partitions: Array<{ topic: string; partitionId: number }>,
    ttlMs: number,
  ): Promise<LeaseRecord[]>;
  /** Extends every unexpired lease the agent holds (epochs unchanged); returns them. A lease missing from
   * the result has expired or been taken over. */
  renewAgentLeases(agentId: string, ttlMs: number): Promise<LeaseRecord[]>;
  /** Coordinator shard leases, as partition leases: a free shard gets epoch 1, our unexpired lease is
   * extended (same epoch), an expired one is taken over (epoch + 1); shards another agent holds are absent. */
  acquireCoordinatorLeases(agentId: string, shards: number[], ttlMs: number): Promise<CoordinatorLease[]>;
  /** Extends every unexpired shard lease of the agent in one statement; a shard missing from the result was lost. */
  renewCoordinatorLeases(agentId: string, ttlMs: number): Promise<CoordinatorLease[]>;
  /** Ends our leases of those epochs now (handoff, shutdown); the next holder gets epoch + 1. */
  releaseCoordinatorLeases(agentId: string, leases: Array<{ shard: number; epoch: number }>): Promise<void>;
  listCoordinatorLeases(): Promise<CoordinatorLease[]>;
  /** Saves idempotent producers' state of partitions whose unexpired lease `agentId` holds at the given
   * epochs (others are skipped; a snapshot of a later epoch or offset is kept); returns how many were saved. */
  saveProducerSnapshots(agentId: string, snapshots: ProducerSnapshotInput[]): Promise<number>;
  /** The last saved producer state of a partition. */
  loadProducerSnapshot(topic: string, partitionId: number): Promise<ProducerSnapshotRecord | undefined>;
  /** The database clock (epoch ms), the clock leases and heartbeats are judged by. */
  now(): Promise<number>;

  // ACLs (src/security/acl.ts codes); both writes notify ACL_CHANGES_CHANNEL in their statement.
  /** Every ACL, ordered by resource type, pattern type, name, principal, host, operation, permission. */
  listAcls(): Promise<AclBinding[]>;
  /** Adds the ACLs (existing ones stay as they are); returns how many were new. */
  createAcls(bindings: readonly AclBinding[]): Promise<number>;
  /** Deletes exactly these ACLs; returns those that existed. */
  deleteAcls(bindings: readonly AclBinding[]): Promise<AclBinding[]>;
}

export type { AclBinding } from '../src/security/acl.js';
import type { AclBinding } from '../src/security/acl.js';

/** Idempotent producers' state of a partition as of `endOffset` (storage/producer-state.ts format). */
export interface ProducerSnapshotRecord {
  leaseEpoch: number;
  endOffset: number;
  state: Buffer;
}

export interface ProducerSnapshotInput extends ProducerSnapshotRecord {
  topic: string;
  partitionId: number;
}
