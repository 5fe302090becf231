// The registry cleaner: deletes segment objects the object registry (metadata/storage-store.ts,
// segment_objects) says nobody needs any more — unreferenced for longer than a grace (readers in flight
// keep working meanwhile), or registered and never committed within a bound. Every decision is a
// database statement on the database clock; the store's timestamps and this agent's clock play no part.
//
// Each object goes pending/unreferenced → deleting (claimed in one statement, oldest first, a bounded
// batch, rows claimed by another agent skipped) → store delete → deleted (a tombstone). A commit that
// names an object being deleted fails (trigger on segments), so no row can ever reference a deleted
// object. A cleaner killed after its claim leaves 'deleting' rows that any cleaner claims again after
// `reclaimAfterMs`. Tombstones are purged after `tombstoneMs` (far beyond any statement timeout), after
// deleting the key once more (an upload that outlived its registration is removed then too).
//
// Objects written before the registry existed: the migration registered every object a row referenced;
// `adoptOnce` lists the store one time (cluster-wide, recorded in cluster_settings) and registers the
// others as pending, so the pending bound deletes them unless a row references them by then.
import type { ClaimedObject, CleanupBounds, ObjectRegistryStats } from '../metadata/storage-store.js';
import { silentStorageLogger, systemTimers, type StorageLogger, type Timers } from './clock.js';
import { ObjectNotFoundError } from './errors.js';
import type { ObjectStore } from './types.js';

export interface RegistryCleanerMetadata {
  claimObjectDeletions(bounds: CleanupBounds, limit: number): Promise<ClaimedObject[]>;
  markObjectsDeleted(keys: string[]): Promise<number>;
  tombstones(olderThanMs: number, limit: number): Promise<ClaimedObject[]>;
  purgeTombstones(keys: string[]): Promise<number>;
  adoptObjects(bucket: string, objects: Array<{ key: string; size: number }>): Promise<number>;
  knownObjects(keys: string[]): Promise<Set<string>>;
  getSetting(name: string): Promise<string | undefined>;
  setSetting(name: string, value: string): Promise<void>;
  objectStats(): Promise<ObjectRegistryStats[]>;
}

export const DEFAULT_CLEANUP_BOUNDS: CleanupBounds = {
  pendingTimeoutMs: 15 * 60_000,
  deleteGraceMs: 10 * 60_000,
  reclaimAfterMs: 5 * 60_000,
};

export interface RegistryCleanerOptions {
  objectStore: ObjectStore;
  metadata: RegistryCleanerMetadata;
  bounds?: Partial<CleanupBounds>;
  /** Tombstones are kept this long (default 1 day). */
  tombstoneMs?: number;
  /** Objects claimed per statement (default 200). */
  batchSize?: number;
  /** Batches per pass at most (default 50): a pass is bounded; the next one continues. */
  maxBatchesPerPass?: number;
  /** Store deletes at once (default 8). */
  deleteConcurrency?: number;
  keyPrefix?: string;
  timers?: Timers;
  logger?: StorageLogger;
  /** After each pass: bytes of the objects the registry holds that are not deleted (the stored-bytes metric). */
  onStoredBytes?: (bytes: number) => void;
}

export interface RegistryCleanResult {
  claimed: number;
  deleted: number;
  errors: number;
  purged: number;
  batches: number;
}

const ADOPTED_SETTING = 'object_registry_adopted';

export class RegistryCleaner {
  private readonly store: ObjectStore;
  private readonly md: RegistryCleanerMetadata;
  readonly bounds: CleanupBounds;
  private readonly tombstoneMs: number;
  private readonly batchSize: number;
  private readonly maxBatches: number;
  private readonly concurrency: number;
  private readonly keyPrefix: string;
  private readonly timers: Timers;
  private readonly log: StorageLogger;
  private timer: unknown;
  private running: Promise<RegistryCleanResult> | undefined;
  private stopped = false;

  constructor(private readonly opts: RegistryCleanerOptions) {
    this.store = opts.objectStore;
    this.md = opts.metadata;
    this.bounds = { ...DEFAULT_CLEANUP_BOUNDS, ...opts.bounds };
    this.tombstoneMs = opts.tombstoneMs ?? 86_400_000;
    this.batchSize = opts.batchSize ?? 200;
    this.maxBatches = opts.maxBatchesPerPass ?? 50;
    this.concurrency = opts.deleteConcurrency ?? 8;
    this.keyPrefix = opts.keyPrefix ?? 'segments/';
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentStorageLogger;
  }

  /** One bounded pass. Concurrent calls share the pass in progress. */
  runOnce(): Promise<RegistryCleanResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<RegistryCleanResult> {
    const r: RegistryCleanResult = { claimed: 0, deleted: 0, errors: 0, purged: 0, batches: 0 };
    while (r.batches < this.maxBatches && !this.stopped) {
      const claimed = await this.md.claimObjectDeletions(this.bounds, this.batchSize);
      r.batches++;
      r.claimed += claimed.length;
      const done = await this.deleteFromStore(claimed.map((c) => c.key), r);
      if (done.length > 0) await this.md.markObjectsDeleted(done);
      if (claimed.length < this.batchSize) break;
    }
    // Tombstones: delete the key once more (a PUT that landed after its registration was given up), then forget it.
    for (let i = 0; i < this.maxBatches && !this.stopped; i++) {
      const old = await this.md.tombstones(this.tombstoneMs, this.batchSize);
      const gone = await this.deleteFromStore(old.map((o) => o.key), r, false);
      r.purged += await this.md.purgeTombstones(gone);
      if (old.length < this.batchSize) break;
    }
    if (r.deleted > 0 || r.errors > 0) this.log.info({ ...r }, 'object registry: deleted objects nobody references');
    if (this.opts.onStoredBytes !== undefined) {
      const stats = await this.md.objectStats();
      this.opts.onStoredBytes(stats.filter((s) => s.state !== 'deleted').reduce((n, s) => n + Number(s.sizeBytes), 0));
    }
    return r;
  }

  /** Deletes keys from the store, `concurrency` at a time; returns those now gone. */
  private async deleteFromStore(keys: string[], r: RegistryCleanResult, count = true): Promise<string[]> {
    const gone: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          await this.store.delete(key);
          gone.push(key);
          if (count) r.deleted++;
        } catch (err) {
          if (err instanceof ObjectNotFoundError) {
            gone.push(key);
            continue;
          }
          r.errors++;
          this.log.warn({ key, err: String(err) }, 'could not delete a segment object (claimed again later)');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, keys.length) }, worker));
    return gone;
  }

  /**
   * Registers, once per cluster, the objects in the store the registry does not know (written before
   * it existed and never referenced): as pending from now on the database clock. Returns how many.
   */
  async adoptOnce(): Promise<number> {
    if ((await this.md.getSetting(ADOPTED_SETTING)) !== undefined) return 0;
    const listed = await this.store.list(this.keyPrefix);
    let adopted = 0;
    for (let i = 0; i < listed.length; i += 1000) {
      const page = listed.slice(i, i + 1000);
      const known = await this.md.knownObjects(page.map((o) => o.key));
      const unknown = page.filter((o) => !known.has(o.key)).map((o) => ({ key: o.key, size: o.size }));
      adopted += await this.md.adoptObjects(this.store.bucket, unknown);
    }
    await this.md.setSetting(ADOPTED_SETTING, String(listed.length));
    if (adopted > 0) this.log.info({ adopted, listed: listed.length }, 'object registry: adopted objects written before it existed');
    return adopted;
  }

  /** Adopts once, then runs a pass every `intervalMs` until stop(). Errors are logged, never thrown. */
  start(intervalMs: number): void {
    if (this.timer !== undefined) return;
    let adopted = false;
    const tick = async () => {
      try {
        if (!adopted) {
          await this.adoptOnce();
          adopted = true;
        }
        await this.runOnce();
      } catch (err) {
        this.log.warn({ err: String(err) }, 'object registry cleaning pass failed; the next one retries');
      }
      if (this.timer !== undefined) this.timer = this.timers.setTimeout(() => void tick(), intervalMs);
    };
    this.timer = this.timers.setTimeout(() => void tick(), Math.min(intervalMs, 5_000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
