// The group coordinator of one agent: serves the groups of the coordinator shards this agent holds the
// lease of (shards.ts), keeps those groups in memory (loaded lazily from the metadata store once the
// shard is ours, created on first join), runs their state machines (group.ts) and performs the writes
// they ask for — group rows through saveGroup, committed offsets through commitOffsets — in order per
// group (write-queue.ts). Every write carries the shard's lease epoch it was decided under; the store
// refuses it once that epoch is stale. Handlers call the methods below; each takes plain values and
// returns response data.
import { isConnectionError } from '../../metadata/errors.js';
import type { CoordinatorFence, MetadataStore, OffsetCommitInput } from '../../metadata/types.js';
import { ErrorCode, KafkaError, type ErrorCodeValue } from '../../protocol/index.js';
import type { BrokerInfo } from '../context.js';
import type { Logger } from '../logger.js';
import {
  ClassicGroup,
  CONSUMER_PROTOCOL_TYPE,
  type GroupConfig,
  type GroupDeps,
  type JoinParams,
  type JoinResult,
  type LeaveMember,
  type LeaveResult,
  type MemberDescription,
  type PersistRequest,
  type SyncParams,
  type SyncResult,
} from './group.js';
import type { CoordinatorShards } from './shards.js';
import type { GroupStateName } from './state.js';
import { systemTimers, type Timers } from './timers.js';
import { GroupWriteQueue } from './write-queue.js';

/** FindCoordinator key types. */
export const COORDINATOR_KEY_GROUP = 0;
export const COORDINATOR_KEY_TRANSACTION = 1;

export type CoordinatorStore = Pick<
  MetadataStore,
  | 'getTopic'
  | 'commitOffsets'
  | 'fetchOffsets'
  | 'deleteOffsets'
  | 'saveGroup'
  | 'getGroup'
  | 'listGroups'
  | 'deleteGroup'
  | 'listGroupsWithOffsetsBefore'
  | 'expireOffsets'
>;

/** What the coordinator needs of the shard leases (CoordinatorShards). */
export type CoordinatorOwnership = Pick<CoordinatorShards, 'shardOf' | 'check' | 'epochOf' | 'coordinatorFor' | 'setListener' | 'start' | 'close' | 'fenced'>;

export interface GroupCoordinatorOptions {
  /** This agent's broker id. */
  nodeId: number;
  /** This agent's id (the holder named in coordinator_leases). */
  agentId: string;
  /** The (cached) metadata store. */
  metadata: CoordinatorStore;
  /** Which coordinator shards this agent holds, and who holds the others. */
  shards: CoordinatorOwnership;
  config: {
    groupInitialRebalanceDelayMs: number;
    groupMinSessionTimeoutMs: number;
    groupMaxSessionTimeoutMs: number;
    /** offset.metadata.max.bytes: Kafka compares it with String.length(), UTF-16 units as in JS. */
    offsetMetadataMaxBytes: number;
  };
  log: Logger;
  timers?: Timers;
  /** Default 5 minutes (Kafka's new-member join timeout). */
  newMemberJoinTimeoutMs?: number;
  /** Member id generator (tests). */
  newMemberId?(prefix: string): string;
  /** After every group state change (metrics). */
  onGroupTransition?(groupId: string, from: string, to: string): void;
}

export interface CommitPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  /** -1 = now (v1 only carries it). */
  commitTimestamp: number;
  committedMetadata: string | null;
}

export interface CommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: Array<{ name: string; partitions: CommitPartition[] }>;
  /** OffsetCommit version: v9+ answers GROUP_ID_NOT_FOUND for an unknown group with a generation. */
  apiVersion: number;
}

export type PartitionErrors = Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: ErrorCodeValue }> }>;

export interface FetchedOffset {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: ErrorCodeValue;
}

export interface FetchOffsetsResult {
  errorCode: ErrorCodeValue;
  topics: Array<{ name: string; partitions: FetchedOffset[] }>;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: GroupStateName;
  groupType: 'classic';
}

export interface DescribedGroup {
  errorCode: ErrorCodeValue;
  groupId: string;
  groupState: GroupStateName;
  protocolType: string;
  protocolData: string;
  generationId: number;
  members: MemberDescription[];
}

export interface OffsetDeleteResult {
  errorCode: ErrorCodeValue;
  topics: PartitionErrors;
}

/** The database unreachable: retriable for clients (raw driver errors of a lost connection count too). */
const isStoreFailure = (err: unknown) => (err instanceof KafkaError ? err.code === ErrorCode.KAFKA_STORAGE_ERROR : isConnectionError(err));

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly loads = new Map<string, Promise<void>>();
  private readonly queue: GroupWriteQueue;
  private readonly timers: Timers;
  private readonly groupDeps: GroupDeps;
  private closed = false;

  /** The shard lease each loaded group was loaded under: its writes carry this fence. */
  private readonly fences = new Map<string, CoordinatorFence>();

  constructor(private readonly opts: GroupCoordinatorOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.queue = new GroupWriteQueue((groupId, offsets, fence) => this.fencedWrite(fence, () => opts.metadata.commitOffsets(groupId, offsets, fence)));
    opts.shards.setListener({ stopShard: (shard, reason) => this.stopShard(shard, reason) });
    const config: GroupConfig = {
      initialRebalanceDelayMs: opts.config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: opts.config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: opts.config.groupMaxSessionTimeoutMs,
      newMemberJoinTimeoutMs: opts.newMemberJoinTimeoutMs ?? 300_000,
    };
    this.groupDeps = {
      timers: this.timers,
      config,
      log: opts.log,
      persist: (req) => this.persist(req),
      newMemberId: opts.newMemberId,
      onTransition: opts.onGroupTransition,
    };
  }

  /** The groups loaded here (those of the shards this agent coordinates), with their states (metrics). */
  loadedGroups(): Array<{ groupId: string; state: string }> {
    return [...this.groups.values()].map((g) => ({ groupId: g.groupId, state: g.stateName }));
  }

  // ---- placement ----------------------------------------------------------------------------------

  /** Takes the coordinator shards intended for this agent and starts the placement cycle. */
  start(): Promise<void> {
    return this.opts.shards.start();
  }

  /** FindCoordinator: the broker coordinating `key` (group id or transactional id: the same shards). */
  async findCoordinator(key: string, keyType: number): Promise<{ errorCode: ErrorCodeValue; broker?: BrokerInfo }> {
    if (keyType !== COORDINATOR_KEY_GROUP && keyType !== COORDINATOR_KEY_TRANSACTION) return { errorCode: ErrorCode.INVALID_REQUEST };
    if (this.closed) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    let broker: BrokerInfo | undefined;
    try {
      broker = await this.opts.shards.coordinatorFor(key);
    } catch {
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    }
    return broker ? { errorCode: ErrorCode.NONE, broker } : { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
  }

  /**
   * NONE and the fence for writes when this agent holds the lease of the group's shard (taking it if
   * the shard is free and intended for us); NOT_COORDINATOR otherwise.
   */
  private async checkCoordinator(groupId: string): Promise<{ code: ErrorCodeValue; fence?: CoordinatorFence }> {
    if (this.closed) return { code: ErrorCode.NOT_COORDINATOR };
    let c;
    try {
      c = await this.opts.shards.check(groupId);
    } catch (err) {
      this.opts.log.warn({ group: groupId, err: (err as Error).message }, 'checking the coordinator shard failed');
      return { code: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    }
    if (!c.ok || this.closed) {
      this.unload(groupId, ErrorCode.NOT_COORDINATOR);
      return { code: ErrorCode.NOT_COORDINATOR };
    }
    return { code: ErrorCode.NONE, fence: { shard: c.shard, agentId: this.opts.agentId, epoch: c.epoch } };
  }

  /** Whether this agent coordinates `groupId` now (listings, offset expiry). */
  private coordinates(groupId: string): boolean {
    return !this.closed && this.opts.shards.epochOf(this.opts.shards.shardOf(groupId)) !== undefined;
  }

  private unload(groupId: string, errorCode: ErrorCodeValue): void {
    const g = this.groups.get(groupId);
    if (g === undefined) return;
    this.groups.delete(groupId);
    this.fences.delete(groupId);
    g.unload(errorCode);
    this.opts.log.info({ group: groupId }, 'group unloaded: another broker coordinates it now');
  }

  /**
   * The shard is no longer ours (handoff, lost or overdue lease, shutdown): its groups stop at once
   * (waiting JoinGroup/SyncGroup answered NOT_COORDINATOR), then their queued writes finish (accepted
   * while the lease is still ours, refused by the store after).
   */
  private async stopShard(shard: number, reason: string): Promise<void> {
    const ids: string[] = [];
    for (const [groupId, g] of [...this.groups]) {
      if (this.opts.shards.shardOf(groupId) !== shard) continue;
      this.groups.delete(groupId);
      this.fences.delete(groupId);
      g.unload(ErrorCode.NOT_COORDINATOR);
      ids.push(groupId);
    }
    if (ids.length > 0) this.opts.log.info({ shard, groups: ids.length, reason }, 'groups unloaded: no longer coordinating their shard');
    await this.queue.drainWhere((groupId) => this.opts.shards.shardOf(groupId) === shard);
  }

  /** A fenced write refused with NOT_COORDINATOR: the shard is lost, stop serving it now. */
  private async fencedWrite<T>(fence: CoordinatorFence | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (fence !== undefined && err instanceof KafkaError && err.code === ErrorCode.NOT_COORDINATOR) this.opts.shards.fenced(fence.shard, fence.epoch);
      throw err;
    }
  }

  // ---- loading and persistence --------------------------------------------------------------------

  /**
   * The in-memory group, loaded from the store on first use (after any write still queued for it, so
   * a deleted group is not read back). `create`: a new Empty group when there is none.
   */
  private async group(groupId: string, create: boolean, fence: CoordinatorFence | undefined): Promise<ClassicGroup | undefined> {
    // Loaded under an older lease of the shard (it was lost and taken again meanwhile): read it again.
    const held = this.fences.get(groupId);
    if (held !== undefined && fence !== undefined && held.epoch !== fence.epoch) this.unload(groupId, ErrorCode.NOT_COORDINATOR);
    let g = this.groups.get(groupId);
    if (g !== undefined) return g;
    // Still ours? (The shard may have been handed off while the request waited.)
    const current = () => !this.closed && (fence === undefined || this.opts.shards.epochOf(fence.shard) === fence.epoch);
    let loading = this.loads.get(groupId);
    if (loading === undefined) {
      loading = this.queue
        .run(groupId, async () => {
          const record = await this.opts.metadata.getGroup(groupId);
          if (record !== undefined && !this.groups.has(groupId) && current()) this.adopt(groupId, ClassicGroup.fromRecord(record, this.groupDeps), fence);
        })
        .finally(() => this.loads.delete(groupId));
      this.loads.set(groupId, loading);
    }
    try {
      await loading;
    } catch (err) {
      throw this.storeError(err, 'loading the group failed', groupId);
    }
    if (!current()) throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'no longer coordinating this group');
    g = this.groups.get(groupId);
    if (g === undefined && create) {
      g = new ClassicGroup(groupId, this.groupDeps);
      this.adopt(groupId, g, fence);
    }
    return g;
  }

  private adopt(groupId: string, g: ClassicGroup, fence: CoordinatorFence | undefined): void {
    this.groups.set(groupId, g);
    if (fence !== undefined) this.fences.set(groupId, fence);
  }

  private persist(req: PersistRequest): void {
    const groupId = req.record.groupId;
    // The fence of the group as loaded now: a group unloaded since (its shard left us) writes nothing.
    const fence = this.fences.get(groupId);
    if (fence === undefined && this.groups.get(groupId) === undefined) {
      req.done(new KafkaError(ErrorCode.NOT_COORDINATOR, 'no longer coordinating this group'));
      return;
    }
    this.queue.run(groupId, () => this.fencedWrite(fence, () => this.opts.metadata.saveGroup(req.record, [], fence))).then(
      () => req.done(),
      (err: unknown) => req.done(err ?? new Error('saveGroup failed')),
    );
  }

  /** A store failure as the KafkaError a group API returns: COORDINATOR_NOT_AVAILABLE only for a lost database. */
  private storeError(err: unknown, what: string, groupId: string): KafkaError {
    if (isStoreFailure(err)) {
      this.opts.log.warn({ group: groupId, err: (err as Error)?.message }, what);
      return new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, what, { cause: err });
    }
    if (err instanceof KafkaError) return err;
    // A statement the database refused fails the same way when retried: not COORDINATOR_NOT_AVAILABLE,
    // on which librdkafka holds a commit until session.timeout.ms waiting for another coordinator.
    this.opts.log.error({ group: groupId, err }, what);
    return new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, what, { cause: err });
  }

  // ---- rebalance protocol -------------------------------------------------------------------------

  async joinGroup(p: JoinParams & { groupId: string }): Promise<JoinResult> {
    const fail = (errorCode: ErrorCodeValue): JoinResult => ({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: p.memberId, members: [], skipAssignment: false });
    if (p.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    const coord = await this.checkCoordinator(p.groupId);
    if (coord.code !== ErrorCode.NONE) return fail(coord.code);
    let group: ClassicGroup | undefined;
    try {
      group = await this.group(p.groupId, p.memberId === '', coord.fence);
    } catch (err) {
      return fail(this.storeError(err, 'loading the group failed', p.groupId).code);
    }
    // A member id for a group that does not exist (e.g. after the group was deleted).
    if (group === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    return new Promise<JoinResult>((resolve) => group.join(p, resolve));
  }

  async syncGroup(p: SyncParams & { groupId: string }): Promise<SyncResult> {
    const fail = (errorCode: ErrorCodeValue): SyncResult => ({ errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    if (p.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    const coord = await this.checkCoordinator(p.groupId);
    if (coord.code !== ErrorCode.NONE) return fail(coord.code);
    let group: ClassicGroup | undefined;
    try {
      group = await this.group(p.groupId, false, coord.fence);
    } catch (err) {
      return fail(this.storeError(err, 'loading the group failed', p.groupId).code);
    }
    if (group === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    return new Promise<SyncResult>((resolve) => group.sync(p, resolve));
  }

  async heartbeat(p: { groupId: string; memberId: string; groupInstanceId: string | null; generationId: number }): Promise<ErrorCodeValue> {
    if (p.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const coord = await this.checkCoordinator(p.groupId);
    if (coord.code !== ErrorCode.NONE) return coord.code;
    const group = await this.group(p.groupId, false, coord.fence);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    return group.heartbeat(p.memberId, p.groupInstanceId, p.generationId);
  }

  async leaveGroup(groupId: string, members: LeaveMember[]): Promise<LeaveResult> {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const coord = await this.checkCoordinator(groupId);
    if (coord.code !== ErrorCode.NONE) return { errorCode: coord.code, members: [] };
    const group = await this.group(groupId, false, coord.fence);
    if (group === undefined) {
      return { errorCode: ErrorCode.NONE, members: members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    }
    return group.leave(members);
  }

  // ---- offsets ------------------------------------------------------------------------------------

  async commitOffsets(p: CommitParams): Promise<PartitionErrors> {
    const out: PartitionErrors = p.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((q) => ({ partitionIndex: q.partitionIndex, errorCode: ErrorCode.NONE as ErrorCodeValue })),
    }));
    const setAll = (code: ErrorCodeValue, only?: (ti: number, pi: number) => boolean) => {
      out.forEach((t, ti) => t.partitions.forEach((q, pi) => {
        if (only === undefined || only(ti, pi)) q.errorCode = code;
      }));
    };
    // The store refuses empty group ids (Kafka would accept them for offsets).
    if (p.groupId === '') return setAll(ErrorCode.INVALID_GROUP_ID), out;
    const coord = await this.checkCoordinator(p.groupId);
    if (coord.code !== ErrorCode.NONE) return setAll(coord.code), out;

    // Unknown topics and partitions first (as Kafka filters them before the group is consulted).
    const known = await Promise.all(
      p.topics.map(async (t) => {
        try {
          return (await this.opts.metadata.getTopic(t.name))?.partitionCount ?? -1;
        } catch (err) {
          throw this.storeError(err, 'reading topics for OffsetCommit failed', p.groupId);
        }
      }),
    );
    const valid: Array<[number, number]> = [];
    p.topics.forEach((t, ti) =>
      t.partitions.forEach((q, pi) => {
        if (q.partitionIndex < 0 || q.partitionIndex >= known[ti]) out[ti].partitions[pi].errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else valid.push([ti, pi]);
      }),
    );
    if (valid.length === 0) return out;

    const group = await this.group(p.groupId, p.generationId < 0, coord.fence);
    const isValid = (ti: number, pi: number) => out[ti].partitions[pi].errorCode === ErrorCode.NONE;
    if (group === undefined) {
      // A generation for a group that does not exist: a member of a deleted or expired group.
      setAll(p.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION, isValid);
      return out;
    }
    const err = group.validateOffsetCommit(p.memberId, p.groupInstanceId, p.generationId);
    if (err !== ErrorCode.NONE) {
      setAll(err, isValid);
      return out;
    }
    const offsets: OffsetCommitInput[] = [];
    const written: Array<[number, number]> = [];
    for (const [ti, pi] of valid) {
      const q = p.topics[ti].partitions[pi];
      const metadata = q.committedMetadata ?? '';
      if (metadata.length > this.opts.config.offsetMetadataMaxBytes) {
        out[ti].partitions[pi].errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        continue;
      }
      // Any offset is stored, negative ones included, as Kafka does: kafkajs resets a group by
      // committing -2 / -1 (earliest / latest) and resolves them when it reads them back.
      offsets.push({
        topic: p.topics[ti].name,
        partitionId: q.partitionIndex,
        offset: q.committedOffset,
        leaderEpoch: q.committedLeaderEpoch >= 0 ? q.committedLeaderEpoch : -1,
        metadata,
        commitTimestamp: q.commitTimestamp >= 0 ? q.commitTimestamp : undefined,
      });
      written.push([ti, pi]);
    }
    if (offsets.length === 0) return out;
    try {
      await this.queue.commit(p.groupId, offsets, coord.fence);
    } catch (e) {
      const code = this.storeError(e, 'committing offsets failed', p.groupId).code;
      for (const [ti, pi] of written) out[ti].partitions[pi].errorCode = code;
    }
    return out;
  }

  /**
   * OffsetFetch for one group: the requested partitions (offset -1 where nothing is committed), or every
   * committed partition when `topics` is null. Without transactions every offset is stable.
   */
  async fetchOffsets(groupId: string, topics: Array<{ name: string; partitionIndexes: number[] }> | null): Promise<FetchOffsetsResult> {
    const coord = await this.checkCoordinator(groupId);
    if (coord.code !== ErrorCode.NONE) return { errorCode: coord.code, topics: [] };
    const none = (partitionIndex: number): FetchedOffset => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE });
    if (groupId === '') return { errorCode: ErrorCode.NONE, topics: (topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map(none) })) };
    let rows;
    try {
      rows = topics === null
        ? await this.opts.metadata.fetchOffsets(groupId)
        : await this.opts.metadata.fetchOffsets(groupId, topics.flatMap((t) => t.partitionIndexes.filter((i) => i >= 0).map((partitionId) => ({ topic: t.name, partitionId }))));
    } catch (err) {
      return { errorCode: this.storeError(err, 'fetching offsets failed', groupId).code, topics: [] };
    }
    const found = (r: (typeof rows)[number]): FetchedOffset => ({
      partitionIndex: r.partitionId,
      committedOffset: r.offset,
      committedLeaderEpoch: r.leaderEpoch,
      metadata: r.metadata ?? '',
      errorCode: ErrorCode.NONE,
    });
    if (topics === null) {
      const byTopic = new Map<string, FetchedOffset[]>();
      for (const r of rows) {
        let list = byTopic.get(r.topic);
        if (list === undefined) byTopic.set(r.topic, (list = []));
        list.push(found(r));
      }
      return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
    }
    const index = new Map(rows.map((r) => [`${r.topic}\u0000${r.partitionId}`, r]));
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((i) => {
          const r = index.get(`${t.name}\u0000${i}`);
          return r ? found(r) : none(i);
        }),
      })),
    };
  }

  // ---- admin --------------------------------------------------------------------------------------

  /** ListGroups: the groups this node coordinates, in memory or stored. Filters are case-insensitive. */
  async listGroups(statesFilter: string[] = [], typesFilter: string[] = []): Promise<{ errorCode: ErrorCodeValue; groups: ListedGroup[] }> {
    if (this.closed) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    let stored;
    try {
      stored = await this.opts.metadata.listGroups();
    } catch (err) {
      return { errorCode: this.storeError(err, 'listing groups failed', '*').code, groups: [] };
    }
    const mine = (groupId: string) => this.coordinates(groupId);
    const listed = new Map<string, ListedGroup>();
    for (const r of stored) {
      if (!mine(r.groupId)) continue;
      listed.set(r.groupId, { groupId: r.groupId, protocolType: r.protocolType ?? '', groupState: 'Empty', groupType: 'classic' });
    }
    for (const g of this.groups.values()) {
      if (g.is('Dead') || !mine(g.groupId)) continue;
      listed.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.stateName, groupType: 'classic' });
    }
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(typesFilter.map((s) => s.toLowerCase()));
    const groups = [...listed.values()]
      .filter((g) => (states.size === 0 || states.has(g.groupState.toLowerCase())) && (types.size === 0 || types.has(g.groupType)))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { errorCode: ErrorCode.NONE, groups };
  }

  /** DescribeGroups for one group; an unknown group is reported as Dead without error (v0–5). */
  async describeGroup(groupId: string): Promise<DescribedGroup> {
    const dead = (errorCode: ErrorCodeValue): DescribedGroup => ({ errorCode, groupId, groupState: 'Dead', protocolType: '', protocolData: '', generationId: -1, members: [] });
    const coord = await this.checkCoordinator(groupId);
    if (coord.code !== ErrorCode.NONE) return dead(coord.code);
    let group: ClassicGroup | undefined;
    try {
      group = await this.group(groupId, false, coord.fence);
    } catch (err) {
      return dead((err as KafkaError).code ?? ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    if (group === undefined) return dead(ErrorCode.NONE);
    const d = group.describe();
    return { errorCode: ErrorCode.NONE, groupId, groupState: d.state, protocolType: d.protocolType, protocolData: d.protocolData, generationId: d.generationId, members: d.members };
  }

  /** DeleteGroups for one group: only an Empty group goes; its offsets go with it. */
  async deleteGroup(groupId: string): Promise<ErrorCodeValue> {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const coord = await this.checkCoordinator(groupId);
    if (coord.code !== ErrorCode.NONE) return coord.code;
    let group: ClassicGroup | undefined;
    try {
      group = await this.group(groupId, false, coord.fence);
    } catch (err) {
      return (err as KafkaError).code ?? ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    if (group === undefined) return ErrorCode.GROUP_ID_NOT_FOUND;
    const err = group.validateDelete();
    if (err !== ErrorCode.NONE) return err;
    group.unload(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (this.groups.get(groupId) === group) {
      this.groups.delete(groupId);
      this.fences.delete(groupId);
    }
    try {
      await this.queue.run(groupId, () => this.fencedWrite(coord.fence, () => this.opts.metadata.deleteGroup(groupId, coord.fence)));
    } catch (e) {
      return this.storeError(e, 'deleting the group failed', groupId).code;
    }
    this.opts.log.info({ group: groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  /** OffsetDelete: offsets of topics no active member subscribes to. */
  async deleteOffsets(groupId: string, topics: Array<{ name: string; partitions: number[] }>): Promise<OffsetDeleteResult> {
    const fail = (errorCode: ErrorCodeValue): OffsetDeleteResult => ({ errorCode, topics: [] });
    if (groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    const coord = await this.checkCoordinator(groupId);
    if (coord.code !== ErrorCode.NONE) return fail(coord.code);
    let group: ClassicGroup | undefined;
    let known: number[];
    try {
      [group, known] = await Promise.all([
        this.group(groupId, false, coord.fence),
        Promise.all(topics.map(async (t) => (await this.opts.metadata.getTopic(t.name))?.partitionCount ?? -1)),
      ]);
    } catch (err) {
      return fail(this.storeError(err, 'OffsetDelete failed', groupId).code);
    }
    if (group === undefined) return fail(ErrorCode.GROUP_ID_NOT_FOUND);
    const groupErr = group.validateOffsetDelete();
    if (groupErr !== ErrorCode.NONE) return fail(groupErr);
    const active = !group.is('Empty');
    const eligible: Array<{ topic: string; partitionId: number }> = [];
    const out: PartitionErrors = topics.map((t, ti) => ({
      name: t.name,
      partitions: t.partitions.map((partitionIndex) => {
        let errorCode: ErrorCodeValue = ErrorCode.NONE;
        if (partitionIndex < 0 || partitionIndex >= known[ti]) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (active && group.isSubscribedToTopic(t.name)) errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
        else eligible.push({ topic: t.name, partitionId: partitionIndex });
        return { partitionIndex, errorCode };
      }),
    }));
    if (eligible.length > 0) {
      try {
        await this.queue.run(groupId, () => this.fencedWrite(coord.fence, () => this.opts.metadata.deleteOffsets(groupId, eligible, coord.fence)));
      } catch (err) {
        return fail(this.storeError(err, 'deleting offsets failed', groupId).code);
      }
    }
    return { errorCode: ErrorCode.NONE, topics: out };
  }

  // ---- offset expiry ------------------------------------------------------------------------------

  /**
   * Kafka's offsets.retention.minutes, for the groups this node coordinates. An offset goes once it was
   * committed more than `retentionMs` ago and either its group has been Empty for that long, or it
   * belongs to simple consumers (a group without protocol type), or the group is active with the
   * consumer protocol and no member subscribes to the offset's topic (KIP-496). An Empty group whose
   * offsets are all gone is deleted.
   * Offsets of active groups' subscribed topics never expire.
   */
  async expireOffsets(retentionMs: number): Promise<{ offsets: number; groups: number }> {
    const total = { offsets: 0, groups: 0 };
    if (this.closed) return total;
    const cutoff = Math.max(0, this.timers.now() - retentionMs);
    const candidates = await this.opts.metadata.listGroupsWithOffsetsBefore(cutoff);
    for (const groupId of candidates) {
      if (this.closed) break;
      if (!this.coordinates(groupId)) continue;
      try {
        const r = await this.expireGroupOffsets(groupId, cutoff);
        total.offsets += r.offsets;
        if (r.deleted) total.groups++;
      } catch (err) {
        this.opts.log.warn({ group: groupId, err: (err as Error).message }, 'offset expiry failed; the next check retries');
      }
    }
    if (total.offsets > 0 || total.groups > 0) this.opts.log.info(total, 'expired committed offsets');
    return total;
  }

  private async expireGroupOffsets(groupId: string, cutoff: number): Promise<{ offsets: number; deleted: boolean }> {
    const none = { offsets: 0, deleted: false };
    const coord = await this.checkCoordinator(groupId);
    if (coord.code !== ErrorCode.NONE) return none;
    const fence = coord.fence;
    const group = await this.group(groupId, false, fence);
    if (group === undefined) return none;
    // Simple consumers' groups (no protocol type: never had members) go offset by offset, by commit
    // age, as in Kafka; other Empty groups once Empty for the retention.
    const simple = group.protocolType === null;
    const emptyLongEnough = () => group.is('Empty') && (simple || group.emptySinceMs < cutoff);
    // Still the loaded group, and still Empty long enough (a member may join during any await).
    const deletable = () => emptyLongEnough() && this.groups.get(groupId) === group;
    let topics: string[] | undefined;
    if (group.is('Empty')) {
      if (!emptyLongEnough()) return none;
    } else if (group.protocolType === CONSUMER_PROTOCOL_TYPE) {
      const stale = (await this.opts.metadata.fetchOffsets(groupId)).filter((o) => o.commitTimestamp < cutoff && !group.isSubscribedToTopic(o.topic));
      topics = [...new Set(stale.map((o) => o.topic))];
      if (topics.length === 0) return none;
    } else {
      return none;
    }
    // In the group's write order: a commit queued before this runs first (and is then too new to go).
    return this.queue.run(groupId, async () => {
      const offsets = await this.fencedWrite(fence, () => this.opts.metadata.expireOffsets(groupId, cutoff, topics, fence));
      if (!deletable() || (await this.opts.metadata.fetchOffsets(groupId)).length > 0 || !deletable()) return { offsets, deleted: false };
      group.unload(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      this.groups.delete(groupId);
      this.fences.delete(groupId);
      await this.fencedWrite(fence, () => this.opts.metadata.deleteGroup(groupId, fence));
      this.opts.log.info({ group: groupId }, 'group deleted: empty and all its offsets expired');
      return { offsets, deleted: true };
    });
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** The state of a group held in memory (tests, benchmarks). */
  inMemoryState(groupId: string): { state: GroupStateName; generationId: number; members: string[]; leaderId: string | null } | undefined {
    const g = this.groups.get(groupId);
    return g && { state: g.stateName, generationId: g.generationId, members: g.memberIds(), leaderId: g.leaderId };
  }

  /**
   * Stops coordinating: waiting JoinGroup/SyncGroup requests are answered NOT_COORDINATOR (so clients
   * look for the coordinator again instead of holding the shutdown), timers stop, queued writes finish.
   * Call before closing the listener and the metadata store.
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const g of this.groups.values()) g.unload(ErrorCode.NOT_COORDINATOR);
    this.groups.clear();
    this.fences.clear();
    await this.queue.drain();
    // Then hand every shard off: the other agents take them at once instead of after the lease TTL.
    await this.opts.shards.close();
  }
}
