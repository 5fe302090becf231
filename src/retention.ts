// Log retention (retention.ms, retention.bytes on topics whose cleanup.policy includes "delete"): every
// agent, for the partitions it leads, moves the log start offset past the oldest segments that are
// too old or beyond the size limit, then deletes their rows. A segment object holds chunks of many
// partitions; the orphan cleaner deletes it once no row refers to it. The newest segment is always
// kept, as Kafka keeps its active segment, so a partition's latest records stay readable.
import type { MetadataStore, SegmentRecord } from '../metadata/types.js';
import type { RetentionAggregate, SqlStorageMetadata } from '../metadata/storage-store.js';
import type { Logger } from './logger.js';
import type { PartitionLog } from './context.js';
import { resolveTopicConfig } from './topics.js';

const PAGE = 1000;

/**
 * The new log start offset for segments (ordered by offset, starting at the log start), or undefined
 * when nothing expires. Time: a segment whose newest record is older than now - retentionMs.
 * Size: the oldest segments beyond retentionBytes in all. -1 disables either limit.
 */
export function retentionCutoff(segments: readonly SegmentRecord[], nowMs: number, retentionMs: number, retentionBytes: number): number | undefined {
  const last = segments.length - 1;
  let cut = 0;
  if (retentionMs >= 0) while (cut < last && segments[cut]!.maxTimestamp < nowMs - retentionMs) cut++;
  if (retentionBytes >= 0) {
    let total = 0;
    for (let i = cut; i <= last; i++) total += segments[i]!.sizeBytes;
    while (cut < last && total > retentionBytes) total -= segments[cut++]!.sizeBytes;
  }
  return cut === 0 ? undefined : segments[cut]!.baseOffset;
}

export interface RetentionOptions {
  metadata: Pick<MetadataStore, 'getTopic' | 'getPartition' | 'listSegments' | 'deleteSegmentsBefore'>;
  /** Decides from per-partition aggregates computed in the database (no rows loaded); without it, rows are paged. */
  aggregates?: Pick<SqlStorageMetadata, 'retentionAggregate'>;
  partitions: Pick<PartitionLog, 'deleteRecords'>;
  /** The partitions this agent leads now. */
  leading: () => Array<{ topic: string; partitionId: number }>;
  clock: { now(): number };
  log: Logger;
}

export class RetentionTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: RetentionOptions) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over the led partitions; returns how many had their log start moved. */
  runOnce(): Promise<number> {
    if (this.running) return this.running.then(() => 0);
    const pass = this.pass();
    this.running = pass.then(
      () => undefined,
      () => undefined,
    );
    return pass.finally(() => (this.running = undefined));
  }

  private async pass(): Promise<number> {
    let moved = 0;
    for (const { topic, partitionId } of this.opts.leading()) {
      try {
        if (await this.enforce(topic, partitionId)) moved++;
      } catch (err) {
        this.opts.log.warn({ topic, partition: partitionId, err: (err as Error).message }, 'retention check failed; next pass retries');
      }
    }
    return moved;
  }

  private async enforce(topic: string, partitionId: number): Promise<boolean> {
    const record = await this.opts.metadata.getTopic(topic);
    if (record === undefined) return false;
    const config = resolveTopicConfig(record);
    if (!config.cleanupPolicy.includes('delete') || (config.retentionMs < 0 && config.retentionBytes < 0)) return false;
    const p = await this.opts.metadata.getPartition(topic, partitionId);
    if (p === undefined) return false;
    const now = this.opts.clock.now();
    let cutoff: number | undefined;
    if (this.opts.aggregates !== undefined) {
      const agg = await this.opts.aggregates.retentionAggregate(topic, partitionId, p.logStartOffset, {
        minTimestamp: config.retentionMs >= 0 ? now - config.retentionMs : undefined,
        maxBytes: config.retentionBytes >= 0 ? config.retentionBytes : undefined,
      });
      cutoff = cutoffFromAggregate(agg, config.retentionMs >= 0, config.retentionBytes >= 0);
    } else {
      cutoff = await this.cutoffFromRows(topic, partitionId, p.logStartOffset, config.retentionMs, config.retentionBytes);
    }
    if (cutoff === undefined || cutoff <= p.logStartOffset) return false;
    // Readers are fenced first (the log start moves), then the rows go.
    await this.opts.partitions.deleteRecords(topic, partitionId, cutoff);
    await this.opts.metadata.deleteSegmentsBefore(topic, partitionId, cutoff);
    this.opts.log.info({ topic, partition: partitionId, logStartOffset: cutoff }, 'retention: old segments deleted');
    return true;
  }

  private async cutoffFromRows(topic: string, partitionId: number, logStartOffset: number, retentionMs: number, retentionBytes: number): Promise<number | undefined> {
    const config = { retentionMs, retentionBytes };
    const p = { logStartOffset };
    // Time alone needs only the oldest segments; a size limit needs them all.
    const segments: SegmentRecord[] = [];
    for (let from = p.logStartOffset; ; ) {
      const page = await this.opts.metadata.listSegments(topic, partitionId, from, PAGE);
      segments.push(...page);
      if (page.length < PAGE) break;
      from = page[page.length - 1]!.endOffset + 1;
      if (config.retentionBytes < 0 && page[page.length - 1]!.maxTimestamp >= this.opts.clock.now() - config.retentionMs) break;
    }
    return retentionCutoff(segments, this.opts.clock.now(), config.retentionMs, config.retentionBytes);
  }
}

/**
 * retentionCutoff from the database's aggregates: the later of the first segment not expired by time
 * and the first of the newest suffix within the size limit, never past the newest segment.
 */
export function cutoffFromAggregate(agg: RetentionAggregate, byTime: boolean, bySize: boolean): number | undefined {
  if (agg.lastBase === undefined) return undefined;
  let cut: number | undefined;
  if (byTime) cut = agg.timeKeep ?? agg.lastBase;
  if (bySize) cut = Math.max(cut ?? 0, agg.sizeKeep ?? agg.lastBase);
  if (cut === undefined) return undefined;
  return Math.min(cut, agg.lastBase);
}
