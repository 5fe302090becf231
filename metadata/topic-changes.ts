// Cross-agent cache invalidation on PostgreSQL. Every topic change (create, delete, new partitions,
// configs, log start offset) is announced with pg_notify on one channel after it committed, and each
// agent LISTENs on a dedicated connection and drops what its cache holds about that topic. Without
// it another agent would serve a deleted topic, or miss new partitions, until its cache entry's TTL
// (30 s) ran out. A notification can be missed while the listening connection is down: on every
// (re)connection the whole cache is dropped, and the TTL still bounds anything else.
// PGlite needs none of this: its data directory is locked to one agent.
import pg from 'pg';
import { pgClientConfig, type MetadataLogger } from './driver.js';

export const TOPIC_CHANGES_CHANNEL = 'streamhouse_topic_changes';
/** Agents joining or leaving the live set, leases released (src/cluster/): placement runs again at once. */
export const CLUSTER_CHANGES_CHANNEL = 'streamhouse_cluster_changes';

export interface TopicChangeFeedOptions {
  /** Delay before reconnecting after the listening connection failed (default 1 s). */
  retryMs?: number;
  connectTimeoutMs?: number;
  logger?: MetadataLogger;
  /** The channel to LISTEN on (default TOPIC_CHANGES_CHANNEL; the payload is passed on). */
  channel?: string;
}

export class TopicChangeFeed {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private down = false;
  private readonly retryMs: number;
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
      if (msg.channel === this.channel && msg.payload) this.onChange(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
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

  async close(): Promise<void> {
    this.closed = true;
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
