// One classic consumer group: members, generation, protocol, leader and the rebalance protocol
// (JoinGroup → SyncGroup → Stable), after Kafka's GroupMetadata and classic GroupCoordinator. Every
// operation is synchronous and does no I/O; answers that must wait (a JoinGroup until the join phase
// completes, a follower's SyncGroup until the leader's assignment is stored) are callbacks completed
// later. Writes go out through `deps.persist` as a record to save plus what to do once it is saved, so
// a state change that must be durable (assignment → Stable, last member gone → Empty, a static member
// replaced) happens only after its write. Timers (session, rebalance, initial delay, pending sync) come
// from `deps.timers`.
import { randomUUID } from 'node:crypto';
import { ErrorCode, KafkaError, decodeSubscription, type ErrorCodeValue } from '../../protocol/index.js';
import type { GroupRecord } from '../../metadata/types.js';
import type { Logger } from '../logger.js';
import { transition, type GroupState, type GroupStateName } from './state.js';
import type { TimerHandle, Timers } from './timers.js';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';
const EMPTY = Buffer.alloc(0);

export interface GroupConfig {
  /** group.initial.rebalance.delay.ms */
  initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** How long a new member's first JoinGroup may wait (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
}

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResponseMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: ErrorCodeValue;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** Every member with its metadata for the chosen protocol: for the leader only. */
  members: JoinResponseMember[];
  skipAssignment: boolean;
}

export interface SyncResult {
  errorCode: ErrorCodeValue;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface JoinParams {
  /** '' on a first join. */
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  /** JoinGroup v4+: a first join gets MEMBER_ID_REQUIRED and must come back with the id. */
  requireKnownMemberId: boolean;
  reason?: string | null;
}

export interface SyncParams {
  memberId: string;
  groupInstanceId: string | null;
  generationId: number;
  /** v5+; null = not checked. */
  protocolType: string | null;
  protocolName: string | null;
  /** The leader's assignment by member id (ignored for followers). */
  assignments: Map<string, Buffer>;
}

export interface LeaveMember {
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveResult {
  errorCode: ErrorCodeValue;
  members: Array<LeaveMember & { errorCode: ErrorCodeValue }>;
}

export interface MemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  metadata: Buffer;
  assignment: Buffer;
}

export interface GroupDescription {
  state: GroupStateName;
  protocolType: string;
  /** The chosen protocol while Stable, else ''. */
  protocolData: string;
  generationId: number;
  leaderId: string | null;
  members: MemberDescription[];
}

/** A write the group needs; `done` runs (synchronously, with the error if any) once it finished. */
export interface PersistRequest {
  record: GroupRecord;
  reason: string;
  done(err?: unknown): void;
}

export interface GroupDeps {
  readonly timers: Timers;
  readonly config: GroupConfig;
  readonly log: Logger;
  persist(request: PersistRequest): void;
  /** Member id generator (tests make it deterministic). */
  newMemberId?(prefix: string): string;
  /** After every state change (metrics: rebalances). */
  onTransition?(groupId: string, from: GroupStateName, to: GroupStateName): void;
}

/** What a member looks like in consumer_groups.members (binary fields base64). */
export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: string[];
  /** Metadata for the chosen protocol (the consumer subscription), base64. */
  subscription: string;
  assignment: string;
}

class Member {
  awaitingJoin: ((r: JoinResult) => void) | null = null;
  awaitingSync: ((r: SyncResult) => void) | null = null;
  /** Joined but not yet part of a completed join phase: expired by the new-member join timeout. */
  isNew = false;
  assignment: Buffer = EMPTY;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: Protocol[],
  ) {}

  metadata(protocolName: string | null): Buffer {
    if (protocolName === null) return EMPTY;
    return this.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY;
  }

  /** Same protocols, same order, same metadata bytes. */
  matches(protocols: Protocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i].name && p.metadata.equals(this.protocols[i].metadata));
  }

  /** The first of its protocols (in its order of preference) that every member supports. */
  vote(candidates: Set<string>): string | undefined {
    return this.protocols.find((p) => candidates.has(p.name))?.name;
  }
}

function joinError(memberId: string, errorCode: ErrorCodeValue): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [], skipAssignment: false };
}

function syncError(errorCode: ErrorCodeValue): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** The error a client gets when a group write failed: retriable, so it finds the coordinator again;
 * but a value the store refuses (a group id too long) keeps its non-retriable code: retrying cannot help. */
export function persistErrorCode(err: unknown): ErrorCodeValue {
  // NOT_COORDINATOR: the shard's lease moved (the store refused a stale epoch); the client looks again.
  if (err instanceof KafkaError && err.code === ErrorCode.NOT_COORDINATOR) return ErrorCode.NOT_COORDINATOR;
  return err instanceof KafkaError && !err.retriable ? err.code : ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

export class ClassicGroup {
  private st: GroupState = { kind: 'Empty' };
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  private readonly members = new Map<string, Member>();
  /** group.instance.id → member id */
  private readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet. */
  private readonly pendingMembers = new Set<string>();
  /** Protocol name → number of members supporting it. */
  private readonly supportedProtocols = new Map<string, number>();
  private numMembersAwaitingJoin = 0;
  /** Topics the members subscribe to (consumer protocol), null when unknown. */
  private subscribedTopics: Set<string> | null = null;
  private readonly timerHandles = new Map<string, TimerHandle>();
  /** When the group last became Empty (offsets.retention.minutes counts from here for empty groups). */
  emptySinceMs: number;

  constructor(
    readonly groupId: string,
    private readonly deps: GroupDeps,
  ) {
    this.emptySinceMs = deps.timers.now();
  }

  /**
   * A group read back from the store: Empty with its last generation and protocol. Its members are not
   * restored; live ones rejoin (their old member id gets UNKNOWN_MEMBER_ID).
   */
  static fromRecord(record: GroupRecord, deps: GroupDeps): ClassicGroup {
    const g = new ClassicGroup(record.groupId, deps);
    g.generationId = record.generation;
    g.protocolType = record.protocolType;
    g.protocolName = record.protocolName;
    // Empty since its last write at the latest (a group with only offsets reads as written at its newest
    // commit; offset expiry ignores this for such simple-consumer groups).
    g.emptySinceMs = record.updatedAt;
    return g;
  }

  get state(): GroupState {
    return this.st;
  }

  get stateName(): GroupStateName {
    return this.st.kind;
  }

  get size(): number {
    return this.members.size;
  }

  is(kind: GroupStateName): boolean {
    return this.st.kind === kind;
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  memberIds(): string[] {
    return [...this.members.keys()];
  }

  private transitionTo(next: GroupState): void {
    const from = this.st.kind;
    this.st = transition(this.groupId, this.st, next);
    if (next.kind === 'Empty') this.emptySinceMs = this.deps.timers.now();
    this.deps.log.debug({ group: this.groupId, from, to: next.kind, generation: this.generationId }, 'group state change');
    this.deps.onTransition?.(this.groupId, from, next.kind);
  }

  // ---- timers -------------------------------------------------------------------------------------

  private schedule(key: string, ms: number, fn: () => void): void {
    this.cancel(key);
    const handle = this.deps.timers.setTimeout(() => {
      if (this.timerHandles.get(key) !== handle) return;
      this.timerHandles.delete(key);
      fn();
    }, ms);
    this.timerHandles.set(key, handle);
  }

  private cancel(key: string): void {
    const h = this.timerHandles.get(key);
    if (h !== undefined) {
      this.deps.timers.clearTimeout(h);
      this.timerHandles.delete(key);
    }
  }

  private scheduleHeartbeat(member: Member, timeoutMs = member.sessionTimeoutMs): void {
    const memberId = member.memberId;
    this.schedule(`hb:${memberId}`, timeoutMs, () => this.expireHeartbeat(memberId));
  }

  // ---- membership ---------------------------------------------------------------------------------

  private nextMemberId(prefix: string): string {
    return this.deps.newMemberId ? this.deps.newMemberId(prefix) : `${prefix}-${randomUUID()}`;
  }

  private addSupported(member: Member, delta: number): void {
    for (const p of member.protocols) this.supportedProtocols.set(p.name, (this.supportedProtocols.get(p.name) ?? 0) + delta);
  }

  private add(member: Member, reply: ((r: JoinResult) => void) | null): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.addSupported(member, 1);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    member.awaitingJoin = reply;
    if (reply !== null) this.numMembersAwaitingJoin++;
    this.pendingMembers.delete(member.memberId);
  }

  private remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member !== undefined) {
      this.members.delete(memberId);
      this.addSupported(member, -1);
      if (member.awaitingJoin !== null) this.numMembersAwaitingJoin--;
      if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
        this.staticMembers.delete(member.groupInstanceId);
      }
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    this.pendingMembers.delete(memberId);
    if (this.st.kind === 'CompletingRebalance' || this.st.kind === 'Stable') this.st.pendingSync.delete(memberId);
    this.cancel(`hb:${memberId}`);
  }

  private updateMember(member: Member, protocols: Protocol[], rebalanceTimeoutMs: number, sessionTimeoutMs: number, reply: ((r: JoinResult) => void) | null): void {
    this.addSupported(member, -1);
    member.protocols = protocols;
    this.addSupported(member, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (reply !== null && member.awaitingJoin === null) this.numMembersAwaitingJoin++;
    else if (reply === null && member.awaitingJoin !== null) this.numMembersAwaitingJoin--;
    member.awaitingJoin = reply;
  }

  private completeJoinFuture(member: Member, result: JoinResult): boolean {
    const reply = member.awaitingJoin;
    if (reply === null) return false;
    member.awaitingJoin = null;
    this.numMembersAwaitingJoin--;
    reply(result);
    return true;
  }

  private completeSyncFuture(member: Member, result: SyncResult): boolean {
    const reply = member.awaitingSync;
    if (reply === null) return false;
    member.awaitingSync = null;
    reply(result);
    return true;
  }

  /** Static membership: the member id now bound to the instance id replaces the old one (Kafka's replaceStaticMember). */
  private replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): Member {
    const member = this.members.get(oldMemberId);
    if (member === undefined) throw new Error(`group ${this.groupId}: no member ${oldMemberId} to replace`);
    // The old instance may still be waiting on a join or sync: it is fenced right away.
    this.completeJoinFuture(member, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    this.completeSyncFuture(member, syncError(ErrorCode.FENCED_INSTANCE_ID));
    this.cancel(`hb:${oldMemberId}`);
    this.members.delete(oldMemberId);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.st.kind === 'CompletingRebalance' || this.st.kind === 'Stable') {
      if (this.st.pendingSync.delete(oldMemberId)) this.st.pendingSync.add(newMemberId);
    }
    return member;
  }

  private hasAllMembersJoined(): boolean {
    return this.members.size === this.numMembersAwaitingJoin && this.pendingMembers.size === 0;
  }

  /** The largest rebalance timeout of the members: how long a join phase may take. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  private isStaticMemberFenced(groupInstanceId: string | null, memberId: string): boolean {
    if (groupInstanceId === null) return false;
    const existing = this.staticMembers.get(groupInstanceId);
    return existing !== undefined && existing !== memberId;
  }

  /** UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID, or NONE when the member id (and instance id) belong to the group. */
  private validateMember(memberId: string, groupInstanceId: string | null): ErrorCodeValue {
    if (groupInstanceId !== null) {
      const existing = this.staticMembers.get(groupInstanceId);
      if (existing === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (existing !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    return this.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private supportsProtocols(protocolType: string, protocols: Protocol[]): boolean {
    if (this.st.kind === 'Empty') return protocolType !== '' && protocols.length > 0;
    return this.protocolType === protocolType && protocols.some((p) => this.supportedProtocols.get(p.name) === this.members.size);
  }

  /** The protocol every member supports with the most first-choice votes. */
  selectProtocol(): string {
    const candidates = new Set<string>();
    for (const [name, count] of this.supportedProtocols) if (count === this.members.size && count > 0) candidates.add(name);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      if (v !== undefined) votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    let best: string | undefined;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    if (best === undefined) throw new Error(`group ${this.groupId}: no protocol supported by every member`);
    return best;
  }

  private computeSubscribedTopics(): Set<string> | null {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE) return null;
    if (this.members.size === 0) return new Set();
    if (this.protocolName === null) return null;
    const topics = new Set<string>();
    try {
      for (const m of this.members.values()) {
        for (const t of decodeSubscription(m.metadata(this.protocolName)).subscription.topics) topics.add(t);
      }
    } catch {
      // Unknown subscription format: treated as subscribed to everything (OffsetDelete stays safe).
      return null;
    }
    return topics;
  }

  /** Whether OffsetDelete must refuse the topic (an active member subscribes to it). */
  isSubscribedToTopic(topic: string): boolean {
    return this.subscribedTopics !== null ? this.subscribedTopics.has(topic) : this.protocolType === CONSUMER_PROTOCOL_TYPE;
  }

  private currentMemberMetadata(): JoinResponseMember[] {
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata(this.protocolName) }));
  }

  private currentJoinResult(memberId: string, members: JoinResponseMember[], leader = this.leaderId ?? ''): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader,
      memberId,
      members,
      skipAssignment: false,
    };
  }

  // ---- JoinGroup ----------------------------------------------------------------------------------

  join(p: JoinParams, reply: (r: JoinResult) => void): void {
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.deps.config;
    if (p.sessionTimeoutMs < minSessionTimeoutMs || p.sessionTimeoutMs > maxSessionTimeoutMs) {
      return reply(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    if (this.st.kind === 'Dead') return reply(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!this.supportsProtocols(p.protocolType, p.protocols)) return reply(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (p.memberId === '') this.joinNewMember(p, reply);
    else this.joinExistingMember(p, reply);
  }

  private joinNewMember(p: JoinParams, reply: (r: JoinResult) => void): void {
    const newMemberId = this.nextMemberId(p.groupInstanceId ?? p.clientId);
    if (p.groupInstanceId !== null) {
      const existing = this.staticMembers.get(p.groupInstanceId);
      if (existing !== undefined) this.updateStaticMember(p, existing, newMemberId, reply);
      else this.addMemberThenRebalanceOrCompleteJoin(p, newMemberId, reply);
    } else if (p.requireKnownMemberId) {
      // The id is handed out now; the member must come back with it (KIP-394). Until it does, it
      // counts as not joined, and it is forgotten after its session timeout.
      this.pendingMembers.add(newMemberId);
      this.schedule(`hb:${newMemberId}`, p.sessionTimeoutMs, () => this.expireHeartbeat(newMemberId));
      reply(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberThenRebalanceOrCompleteJoin(p, newMemberId, reply);
    }
  }

  private joinExistingMember(p: JoinParams, reply: (r: JoinResult) => void): void {
    const memberId = p.memberId;
    if (this.pendingMembers.has(memberId)) {
      if (p.groupInstanceId !== null) return reply(joinError(memberId, ErrorCode.INVALID_REQUEST));
      return this.addMemberThenRebalanceOrCompleteJoin(p, memberId, reply);
    }
    const err = this.validateMember(memberId, p.groupInstanceId);
    if (err !== ErrorCode.NONE) return reply(joinError(memberId, err));
    const member = this.members.get(memberId)!;
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    switch (this.st.kind) {
      case 'PreparingRebalance':
        return this.updateMemberThenRebalanceOrCompleteJoin(member, p, reply, 'member joining during PreparingRebalance');
      case 'CompletingRebalance':
        if (member.matches(p.protocols)) {
          // It probably missed the join response: the current generation again.
          return reply(this.currentJoinResult(memberId, this.leaderId === memberId ? this.currentMemberMetadata() : []));
        }
        return this.updateMemberThenRebalanceOrCompleteJoin(member, p, reply, 'member metadata changed during CompletingRebalance');
      case 'Stable':
        if (this.leaderId === memberId) {
          // A leader rejoining asks for a new assignment (e.g. topic metadata changed).
          return this.updateMemberThenRebalanceOrCompleteJoin(member, p, reply, 'leader rejoining a Stable group');
        }
        if (!member.matches(p.protocols)) {
          return this.updateMemberThenRebalanceOrCompleteJoin(member, p, reply, 'member metadata changed');
        }
        return reply(this.currentJoinResult(memberId, []));
      case 'Empty':
      case 'Dead':
        return reply(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private addMemberThenRebalanceOrCompleteJoin(p: JoinParams, memberId: string, reply: (r: JoinResult) => void): void {
    const member = new Member(memberId, p.groupInstanceId, p.clientId, p.clientHost, p.rebalanceTimeoutMs, p.sessionTimeoutMs, p.protocolType, p.protocols);
    member.isNew = true;
    if (this.st.kind === 'PreparingRebalance' && this.st.initial) this.st.newMemberAdded = true;
    this.add(member, reply);
    // Its session timeout does not apply until it joined; a stuck first join is bounded separately.
    this.scheduleHeartbeat(member, this.deps.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalanceOrCompleteJoin(`adding member ${memberId}`);
  }

  private updateMemberThenRebalanceOrCompleteJoin(member: Member, p: JoinParams, reply: (r: JoinResult) => void, reason: string): void {
    this.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, reply);
    this.maybePrepareRebalanceOrCompleteJoin(reason);
  }

  /**
   * A static member comes back with a new member id (a restart). In a Stable group whose chosen protocol
   * stays the same it takes over the old member's place and assignment without a rebalance, once that is
   * stored; the old instance is fenced.
   */
  private updateStaticMember(p: JoinParams, oldMemberId: string, newMemberId: string, reply: (r: JoinResult) => void): void {
    const instanceId = p.groupInstanceId!;
    const currentLeader = this.leaderId ?? '';
    const member = this.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    this.scheduleHeartbeat(member);
    const old = { protocols: member.protocols, rebalanceTimeoutMs: member.rebalanceTimeoutMs, sessionTimeoutMs: member.sessionTimeoutMs };
    this.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, reply);
    switch (this.st.kind) {
      case 'Stable': {
        if (this.protocolName !== this.selectProtocol()) {
          return this.maybePrepareRebalanceOrCompleteJoin(`static member ${instanceId} rejoined with other protocols`);
        }
        const generation = this.generationId;
        this.deps.persist({
          record: this.toRecord(),
          reason: `static member ${instanceId} replaced`,
          done: (err) => {
            const still = this.members.get(newMemberId) === member && this.st.kind === 'Stable' && this.generationId === generation;
            if (err !== undefined) {
              this.deps.log.warn({ group: this.groupId, instanceId, err: (err as Error)?.message }, 'storing a replaced static member failed; reverting');
              if (!still) return void this.completeJoinFuture(member, joinError('', persistErrorCode(err)));
              this.updateMember(member, old.protocols, old.rebalanceTimeoutMs, old.sessionTimeoutMs, null);
              const restored = this.replaceStaticMember(instanceId, newMemberId, oldMemberId);
              this.scheduleHeartbeat(restored);
              return void reply(joinError('', persistErrorCode(err)));
            }
            // The old leader id is returned so that a returning leader does not compute a new
            // assignment that a Stable group would not propagate anyway.
            this.completeJoinFuture(member, this.currentJoinResult(newMemberId, [], currentLeader));
          },
        });
        return;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning to the old member id: rebalance so the new id gets a share.
        return this.prepareRebalance(`static member ${instanceId} rejoined during CompletingRebalance`);
      case 'PreparingRebalance':
        return this.maybeCompleteJoinPhase();
      case 'Empty':
      case 'Dead':
        throw new Error(`group ${this.groupId}: static member ${instanceId} known in state ${this.st.kind}`);
    }
  }

  // ---- rebalance ----------------------------------------------------------------------------------

  private canRebalance(): boolean {
    return this.st.kind === 'Stable' || this.st.kind === 'CompletingRebalance' || this.st.kind === 'Empty';
  }

  private maybePrepareRebalanceOrCompleteJoin(reason: string): void {
    if (this.canRebalance()) this.prepareRebalance(reason);
    else this.maybeCompleteJoinPhase();
  }

  /** The join phase ends early once everyone joined, except in the initial (delayed) rebalance. */
  private maybeCompleteJoinPhase(): void {
    if (this.st.kind === 'PreparingRebalance' && !this.st.initial && this.hasAllMembersJoined()) this.completeJoin();
  }

  private prepareRebalance(reason: string): void {
    // Members waiting for the assignment must rejoin instead.
    if (this.st.kind === 'CompletingRebalance') this.resetAndPropagateAssignmentError(ErrorCode.REBALANCE_IN_PROGRESS);
    this.cancel('sync');
    const initial = this.st.kind === 'Empty';
    this.transitionTo({ kind: 'PreparingRebalance', initial, newMemberAdded: false });
    this.deps.log.debug({ group: this.groupId, generation: this.generationId, reason }, 'preparing to rebalance');
    if (initial) {
      const delay = this.deps.config.initialRebalanceDelayMs;
      const remaining = Math.max(this.rebalanceTimeoutMs() - delay, 0);
      this.schedule('join', delay, () => this.tryCompleteInitialRebalance(delay, remaining));
    } else if (this.hasAllMembersJoined()) {
      this.completeJoin();
    } else {
      this.schedule('join', this.rebalanceTimeoutMs(), () => this.completeJoin());
    }
  }

  /** group.initial.rebalance.delay.ms: wait again while new members keep arriving, within the rebalance timeout. */
  private tryCompleteInitialRebalance(delayMs: number, remainingMs: number): void {
    if (this.st.kind !== 'PreparingRebalance') return;
    if (this.st.newMemberAdded && remainingMs !== 0) {
      this.st.newMemberAdded = false;
      const nextDelay = Math.min(this.deps.config.initialRebalanceDelayMs, remainingMs);
      const nextRemaining = Math.max(remainingMs - delayMs, 0);
      this.schedule('join', nextDelay, () => this.tryCompleteInitialRebalance(nextDelay, nextRemaining));
    } else {
      this.completeJoin();
    }
  }

  /** End of the join phase: drop dynamic members that did not rejoin, start the next generation. */
  private completeJoin(): void {
    this.cancel('join');
    if (this.st.kind !== 'PreparingRebalance') return;
    const gone: string[] = [];
    for (const m of this.members.values()) if (m.awaitingJoin === null && m.groupInstanceId === null) gone.push(m.memberId);
    for (const id of gone) this.remove(id);
    if (gone.length > 0) this.deps.log.debug({ group: this.groupId, members: gone }, 'removed members that did not rejoin');

    if (!this.maybeElectNewJoinedLeader() && this.members.size > 0) {
      // Only static members that have not rejoined are left: wait for them (or their session timeout).
      this.schedule('join', this.rebalanceTimeoutMs(), () => this.completeJoin());
      return;
    }
    const st = this.initNextGeneration();
    if (st.kind === 'Empty') {
      this.deps.log.debug({ group: this.groupId, generation: this.generationId }, 'group is empty');
      this.deps.persist({
        record: this.toRecord(),
        reason: 'group empty',
        // Losing this write only leaves the previous generation in the store; no member depends on it.
        done: (err) => {
          if (err !== undefined) this.deps.log.warn({ group: this.groupId, err: (err as Error)?.message }, 'storing the empty group failed');
        },
      });
      return;
    }
    this.deps.log.debug({ group: this.groupId, generation: this.generationId, members: this.members.size, protocol: this.protocolName }, 'join phase complete');
    const leaderMembers = this.currentMemberMetadata();
    for (const m of [...this.members.values()]) {
      this.completeJoinFuture(m, this.currentJoinResult(m.memberId, m.memberId === this.leaderId ? leaderMembers : []));
      this.scheduleHeartbeat(m);
      m.isNew = false;
      st.pendingSync.add(m.memberId);
    }
    const generation = this.generationId;
    this.schedule('sync', this.pendingSyncTimeoutMs(), () => this.expirePendingSync(generation));
  }

  /**
   * How long members have to send SyncGroup after the join phase: the rebalance timeout, but never less
   * than a session timeout. A member may send rebalance timeout 0 (kafkajs's Broker.joinGroup does when
   * the caller passes none; its own broker specs do): with 0 the member would be removed before its
   * SyncGroup could arrive, and answered UNKNOWN_MEMBER_ID. Kafka before 3.x had no such deadline at all
   * (a member that never synced went at its session timeout).
   */
  private pendingSyncTimeoutMs(): number {
    let max = this.rebalanceTimeoutMs();
    for (const m of this.members.values()) max = Math.max(max, m.sessionTimeoutMs);
    return max;
  }

  private maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader !== undefined && leader.awaitingJoin !== null) return true;
    for (const m of this.members.values()) {
      if (m.awaitingJoin !== null) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  private initNextGeneration(): Extract<GroupState, { kind: 'CompletingRebalance' | 'Empty' }> {
    this.generationId++;
    const next: Extract<GroupState, { kind: 'CompletingRebalance' | 'Empty' }> =
      this.members.size > 0 ? { kind: 'CompletingRebalance', pendingSync: new Set() } : { kind: 'Empty' };
    this.protocolName = next.kind === 'Empty' ? null : this.selectProtocol();
    this.subscribedTopics = this.computeSubscribedTopics();
    this.transitionTo(next);
    return next;
  }

  /** Members that got their join response but never sent SyncGroup are removed, and the group rebalances. */
  private expirePendingSync(generation: number): void {
    if (generation !== this.generationId) return;
    if (this.st.kind !== 'CompletingRebalance' && this.st.kind !== 'Stable') return;
    if (this.st.pendingSync.size === 0) return;
    const late = [...this.st.pendingSync];
    for (const id of late) this.remove(id);
    this.deps.log.info({ group: this.groupId, members: late }, 'removed members that did not send SyncGroup in time');
    this.prepareRebalance('pending sync expired');
  }

  private expireHeartbeat(memberId: string): void {
    if (this.st.kind === 'Dead') return;
    if (this.pendingMembers.has(memberId)) {
      this.pendingMembers.delete(memberId);
      this.maybeCompleteJoinPhase();
      return;
    }
    const member = this.members.get(memberId);
    if (member === undefined) return;
    // Members waiting for a join or sync answer are not expected to heartbeat (unless never joined).
    const satisfied = !member.isNew && (member.awaitingJoin !== null || member.awaitingSync !== null);
    if (satisfied) return;
    this.deps.log.info({ group: this.groupId, member: memberId, instanceId: member.groupInstanceId }, 'member session expired, removing it');
    this.removeMemberAndUpdateGroup(member, 'session timeout');
  }

  private removeMemberAndUpdateGroup(member: Member, reason: string): void {
    // A new member may still wait on its first JoinGroup: UNKNOWN_MEMBER_ID makes it retry if alive.
    this.completeJoinFuture(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    // Its SyncGroup may wait too: Kafka reads a connection's next request (this LeaveGroup) only after
    // answering the previous one, we handle them side by side and answer in order, so an unanswered
    // SyncGroup would hold back every later response on that connection.
    this.completeSyncFuture(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    this.remove(member.memberId);
    switch (this.st.kind) {
      case 'Stable':
      case 'CompletingRebalance':
        return this.maybePrepareRebalanceOrCompleteJoin(`${reason}: member ${member.memberId} removed`);
      case 'PreparingRebalance':
        return this.maybeCompleteJoinPhase();
      default:
        return;
    }
  }

  // ---- SyncGroup ----------------------------------------------------------------------------------

  sync(p: SyncParams, reply: (r: SyncResult) => void): void {
    if (this.st.kind === 'Dead') return reply(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const err = this.validateMember(p.memberId, p.groupInstanceId);
    if (err !== ErrorCode.NONE) return reply(syncError(err));
    if (p.generationId !== this.generationId) return reply(syncError(ErrorCode.ILLEGAL_GENERATION));
    if ((p.protocolType !== null && this.protocolType !== null && p.protocolType !== this.protocolType) || (p.protocolName !== null && this.protocolName !== null && p.protocolName !== this.protocolName)) {
      return reply(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const member = this.members.get(p.memberId)!;
    switch (this.st.kind) {
      case 'Empty':
        return reply(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return reply(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'Stable':
        this.st.pendingSync.delete(p.memberId);
        if (this.st.pendingSync.size === 0) this.cancel('sync');
        this.scheduleHeartbeat(member);
        return reply({ errorCode: ErrorCode.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: member.assignment });
      case 'CompletingRebalance': {
        // A repeated SyncGroup replaces the earlier one, which gets no answer of its own.
        if (member.awaitingSync !== null) this.completeSyncFuture(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        member.awaitingSync = reply;
        this.st.pendingSync.delete(p.memberId);
        if (this.st.pendingSync.size === 0) this.cancel('sync');
        if (this.leaderId !== p.memberId) return;
        const assignment = new Map<string, Buffer>();
        for (const id of this.members.keys()) assignment.set(id, p.assignments.get(id) ?? EMPTY);
        const generation = this.generationId;
        this.deps.persist({
          record: this.toRecord({ state: 'Stable', assignment }),
          reason: `assignment of generation ${generation}`,
          done: (err) => {
            // A rebalance (or unload) that started meanwhile has already answered the waiting members.
            if (this.st.kind !== 'CompletingRebalance' || this.generationId !== generation) return;
            if (err !== undefined) {
              this.deps.log.warn({ group: this.groupId, generation, err: (err as Error)?.message }, 'storing the group assignment failed');
              this.resetAndPropagateAssignmentError(persistErrorCode(err));
              this.maybePrepareRebalanceOrCompleteJoin('storing the assignment failed');
              return;
            }
            for (const m of this.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
            const pendingSync = this.st.pendingSync;
            this.transitionTo({ kind: 'Stable', pendingSync });
            this.propagateAssignment(ErrorCode.NONE);
            this.deps.log.debug({ group: this.groupId, generation, members: this.members.size }, 'group stable');
          },
        });
        return;
      }
    }
  }

  private resetAndPropagateAssignmentError(errorCode: ErrorCodeValue): void {
    for (const m of this.members.values()) m.assignment = EMPTY;
    this.propagateAssignment(errorCode);
  }

  private propagateAssignment(errorCode: ErrorCodeValue): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const m of [...this.members.values()]) {
      const answered = this.completeSyncFuture(m, {
        errorCode,
        protocolType: ok ? this.protocolType : null,
        protocolName: ok ? this.protocolName : null,
        assignment: m.assignment,
      });
      // Expirations that fired while the member waited were ignored: expect the next heartbeat from now.
      if (answered) this.scheduleHeartbeat(m);
    }
  }

  // ---- Heartbeat, LeaveGroup ----------------------------------------------------------------------

  heartbeat(memberId: string, groupInstanceId: string | null, generationId: number): ErrorCodeValue {
    if (this.st.kind === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const err = this.validateMember(memberId, groupInstanceId);
    if (err !== ErrorCode.NONE) return err;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (this.st.kind) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.scheduleHeartbeat(this.members.get(memberId)!);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'CompletingRebalance':
      case 'Stable':
        this.scheduleHeartbeat(this.members.get(memberId)!);
        return ErrorCode.NONE;
    }
  }

  leave(members: LeaveMember[]): LeaveResult {
    if (this.st.kind === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const out: LeaveResult['members'] = [];
    for (const lm of members) {
      let errorCode: ErrorCodeValue = ErrorCode.NONE;
      if (lm.memberId === '') {
        // Administrative removal by group.instance.id.
        const id = lm.groupInstanceId !== null ? this.staticMembers.get(lm.groupInstanceId) : undefined;
        if (id !== undefined) this.removeMemberAndUpdateGroup(this.members.get(id)!, 'left the group');
        else errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
      } else if (this.pendingMembers.has(lm.memberId)) {
        this.pendingMembers.delete(lm.memberId);
        this.cancel(`hb:${lm.memberId}`);
        this.maybeCompleteJoinPhase();
      } else {
        errorCode = this.validateMember(lm.memberId, lm.groupInstanceId);
        if (errorCode === ErrorCode.NONE) this.removeMemberAndUpdateGroup(this.members.get(lm.memberId)!, 'left the group');
      }
      out.push({ ...lm, errorCode });
    }
    return { errorCode: ErrorCode.NONE, members: out };
  }

  // ---- offsets, admin -----------------------------------------------------------------------------

  /**
   * Whether an OffsetCommit may be stored. generation -1 from a consumer outside group management is
   * accepted while the group has no members; otherwise member and generation must be current.
   */
  validateOffsetCommit(memberId: string, groupInstanceId: string | null, generationId: number): ErrorCodeValue {
    if (this.st.kind === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generationId < 0 && this.st.kind === 'Empty') return ErrorCode.NONE;
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      const err = this.validateMember(memberId, groupInstanceId);
      if (err !== ErrorCode.NONE) return err;
      if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (this.st.kind !== 'Empty') {
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    if (this.st.kind === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    // A commit shows the member is alive.
    const member = this.members.get(memberId);
    if (member !== undefined && (this.st.kind === 'Stable' || this.st.kind === 'PreparingRebalance')) this.scheduleHeartbeat(member);
    return ErrorCode.NONE;
  }

  validateDelete(): ErrorCodeValue {
    switch (this.st.kind) {
      case 'Dead':
        return ErrorCode.GROUP_ID_NOT_FOUND;
      case 'Empty':
        return ErrorCode.NONE;
      default:
        return ErrorCode.NON_EMPTY_GROUP;
    }
  }

  validateOffsetDelete(): ErrorCodeValue {
    switch (this.st.kind) {
      case 'Dead':
        return ErrorCode.GROUP_ID_NOT_FOUND;
      case 'Empty':
        return ErrorCode.NONE;
      default:
        return this.protocolType === CONSUMER_PROTOCOL_TYPE ? ErrorCode.NONE : ErrorCode.NON_EMPTY_GROUP;
    }
  }

  /**
   * The group stops here (deleted, coordinator moved, agent stopping): waiting members get `errorCode`,
   * timers stop, the state becomes Dead.
   */
  unload(errorCode: ErrorCodeValue): void {
    for (const m of [...this.members.values()]) {
      this.completeJoinFuture(m, joinError(m.memberId, errorCode));
      this.completeSyncFuture(m, syncError(errorCode));
    }
    for (const h of this.timerHandles.values()) this.deps.timers.clearTimeout(h);
    this.timerHandles.clear();
    this.transitionTo({ kind: 'Dead' });
  }

  describe(): GroupDescription {
    const stable = this.st.kind === 'Stable';
    return {
      state: this.st.kind,
      protocolType: this.protocolType ?? '',
      protocolData: stable ? (this.protocolName ?? '') : '',
      generationId: this.generationId,
      leaderId: this.leaderId,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadata(this.protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /** The row for consumer_groups; `assignment` overrides the members' current ones (the leader's, before Stable). */
  toRecord(override: { state?: GroupStateName; assignment?: Map<string, Buffer> } = {}): GroupRecord {
    const members: StoredMember[] = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      protocols: m.protocols.map((p) => p.name),
      subscription: m.metadata(this.protocolName).toString('base64'),
      assignment: (override.assignment?.get(m.memberId) ?? m.assignment).toString('base64'),
    }));
    return {
      groupId: this.groupId,
      state: override.state ?? this.st.kind,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      generation: this.generationId,
      leaderId: this.leaderId,
      members,
      createdAt: 0,
      updatedAt: 0,
    };
  }
}
