// The live set: agents whose heartbeat the database saw within the liveness window (judged on the
// database clock). Placement and Metadata read it from here. This agent does not simply count itself
// live: it is live only while the database lists it *and* its own last successful heartbeat is recent
// enough that the database cannot have judged it lapsed yet (counted from before the heartbeat was
// sent, minus a margin). An agent whose heartbeats fail therefore leaves its own placement before
// the others stop counting it, and hands its partitions off instead of claiming them.
import type { AgentRecord, MetadataStore } from '../../metadata/types.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { Logger } from '../logger.js';
import { monotonicClock, type Clock } from './leases.js';

export interface MembershipOptions {
  metadata: Pick<MetadataStore, 'listLiveAgents' | 'heartbeatAgent' | 'registerAgent' | 'retireAgent' | 'announceClusterChange'>;
  self: { agentId: string; nodeId: number; host: string; port: number; rack: string | null; listeners?: string | null };
  heartbeatMs: number;
  /** An agent is live while its last heartbeat is younger than this (database clock). */
  liveWithinMs: number;
  /** How long a read of the live set is reused (default 250 ms). */
  refreshMs?: number;
  clock?: Clock;
  log: Logger;
}

export class Membership {
  private readonly clock: Clock;
  private readonly refreshMs: number;
  /** Local time the last successful heartbeat (or registration) was sent. */
  private lastBeat: number;
  private cache: { at: number; value: AgentRecord[] } | undefined;
  private loading: Promise<AgentRecord[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Not live: before goLive() (starting) and after retire() (stopping). */
  private retired = true;
  private wasLive = true;

  constructor(private readonly opts: MembershipOptions) {
    this.clock = opts.clock ?? monotonicClock;
    this.refreshMs = opts.refreshMs ?? 250;
    this.lastBeat = -Infinity;
  }

  get self(): MembershipOptions['self'] {
    return this.opts.self;
  }

  /** Whether this agent may count itself live (see the file comment). */
  selfLive(): boolean {
    if (this.retired) return false;
    const margin = Math.min(this.opts.heartbeatMs, this.opts.liveWithinMs / 4);
    return this.clock.now() - this.lastBeat < this.opts.liveWithinMs - margin;
  }

  /** Live agents (node id order); this agent only while selfLive(). */
  async liveAgents(): Promise<AgentRecord[]> {
    const now = this.clock.now();
    let list: AgentRecord[];
    if (this.cache && now - this.cache.at < this.refreshMs) list = this.cache.value;
    else {
      this.loading ??= this.opts.metadata.listLiveAgents(this.opts.liveWithinMs).then(
        (value) => {
          this.cache = { at: now, value };
          return value;
        },
        (err: unknown) => {
          // Database trouble: keep the last view (leases fence us meanwhile) rather than fail Metadata.
          if (this.cache) return this.cache.value;
          throw err;
        },
      ).finally(() => (this.loading = undefined));
      list = await this.loading;
    }
    const live = this.selfLive();
    if (live !== this.wasLive) {
      this.wasLive = live;
      if (live) this.opts.log.info({ agentId: this.opts.self.agentId }, 'this agent counts itself live again');
      else if (!this.retired) this.opts.log.error({ agentId: this.opts.self.agentId, liveWithinMs: this.opts.liveWithinMs }, 'agent heartbeat lapsed: this agent no longer counts itself live and hands its partitions off');
    }
    return live ? list : list.filter((a) => a.agentId !== this.opts.self.agentId);
  }

  /** Forgets the cached live set (another agent announced a change). */
  invalidate(): void {
    this.cache = undefined;
  }

  /** Tells the other agents the live set changed (we joined). */
  announce(): Promise<void> {
    return this.opts.metadata.announceClusterChange(this.opts.self.agentId).catch((err: unknown) => {
      this.opts.log.warn({ err: (err as Error).message }, 'could not announce a cluster change; the others notice at their next placement round');
    });
  }

  /**
   * Joins the live set once this agent can serve (its listener is open): registers again (fresh
   * heartbeat, same node id), starts heartbeating and tells the others, who hand its share over.
   * Until then the agent is registered (its node id is reserved) but not live, so nobody names it
   * as a leader while clients could not reach it.
   */
  async goLive(): Promise<void> {
    const started = this.clock.now();
    const s = this.opts.self;
    await this.opts.metadata.registerAgent({ agentId: s.agentId, host: s.host, port: s.port, rack: s.rack, nodeId: s.nodeId, listeners: s.listeners ?? null });
    this.retired = false;
    this.lastBeat = started;
    this.cache = undefined;
    this.start();
    await this.announce();
  }

  /** Heartbeats every heartbeatMs; registers again when the row is gone or was retired. */
  private start(): void {
    const beat = async () => {
      const started = this.clock.now();
      try {
        await this.opts.metadata.heartbeatAgent(this.opts.self.agentId);
      } catch (err) {
        if (this.retired) return;
        if (!(err instanceof KafkaError && err.code === ErrorCode.INVALID_REQUEST)) throw err;
        // Unknown agent (its row was removed as stale): register again under the same node id.
        const s = this.opts.self;
        await this.opts.metadata.registerAgent({ agentId: s.agentId, host: s.host, port: s.port, rack: s.rack, nodeId: s.nodeId, listeners: s.listeners ?? null });
        this.opts.log.info({ agentId: s.agentId }, 'agent registered again');
        void this.announce();
      }
      if (!this.retired) this.lastBeat = Math.max(this.lastBeat, started);
    };
    this.timer = setInterval(() => {
      beat().catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'agent heartbeat failed'));
    }, this.opts.heartbeatMs);
    this.timer.unref();
  }

  /** Leaves the live set (graceful shutdown): others place our partitions elsewhere from now on. */
  async retire(): Promise<void> {
    this.retired = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.cache = undefined;
    await this.opts.metadata.retireAgent(this.opts.self.agentId);
    await this.announce();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
