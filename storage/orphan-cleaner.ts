// Deletes segment objects that no segments row references and that are older than a grace period:
// objects uploaded by a cycle whose commit never happened (crash between PUT and commit, a failed
// or fenced commit whose delete failed) and objects whose every chunk was removed by retention.
//
// Race safety: objects are listed FIRST, then the referenced keys are collected, so a commit that
// lands before the collection is seen. An object younger than the grace period is never touched;
// the grace period must exceed the longest upload→commit gap (the writer gives up resolving a
// commit after commitResolveTimeoutMs, 30 s by default), hence the 10-minute default.
import type { MetadataStore } from '../metadata/types.js';
import type { ObjectStore } from './types.js';
import { PeriodicPass, silentStorageLogger, systemClock, systemTimers, type Clock, type StorageLogger, type Timers } from './clock.js';

export type CleanerMetadata = Pick<MetadataStore, 'listTopics' | 'getPartitions' | 'listSegments'>;

export interface OrphanCleanerOptions {
  objectStore: ObjectStore;
  metadata: CleanerMetadata;
  /** Only objects older than this are candidates (default 10 minutes). */
  graceMs?: number;
  /** Where segment objects live (default "segments/", as the writer's keyPrefix). */
  keyPrefix?: string;
  /** Overrides how referenced keys are collected (e.g. a dedicated metadata query). */
  referencedKeys?: () => Promise<Set<string>>;
  clock?: Clock;
  timers?: Timers;
  logger?: StorageLogger;
}

export interface CleanResult {
  scanned: number;
  candidates: number;
  deleted: number;
  errors: number;
}

export class OrphanCleaner {
  private readonly store: ObjectStore;
  private readonly metadata: CleanerMetadata;
  private readonly graceMs: number;
  private readonly keyPrefix: string;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: StorageLogger;
  private readonly referencedKeysFn: (() => Promise<Set<string>>) | undefined;
  private readonly periodic: PeriodicPass;
  private running: Promise<CleanResult> | undefined;

  constructor(opts: OrphanCleanerOptions) {
    this.store = opts.objectStore;
    this.metadata = opts.metadata;
    this.graceMs = opts.graceMs ?? 10 * 60_000;
    this.keyPrefix = opts.keyPrefix ?? 'segments/';
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
    this.periodic = new PeriodicPass(this.timers, () => this.runOnce(), (err) => this.log.warn({ err: String(err) }, 'orphan cleaning pass failed'));
    this.log = opts.logger ?? silentStorageLogger;
    this.referencedKeysFn = opts.referencedKeys;
  }

  /** Every s3Key the segments table references (all topics, all partitions, all pages). */
  async referencedKeys(): Promise<Set<string>> {
    if (this.referencedKeysFn !== undefined) return this.referencedKeysFn();
    const keys = new Set<string>();
    const page = 1000;
    for (const topic of await this.metadata.listTopics()) {
      for (const p of await this.metadata.getPartitions(topic.name)) {
        let from = 0;
        for (;;) {
          const rows = await this.metadata.listSegments(topic.name, p.partitionId, from, page);
          // By key alone, whatever s3Bucket says: a moved data directory or a renamed bucket must
          // never make referenced objects look unreferenced.
          for (const r of rows) keys.add(r.s3Key);
          if (rows.length < page) break;
          const next = rows[rows.length - 1].endOffset + 1;
          if (next <= from) break;
          from = next;
        }
      }
    }
    return keys;
  }

  /** One pass. Concurrent calls share the pass in progress. */
  runOnce(): Promise<CleanResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<CleanResult> {
    const now = this.clock.now();
    const objects = await this.store.list(this.keyPrefix);
    const old = objects.filter((o) => now - o.lastModified > this.graceMs);
    const result: CleanResult = { scanned: objects.length, candidates: 0, deleted: 0, errors: 0 };
    if (old.length === 0) return result;
    const referenced = await this.referencedKeys();
    const orphans = old.filter((o) => !referenced.has(o.key));
    result.candidates = orphans.length;
    for (const o of orphans) {
      try {
        await this.store.delete(o.key);
        result.deleted++;
      } catch (err) {
        result.errors++;
        this.log.warn({ key: o.key, err: String(err) }, 'could not delete orphan segment object');
      }
    }
    const cleanTemp = (this.store as { removeStaleTempFiles?: (ms: number, now?: number) => Promise<number> }).removeStaleTempFiles;
    if (typeof cleanTemp === 'function') await cleanTemp.call(this.store, this.graceMs, now).catch(() => 0);
    if (result.deleted > 0) this.log.info({ ...result }, 'deleted orphan segment objects');
    return result;
  }

  /** Runs a pass every `intervalMs` until stop(). Errors are logged, never thrown. */
  start(intervalMs: number): void {
    this.periodic.start(intervalMs);
  }

  async stop(): Promise<void> {
    this.periodic.stop();
    await this.running?.catch(() => undefined);
  }
}
