// Keeps an agent's authorizer equal to the acls table. The whole set is loaded at start (before the
// listener opens) and again whenever it may have changed: on every ACL_CHANGES_CHANNEL notification
// (PostgreSQL LISTEN, sent by the statement that changed them, so within milliseconds on every agent),
// after this agent's own CreateAcls/DeleteAcls, on every (re)connection of the listening connection,
// and by polling: every second while notifications are down, else every `pollMs` as a safety net.
// Reloads never overlap: a change arriving during one runs one more afterwards.
import type { MetadataStore, MetadataLogger } from '../../metadata/index.js';
import { ACL_CHANGES_CHANNEL, TopicChangeFeed } from '../../metadata/index.js';
import type { Authorizer } from './authorizer.js';

export interface AclSyncOptions {
  /** PostgreSQL URL: listen for changes there. Absent on PGlite (one agent per database). */
  databaseUrl?: string;
  logger?: MetadataLogger & { error?(obj: object, msg?: string): void };
  /** Reload interval while notifications arrive (default 30 s). */
  pollMs?: number;
  /** Reload interval while they do not (default 1 s). */
  fallbackPollMs?: number;
}

export class AclSync {
  private feed: TopicChangeFeed | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private lastPoll = 0;
  /** Completed reloads (tests and metrics). */
  reloads = 0;

  constructor(
    private readonly store: Pick<MetadataStore, 'listAcls'>,
    readonly authorizer: Authorizer,
    private readonly opts: AclSyncOptions = {},
  ) {}

  /** Loads the ACLs (throws if the database cannot be read: the agent does not start half-authorized). */
  async start(): Promise<void> {
    this.authorizer.load(await this.store.listAcls());
    this.reloads++;
    this.lastPoll = Date.now();
    if (this.opts.databaseUrl) {
      this.feed = new TopicChangeFeed(this.opts.databaseUrl, () => void this.reload(), { channel: ACL_CHANGES_CHANNEL, logger: this.opts.logger });
      await this.feed.start();
    }
    const fallback = this.opts.fallbackPollMs ?? 1000;
    const poll = this.opts.pollMs ?? 30_000;
    this.timer = setInterval(() => {
      const every = this.feed !== undefined && !this.feed.listening ? fallback : poll;
      if (Date.now() - this.lastPoll >= every) void this.reload();
    }, Math.min(fallback, poll));
    this.timer.unref();
  }

  /** Resolves after a load that started after this call. Failures are logged and retried by the poll. */
  reload(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running !== undefined) {
      // The running loop loads once more after its current load: that load starts after this call.
      this.again = true;
      return this.running;
    }
    this.lastPoll = Date.now();
    const run = (async () => {
      try {
        do {
          this.again = false;
          this.authorizer.load(await this.store.listAcls());
          this.reloads++;
        } while (this.again && !this.closed);
      } catch (err) {
        this.opts.logger?.warn({ err: (err as Error)?.message ?? String(err) }, 'could not reload ACLs; keeping the previous set');
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.feed?.close();
    await this.running;
  }
}
