// Coordinator shards: who may coordinate a group (and, later, a transactional id). Every key belongs to
// one of a fixed number of shards (Kafka's partitionFor: abs(hashCode(key)) % shards, like the
// partitions of __consumer_offsets), and a shard is coordinated only by the agent holding its lease in
// coordinator_leases, with an epoch every group and offset write carries (the store refuses a write
// whose epoch is stale, in the same statement).
//
// Placement: the intended owner of a shard is chosen by rendezvous hashing (placement.ts) over the node
// ids of the agents holding a membership lease (a coordinator_leases row with shard -1 - node id,
// renewed with the shards in one statement): live is judged on the database clock by the same rule as
// ownership, an agent that stops releases its membership with its shards (the others re-place them on
// their next cycle), and a crashed one drops out when its leases expire. The intended owner acquires the lease when it is free or expired (next epoch); an
// owner that is no longer intended (an agent joined, or its own heartbeat lapsed) hands the shard off:
// it stops serving the shard's groups (waiting JoinGroup/SyncGroup are answered NOT_COORDINATOR),
// lets queued writes finish, and releases the lease, so the new owner can take it at once.
//
// Self-fencing: a shard counts as ours only until `validUntil`, measured on our clock from *before*
// the request that last acquired or renewed it, minus a margin; the database expires it at the earliest
// `ttl` after it ran that statement. So an agent that cannot renew stops coordinating before anyone can
// take the shard over, and says so in the log.
//
// The lease machinery here is deliberately narrow (ShardLeaseStore: acquire many, renew all, release,
// list) so that it can later sit on the agent's shared lease machinery (src/leadership.ts).
import type { AgentRecord, CoordinatorLease, MetadataStore } from '../../metadata/types.js';
import type { BrokerInfo } from '../context.js';
import type { Logger } from '../logger.js';
import { coordinatorNodeFor } from './placement.js';
import type { Timers, TimerHandle } from './timers.js';

/** Kafka's offsets.topic.num.partitions default. */
export const DEFAULT_COORDINATOR_SHARDS = 50;

/** Java's String.hashCode over UTF-16 code units (int32 arithmetic). */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The shard of a group id or transactional id: Kafka's Utils.abs(key.hashCode()) % shardCount. */
export function shardFor(key: string, shardCount: number): number {
  return (javaStringHashCode(key) & 0x7fffffff) % shardCount;
}

/** The rendezvous key of a shard (placement over node ids). */
const placementKey = (shard: number) => `coordinator-shard:${shard}`;

/** What the shard leases need from the metadata store. */
export type ShardLeaseStore = Pick<
  MetadataStore,
  'acquireCoordinatorLeases' | 'renewCoordinatorLeases' | 'releaseCoordinatorLeases' | 'listCoordinatorLeases' | 'listLiveAgents' | 'now' | 'announceClusterChange'
>;

export type ShardState =
  | { kind: 'unowned' }
  | { kind: 'acquiring'; attempt: Promise<void> }
  | { kind: 'owned'; epoch: number; validUntil: number }
  | { kind: 'releasing'; epoch: number };

type Kind = ShardState['kind'];

const TRANSITIONS: Record<Kind, readonly Kind[]> = {
  unowned: ['acquiring'],
  acquiring: ['owned', 'unowned'],
  owned: ['owned', 'releasing', 'unowned'],
  releasing: ['unowned'],
};

export class IllegalShardTransition extends Error {}

/** What the coordinator is told: a shard stops being ours (handoff, lost lease, self-fencing, shutdown). */
export interface ShardListener {
  /**
   * Stop serving the shard's groups now (answer waiting requests NOT_COORDINATOR) and resolve once
   * their queued writes have finished (they carry the old epoch: accepted before a release, refused after).
   */
  stopShard(shard: number, reason: string): Promise<void>;
}

export interface ShardOptions {
  agentId: string;
  /** This agent as a broker (advertised address). */
  self: BrokerInfo;
  shardCount: number;
  ttlMs: number;
  store: ShardLeaseStore;
  timers: Timers;
  log: Logger;
  /** Placement and renewal cycle (default: a third of the TTL, at most 1 s). */
  tickMs?: number;
}

/** The cluster as last read: member agents, shard leases, and the database clock at that moment. */
interface View {
  at: number;
  dbNow: number;
  /** Agents holding an unexpired membership lease: the candidates for placement. */
  live: AgentRecord[];
  /** When each live agent's membership lease expires (database clock), by node id. */
  memberUntil: Map<number, number>;
  known: Map<string, AgentRecord>;
  leases: Map<number, CoordinatorLease>;
}

/** The membership lease row of a node. */
export const memberShard = (nodeId: number) => -1 - nodeId;

/** Registered agents are looked up by id for their address over this window (a lease holder whose
 * heartbeat lapsed is still named while its lease lasts). */
const KNOWN_AGENTS_WINDOW_MS = 24 * 3600_000;

/** How often a shard intended for us but leased elsewhere in our view may send us to the database. */
const VIEW_RECHECK_MS = 100;

/** The least time between cycles that announced cluster changes run. */
const TRIGGER_GAP_MS = 100;

export type ShardCheck = { ok: true; shard: number; epoch: number } | { ok: false; shard: number };

export class CoordinatorShards {
  private readonly states = new Map<number, ShardState>();
  private view: View | undefined;
  private refreshing: Promise<View> | undefined;
  private timer: TimerHandle | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  readonly tickMs: number;
  private readonly marginMs: number;
  private listener: ShardListener = { stopShard: async () => {} };
  /** Our membership lease (we are a placement candidate while it is valid). */
  private member: { epoch: number; validUntil: number } | undefined;

  constructor(private readonly opts: ShardOptions) {
    if (!Number.isInteger(opts.shardCount) || opts.shardCount < 1) throw new Error(`coordinator shard count must be a positive integer, got ${opts.shardCount}`);
    this.tickMs = opts.tickMs ?? Math.max(50, Math.min(1000, Math.floor(opts.ttlMs / 3)));
    // Stop a little before our own estimate of the expiry: timers fire late, requests take time.
    this.marginMs = Math.min(2000, Math.floor(opts.ttlMs / 10));
  }

  setListener(listener: ShardListener): void {
    this.listener = listener;
  }

  shardOf(key: string): number {
    return shardFor(key, this.opts.shardCount);
  }

  state(shard: number): ShardState {
    return this.states.get(shard) ?? { kind: 'unowned' };
  }

  private set(shard: number, next: ShardState): void {
    const cur = this.state(shard);
    if (!TRANSITIONS[cur.kind].includes(next.kind)) throw new IllegalShardTransition(`coordinator shard ${shard}: ${cur.kind} cannot become ${next.kind}`);
    if (next.kind === 'unowned') this.states.delete(shard);
    else this.states.set(shard, next);
  }

  /** Shards this agent coordinates right now, with their epochs. */
  owned(): Array<{ shard: number; epoch: number }> {
    const now = this.opts.timers.now();
    const out: Array<{ shard: number; epoch: number }> = [];
    for (const [shard, st] of this.states) if (st.kind === 'owned' && now < st.validUntil) out.push({ shard, epoch: st.epoch });
    return out.sort((a, b) => a.shard - b.shard);
  }

  /** The epoch under which we coordinate `shard` now, or undefined (not ours, or no longer safely ours). */
  epochOf(shard: number): number | undefined {
    const st = this.state(shard);
    if (st.kind !== 'owned') return undefined;
    if (this.opts.timers.now() >= st.validUntil) {
      this.lose(shard, 'self-fenced: shard lease not renewed in time');
      return undefined;
    }
    return st.epoch;
  }

  /** A write under `epoch` was refused by the store: the shard is no longer ours, stop now. */
  fenced(shard: number, epoch: number): void {
    const st = this.state(shard);
    if (st.kind === 'owned' && st.epoch === epoch) this.lose(shard, 'a write was refused: the shard lease is no longer ours');
  }

  // ---- the cluster view ---------------------------------------------------------------------------

  private async refresh(): Promise<View> {
    this.refreshing ??= (async () => {
      const at = this.opts.timers.now();
      const [known, leases, dbNow] = await Promise.all([
        this.opts.store.listLiveAgents(KNOWN_AGENTS_WINDOW_MS),
        this.opts.store.listCoordinatorLeases(),
        this.opts.store.now(),
      ]);
      const byId = new Map(known.map((a) => [a.agentId, a]));
      const live: AgentRecord[] = [];
      const memberUntil = new Map<number, number>();
      for (const l of leases) {
        const agent = byId.get(l.leaderAgentId);
        if (l.shard < 0 && l.leaseExpiresAt > dbNow && agent !== undefined && memberShard(agent.nodeId) === l.shard) {
          live.push(agent);
          memberUntil.set(agent.nodeId, l.leaseExpiresAt);
        }
      }
      const view: View = { at, dbNow, live, memberUntil, known: byId, leases: new Map(leases.filter((l) => l.shard >= 0).map((l) => [l.shard, l])) };
      this.view = view;
      return view;
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async currentView(): Promise<View> {
    const v = this.view;
    if (v !== undefined && this.opts.timers.now() - v.at < this.tickMs) return v;
    return this.refresh();
  }

  /** The database clock now, estimated from the view: its reading advanced by our elapsed time. */
  private dbNowEstimate(view: View): number {
    return view.dbNow + (this.opts.timers.now() - view.at);
  }

  /**
   * The node id that should own `shard` among the agents whose membership is unexpired now (undefined:
   * none live). Judged like the leases, by the estimate: a crashed agent drops out when its membership
   * expires, with its shard leases (one statement renews both), not a cycle later when the view is read.
   */
  intendedOwner(shard: number, view: View): number | undefined {
    const now = this.dbNowEstimate(view);
    return coordinatorNodeFor(placementKey(shard), view.live.filter((a) => (view.memberUntil.get(a.nodeId) ?? 0) > now).map((a) => a.nodeId));
  }

  /** The view's lease of `shard` if it is unexpired now (database clock, advanced by our elapsed time). */
  private liveLease(shard: number, view: View): CoordinatorLease | undefined {
    const lease = view.leases.get(shard);
    if (lease === undefined) return undefined;
    return lease.leaseExpiresAt > this.dbNowEstimate(view) ? lease : undefined;
  }

  /**
   * The view to answer from for `shard`. When the shard is ours to take but the view still shows
   * another agent's lease, that agent may have released it since (a handoff releases at once, and
   * then names us): read the cluster again rather than send clients back and forth between us until
   * our next cycle. At most one read per VIEW_RECHECK_MS while the old owner still holds it.
   */
  private async viewFor(shard: number): Promise<View> {
    const view = await this.currentView();
    const lease = this.liveLease(shard, view);
    const heldElsewhere = lease !== undefined && lease.leaderAgentId !== this.opts.agentId;
    if (!heldElsewhere || this.intendedOwner(shard, view) !== this.opts.self.nodeId) return view;
    if (this.opts.timers.now() - view.at < Math.min(VIEW_RECHECK_MS, this.tickMs)) return view;
    return this.refresh();
  }

  private toBroker(a: AgentRecord): BrokerInfo {
    return a.agentId === this.opts.agentId ? this.opts.self : { nodeId: a.nodeId, host: a.host, port: a.port, rack: a.rack, listeners: a.listeners };
  }

  /**
   * FindCoordinator: the broker coordinating `key` — us while we own its shard, else the holder of the
   * shard's unexpired lease, else the intended owner (who takes the lease when it is asked).
   */
  async coordinatorFor(key: string): Promise<BrokerInfo | undefined> {
    const shard = this.shardOf(key);
    await this.ensureMember();
    if (this.epochOf(shard) !== undefined) return this.opts.self;
    const view = await this.viewFor(shard);
    const lease = this.liveLease(shard, view);
    if (lease !== undefined && lease.leaderAgentId !== this.opts.agentId) {
      const holder = view.known.get(lease.leaderAgentId);
      if (holder !== undefined) return this.toBroker(holder);
    }
    const node = this.intendedOwner(shard, view);
    const agent = view.live.find((a) => a.nodeId === node);
    return agent && this.toBroker(agent);
  }

  /**
   * Whether this agent coordinates the shard of `key` now. The intended owner of an unleased shard
   * takes its lease here (FindCoordinator already sends clients to it), so a handoff costs clients one
   * round trip, not a placement cycle.
   */
  async check(key: string): Promise<ShardCheck> {
    const shard = this.shardOf(key);
    if (this.closed) return { ok: false, shard };
    let epoch = this.epochOf(shard);
    if (epoch !== undefined) return { ok: true, shard, epoch };
    await this.ensureMember();
    epoch = this.epochOf(shard);
    if (epoch !== undefined) return { ok: true, shard, epoch };
    const st = this.state(shard);
    if (st.kind === 'acquiring') {
      await st.attempt;
    } else if (st.kind === 'unowned') {
      const view = await this.viewFor(shard);
      // Not ours to take, or still held (by another agent, or by our previous run: the cycle releases that).
      if (this.member === undefined || this.intendedOwner(shard, view) !== this.opts.self.nodeId || this.liveLease(shard, view) !== undefined) return { ok: false, shard };
      await this.acquire([shard]);
    }
    epoch = this.epochOf(shard);
    return epoch !== undefined ? { ok: true, shard, epoch } : { ok: false, shard };
  }

  /** No membership yet (before the first cycle, or lost): run a cycle now rather than answer from nothing. */
  private async ensureMember(): Promise<void> {
    if (this.member !== undefined || this.closed) return;
    if (this.ticking !== undefined) await this.ticking;
    else if (this.lastTickAt === undefined || this.opts.timers.now() - this.lastTickAt >= this.tickMs) await this.tick();
  }

  // ---- lease changes ------------------------------------------------------------------------------

  /** Takes the leases of `shards` (one statement); each becomes owned or stays unowned. */
  private acquire(shards: number[]): Promise<void> {
    const wanted = shards.filter((s) => this.state(s).kind === 'unowned');
    if (wanted.length === 0 || this.closed) return Promise.resolve();
    const attempt = (async () => {
      const started = this.opts.timers.now();
      let got: CoordinatorLease[] = [];
      try {
        got = await this.opts.store.acquireCoordinatorLeases(this.opts.agentId, wanted, this.opts.ttlMs);
      } catch (err) {
        this.opts.log.warn({ shards: wanted, err: (err as Error).message }, 'acquiring coordinator shard leases failed, will retry');
      }
      const byShard = new Map(got.map((l) => [l.shard, l]));
      for (const shard of wanted) {
        const lease = byShard.get(shard);
        if (lease !== undefined && lease.leaderAgentId === this.opts.agentId && !this.closed) {
          this.set(shard, { kind: 'owned', epoch: lease.epoch, validUntil: started + this.opts.ttlMs - this.marginMs });
          if (this.view) this.view.leases.set(shard, lease);
        } else {
          this.set(shard, { kind: 'unowned' });
          // Taken after close: give it back at once.
          if (lease !== undefined && this.closed) void this.opts.store.releaseCoordinatorLeases(this.opts.agentId, [{ shard, epoch: lease.epoch }]).catch(() => {});
        }
      }
      const taken = got.filter((l) => this.state(l.shard).kind === 'owned');
      if (taken.length > 0) {
        this.opts.log.info({ shards: taken.map((l) => l.shard), epochs: taken.map((l) => l.epoch) }, 'coordinating shards: leases acquired');
      }
    })();
    for (const shard of wanted) this.set(shard, { kind: 'acquiring', attempt });
    return attempt;
  }

  /** The shard is no longer ours (renewal refused, self-fenced): stop serving it, nothing to release. */
  private lose(shard: number, reason: string): void {
    const st = this.state(shard);
    if (st.kind !== 'owned') return;
    this.set(shard, { kind: 'unowned' });
    this.opts.log.warn({ shard, epoch: st.epoch, reason }, 'stopped coordinating shard');
    this.listener.stopShard(shard, reason).catch((err: unknown) => this.opts.log.warn({ shard, err: (err as Error).message }, 'stopping a coordinator shard failed'));
  }

  /** Graceful handoff: stop serving, let queued writes finish, release the lease (the next owner gets epoch + 1). */
  private async handOff(shard: number, reason: string): Promise<void> {
    const st = this.state(shard);
    if (st.kind !== 'owned') return;
    this.set(shard, { kind: 'releasing', epoch: st.epoch });
    try {
      await this.listener.stopShard(shard, reason);
    } catch (err) {
      this.opts.log.warn({ shard, err: (err as Error).message }, 'stopping a coordinator shard failed');
    }
    try {
      await this.opts.store.releaseCoordinatorLeases(this.opts.agentId, [{ shard, epoch: st.epoch }]);
      this.view?.leases.delete(shard);
    } catch (err) {
      this.opts.log.warn({ shard, err: (err as Error).message }, 'releasing a coordinator shard lease failed; it will expire');
    }
    this.set(shard, { kind: 'unowned' });
    this.opts.log.info({ shard, epoch: st.epoch, reason }, 'coordinator shard handed off');
  }

  // ---- the cycle ----------------------------------------------------------------------------------

  /**
   * One placement cycle: renew our leases (one statement), fence shards whose renewal was refused or
   * is overdue, read the cluster, hand off shards intended for another live agent, take the free ones
   * intended for us (one statement).
   */
  tick(): Promise<void> {
    // Not async: callers waiting for a running cycle all wait on the same promise, in arrival order.
    this.ticking ??= this.runTick().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private triggered = false;

  /**
   * Another agent announced a change (it joined, or stopped and released its shards and membership):
   * run a cycle now rather than at the next tick, so its shards are placed again at once. Bursts (every
   * partition lease release is announced too) make one cycle, at most one per TRIGGER_GAP_MS, started
   * after any cycle already running (it may have read the cluster before the change).
   */
  trigger(): void {
    if (this.closed || this.lastTickAt === undefined || this.triggered) return;
    this.triggered = true;
    const wait = Math.max(0, this.lastTickAt + Math.min(TRIGGER_GAP_MS, this.tickMs) - this.opts.timers.now());
    this.opts.timers.setTimeout(() => {
      this.triggered = false;
      (async () => {
        await this.ticking?.catch(() => {});
        if (!this.closed) await this.tick();
      })().catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'coordinator placement cycle failed'));
    }, wait);
  }

  private lastTickAt: number | undefined;

  private async runTick(): Promise<void> {
    if (this.closed) return;
    this.lastTickAt = this.opts.timers.now();
    const mine = [...this.states].filter(([, st]) => st.kind === 'owned') as Array<[number, Extract<ShardState, { kind: 'owned' }>]>;
    const me = memberShard(this.opts.self.nodeId);
    if (mine.length > 0 || this.member !== undefined) {
      const started = this.opts.timers.now();
      try {
        const renewed = new Map((await this.opts.store.renewCoordinatorLeases(this.opts.agentId, this.opts.ttlMs)).map((l) => [l.shard, l]));
        const m = renewed.get(me);
        this.member = m !== undefined && m.epoch === this.member?.epoch ? { epoch: m.epoch, validUntil: started + this.opts.ttlMs - this.marginMs } : undefined;
        for (const [shard, was] of mine) {
          const st = this.state(shard);
          if (st.kind !== 'owned' || st.epoch !== was.epoch) continue;
          const lease = renewed.get(shard);
          if (lease === undefined || lease.epoch !== st.epoch) this.lose(shard, 'shard lease renewal refused (expired or taken over)');
          else this.set(shard, { kind: 'owned', epoch: st.epoch, validUntil: started + this.opts.ttlMs - this.marginMs });
        }
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'renewing coordinator shard leases failed, will retry');
      }
    }
    // Overdue shards (renewals failing): stop before the database can hand them to someone else.
    for (const shard of this.states.keys()) this.epochOf(shard);
    if (this.member !== undefined && this.opts.timers.now() >= this.member.validUntil) this.member = undefined;
    if (this.member === undefined) {
      const started = this.opts.timers.now();
      try {
        const [m] = await this.opts.store.acquireCoordinatorLeases(this.opts.agentId, [me], this.opts.ttlMs);
        if (m !== undefined && !this.closed) this.member = { epoch: m.epoch, validUntil: started + this.opts.ttlMs - this.marginMs };
        else if (m === undefined) this.opts.log.warn({ nodeId: this.opts.self.nodeId }, 'another agent holds the coordinator membership of this node id');
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'taking the coordinator membership lease failed, will retry');
      }
    }

    let view: View;
    try {
      view = await this.refresh();
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'reading the cluster for coordinator placement failed, will retry');
      return;
    }
    if (this.closed) return;
    const handoffs: Promise<void>[] = [];
    const wanted: number[] = [];
    const stale: Array<{ shard: number; epoch: number }> = [];
    for (let shard = 0; shard < this.opts.shardCount; shard++) {
      const intended = this.intendedOwner(shard, view);
      const st = this.state(shard);
      if (st.kind === 'owned') {
        if (intended !== undefined && intended !== this.opts.self.nodeId) handoffs.push(this.handOff(shard, `node ${intended} should coordinate it now`));
        else if (intended === undefined) handoffs.push(this.handOff(shard, 'this agent is not live (heartbeat lapsed)'));
        continue;
      }
      if (st.kind !== 'unowned' || intended !== this.opts.self.nodeId || this.member === undefined) continue;
      const lease = this.liveLease(shard, view);
      if (lease === undefined) wanted.push(shard);
      // A lease under our agent id that we do not hold in memory: our previous incarnation's (a crash
      // and restart within the TTL). Release it so that this incarnation takes the next epoch.
      else if (lease.leaderAgentId === this.opts.agentId) stale.push({ shard, epoch: lease.epoch });
    }
    if (stale.length > 0) {
      try {
        await this.opts.store.releaseCoordinatorLeases(this.opts.agentId, stale);
        for (const s of stale) {
          view.leases.delete(s.shard);
          wanted.push(s.shard);
        }
        this.opts.log.info({ shards: stale.map((s) => s.shard) }, 'released coordinator shard leases left by a previous run of this agent');
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'releasing stale coordinator shard leases failed, will retry');
      }
    }
    await Promise.all([...handoffs, this.acquire(wanted.sort((a, b) => a - b))]);
    // Shards released: the agents they are intended for take them, and the others name them, now
    // rather than at their next cycle (one notification for the cycle's handoffs).
    if (handoffs.length > 0 && !this.closed) {
      await this.opts.store.announceClusterChange(this.opts.agentId).catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'could not announce released coordinator shards'));
    }
  }

  /** The first cycle (shards intended for us taken before clients arrive), then one every tickMs. */
  async start(): Promise<void> {
    await this.tick();
    const loop = () => {
      this.timer = this.opts.timers.setTimeout(() => {
        if (this.closed) return;
        this.tick()
          .catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'coordinator placement cycle failed'))
          .finally(() => {
            if (!this.closed) loop();
          });
      }, this.tickMs);
    };
    loop();
  }

  /** Shutdown: stop the cycle and hand every shard off (SIGTERM: others take them at once, not after the TTL). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.opts.timers.clearTimeout(this.timer);
    await this.ticking?.catch(() => {});
    const acquiring = [...this.states.values()].filter((s): s is Extract<ShardState, { kind: 'acquiring' }> => s.kind === 'acquiring');
    await Promise.all(acquiring.map((s) => s.attempt.catch(() => {})));
    const held = [...this.states].filter(([, st]) => st.kind === 'owned') as Array<[number, Extract<ShardState, { kind: 'owned' }>]>;
    for (const [shard] of held) this.set(shard, { kind: 'releasing', epoch: (this.state(shard) as { epoch: number }).epoch });
    await Promise.all(held.map(([shard]) => this.listener.stopShard(shard, 'agent stopping').catch(() => {})));
    const release = held.map(([shard, st]) => ({ shard, epoch: st.epoch }));
    // The membership too: the other agents re-place our shards on their next cycle, not after the TTL.
    if (this.member !== undefined) release.push({ shard: memberShard(this.opts.self.nodeId), epoch: this.member.epoch });
    this.member = undefined;
    if (release.length > 0) {
      try {
        await this.opts.store.releaseCoordinatorLeases(this.opts.agentId, release);
        this.opts.log.info({ shards: held.map(([s]) => s) }, 'coordinator shards released');
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'releasing coordinator shard leases failed; they will expire');
      }
    }
    for (const [shard] of held) this.set(shard, { kind: 'unowned' });
  }
}
