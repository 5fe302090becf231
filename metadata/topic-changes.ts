// Cross-agent cache invalidation on PostgreSQL. Every topic change (create, delete, new partitions,
// configs, log start offset) is announced with pg_notify on one channel after it committed, and each
// agent LISTENs on a dedicated connection and drops what its cache holds about that topic. Without
// it another agent would serve a deleted topic, or miss new partitions, until its cache entry's TTL
// (30 s) ran out. A notification can be missed while the listening connection is down: on every
// (re)connection the whole cache is dropped, and the TTL still bounds anything else.
// PGlite needs none of this: its data directory is locked to one agent.
//
// Confirmation (sync): the agent that deleted a topic does not answer DeleteTopics until every live
// agent has confirmed that it dropped the topic. It sends `token topic` on the sync channel after the
// change committed; every other agent, which receives notifications in commit order and therefore
// has already seen the change itself, runs `onSync(topic)` (its own check of the topic, finished) and
// answers `token agentId` on the ack channel. Both travel over the listening connection.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pgClientConfig, type MetadataLogger } from './driver.js';

export const TOPIC_CHANGES_CHANNEL = 'streamhouse_topic_changes';
export const TOPIC_SYNC_CHANNEL = 'streamhouse_topic_sync';
export const TOPIC_ACK_CHANNEL = 'streamhouse_topic_acks';
/** Agents joining or leaving the live set, leases released (src/cluster/): placement runs again at once. */
export const CLUSTER_CHANGES_CHANNEL = 'streamhouse_cluster_changes';
/** ACLs created or deleted (src/security/acl-sync.ts): every agent reloads them. */
export const ACL_CHANGES_CHANNEL = 'streamhouse_acl_changes';

export interface TopicChangeFeedOptions {
  /** Delay before reconnecting after the listening connection failed (default 1 s). */
  retryMs?: number;
  connectTimeoutMs?: number;
  logger?: MetadataLogger;
  /** This agent's id: what it answers sync requests with (no answers without it). */
  agentId?: string;
  /** Resolves once this agent has applied every change of `topic` it was told of (default: at once). */
  onSync?: (topic: string) => Promise<void>;
  /** The channel to LISTEN on (default TOPIC_CHANGES_CHANNEL; the payload is passed on). */
  channel?: string;
}

interface PendingSync {
  waitingFor: Set<string>;
  done: () => void;
}

export class TopicChangeFeed {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private down = false;
  private readonly retryMs: number;
  private readonly syncs = new Map<string, PendingSync>();
  private readonly channel: string;

  /** `onChange(topic)` for one topic; `onChange(undefined)` when changes may have been missed. */
  constructor(
    private readonly connectionString: string,
    private readonly onChange: (topic: string | undefined) => void,
    private readonly opts: TopicChangeFeedOptions = {},
  ) {
    this.retryMs = opts.retryMs ?? 1000;
    this.channel = opts.channel ?? TOPIC_CHANGES_CHANNEL;
  }

  /** Resolves once listening (or after the first failure, with a retry scheduled). */
  async start(): Promise<void> {
    await this.connect();
  }

  get listening(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(pgClientConfig(this.connectionString, this.opts.connectTimeoutMs ?? 10_000));
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.closed) return;
      // One line per outage, not one per retry.
      if (!this.down) this.opts.logger?.warn({ err: (err as Error)?.message ?? String(err) }, `${this.channel} notifications lost; reconnecting`);
      this.down = true;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.connect();
      }, this.retryMs);
      this.timer.unref();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      if (msg.channel === this.channel) this.onChange(msg.payload);
      else if (msg.channel === TOPIC_SYNC_CHANNEL) this.answerSync(client, msg.payload);
      else if (msg.channel === TOPIC_ACK_CHANNEL) this.acked(msg.payload);
    });
    try {
      await client.connect();
      // The topic feed also carries DeleteTopics' sync requests and their acknowledgements.
      await client.query(this.channel === TOPIC_CHANGES_CHANNEL ? `LISTEN ${TOPIC_CHANGES_CHANNEL}; LISTEN ${TOPIC_SYNC_CHANNEL}; LISTEN ${TOPIC_ACK_CHANNEL}` : `LISTEN ${this.channel}`);
    } catch (err) {
      fail(err);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    if (this.down) this.opts.logger?.info({}, `${this.channel} notifications restored`);
    this.down = false;
    // Anything changed while we were not listening is unknown: forget it all.
    this.onChange(undefined);
  }

  /** `token topic from`: apply, then confirm (not to ourselves). */
  private answerSync(client: pg.Client, payload: string): void {
    // Tokens and topic names hold no spaces; agent ids may.
    const [token, topic] = payload.split(' ', 2);
    const from = payload.slice((token?.length ?? 0) + (topic?.length ?? 0) + 2);
    const self = this.opts.agentId;
    if (!token || !topic || self === undefined || from === self) return;
    (this.opts.onSync?.(topic) ?? Promise.resolve())
      .then(() => client.query('SELECT pg_notify($1, $2)', [TOPIC_ACK_CHANNEL, `${token} ${self}`]))
      .catch((err: unknown) => this.opts.logger?.warn({ err: (err as Error)?.message ?? String(err), topic }, 'could not confirm a topic change'));
  }

  private acked(payload: string): void {
    const space = payload.indexOf(' ');
    if (space < 0) return;
    const pending = this.syncs.get(payload.slice(0, space));
    const agentId = payload.slice(space + 1);
    if (pending === undefined) return;
    pending.waitingFor.delete(agentId);
    if (pending.waitingFor.size === 0) pending.done();
  }

  /**
   * Asks `agentIds` to confirm that they have applied every change of `topic` committed so far, and
   * resolves with those that did not confirm within `timeoutMs` (all of them when not listening).
   */
  async sync(topic: string, agentIds: readonly string[], timeoutMs: number): Promise<string[]> {
    const client = this.client;
    const waitingFor = new Set(agentIds.filter((a) => a !== this.opts.agentId));
    if (waitingFor.size === 0) return [];
    if (client === undefined) return [...waitingFor];
    const token = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const settled = new Promise<void>((resolve) => {
      this.syncs.set(token, { waitingFor, done: resolve });
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await client.query('SELECT pg_notify($1, $2)', [TOPIC_SYNC_CHANNEL, `${token} ${topic} ${this.opts.agentId ?? ''}`]);
      await settled;
    } catch {
      // The listening connection failed: nobody can be asked now.
    } finally {
      clearTimeout(timer);
      this.syncs.delete(token);
    }
    return [...waitingFor];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.syncs.values()) s.done();
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
  }
}
