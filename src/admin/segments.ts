// `streamhouse segments [--topic NAME] [--partition N] [--limit N] [--from-offset N]`: the segment rows
// of each partition (first offset, last offset, records, bytes, the object holding the chunk). Database
// only. --limit bounds the rows printed per partition (default 20); how many were left out is reported.
import { AdminError } from './errors.js';
import { formatBytes, formatTable, formatTime } from './table.js';
import { requireDatabase, type Target } from './target.js';

export interface SegmentRow {
  topic: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  records: number;
  /** Record batch bytes (uncompressed) and the chunk's bytes inside the object. */
  sizeBytes: number;
  storedBytes: number;
  bucket: string;
  objectKey: string;
  bytePosition: number;
  maxTimestamp: number;
  createdAt: number;
}

export interface SegmentPartition {
  topic: string;
  partition: number;
  /** All segment rows of the partition, and how many are listed. */
  segmentCount: number;
  listed: number;
  segments: SegmentRow[];
}

export interface SegmentReport {
  source: 'database';
  limit: number;
  partitions: SegmentPartition[];
}

export interface SegmentOptions {
  topic?: string;
  partition?: number;
  limit?: number;
  fromOffset?: number;
}

export const DEFAULT_SEGMENT_LIMIT = 20;

export async function listSegments(target: Target, opts: SegmentOptions = {}): Promise<SegmentReport> {
  const { store } = requireDatabase(target, 'segments');
  const limit = opts.limit ?? DEFAULT_SEGMENT_LIMIT;
  if (opts.partition !== undefined && opts.topic === undefined) throw new AdminError('--partition needs --topic', 2);
  let partitions: Array<{ topic: string; partition: number }>;
  if (opts.topic !== undefined) {
    const topic = await store.getTopic(opts.topic);
    if (topic === undefined) throw new AdminError(`unknown topic "${opts.topic}"`);
    if (opts.partition !== undefined && (opts.partition < 0 || opts.partition >= topic.partitionCount)) {
      throw new AdminError(`topic "${opts.topic}" has no partition ${opts.partition} (it has ${topic.partitionCount})`);
    }
    const ids = opts.partition !== undefined ? [opts.partition] : Array.from({ length: topic.partitionCount }, (_, i) => i);
    partitions = ids.map((partition) => ({ topic: topic.name, partition }));
  } else {
    partitions = (await store.listTopics()).flatMap((t) => Array.from({ length: t.partitionCount }, (_, partition) => ({ topic: t.name, partition })));
  }
  const stats = new Map((await store.segmentStats(opts.topic)).map((s) => [`${s.topic}\0${s.partitionId}`, s.segmentCount]));
  const out: SegmentPartition[] = [];
  for (const p of partitions) {
    const count = stats.get(`${p.topic}\0${p.partition}`) ?? 0;
    if (count === 0 && opts.topic === undefined) continue; // the all-topics view lists partitions with data
    const rows = count === 0 || limit === 0 ? [] : await store.listSegments(p.topic, p.partition, opts.fromOffset ?? 0, limit);
    out.push({
      topic: p.topic,
      partition: p.partition,
      segmentCount: count,
      listed: rows.length,
      segments: rows.map((s) => ({
        topic: s.topic,
        partition: s.partitionId,
        baseOffset: s.baseOffset,
        lastOffset: s.endOffset,
        records: s.recordCount,
        sizeBytes: s.sizeBytes,
        storedBytes: s.byteLength,
        bucket: s.s3Bucket,
        objectKey: s.s3Key,
        bytePosition: s.bytePosition,
        maxTimestamp: s.maxTimestamp,
        createdAt: s.createdAt,
      })),
    });
  }
  return { source: 'database', limit, partitions: out };
}

export function renderSegments(r: SegmentReport): string {
  const rows = r.partitions.flatMap((p) => p.segments);
  const table = formatTable(
    [
      { header: 'TOPIC', value: (s: SegmentRow) => s.topic },
      { header: 'PARTITION', value: (s) => s.partition },
      { header: 'BASE-OFFSET', value: (s) => s.baseOffset },
      { header: 'LAST-OFFSET', value: (s) => s.lastOffset },
      { header: 'RECORDS', value: (s) => s.records },
      { header: 'SIZE', value: (s) => formatBytes(s.sizeBytes), align: 'right' },
      { header: 'STORED', value: (s) => formatBytes(s.storedBytes), align: 'right' },
      { header: 'OBJECT-KEY', value: (s) => s.objectKey },
      { header: 'CREATED', value: (s) => formatTime(s.createdAt) },
    ],
    rows,
    { empty: '(no segments)' },
  );
  const notes = r.partitions
    .filter((p) => p.listed < p.segmentCount)
    .map((p) => `${p.topic}-${p.partition}: ${p.listed} of ${p.segmentCount} segments listed (--limit, --from-offset)`);
  return notes.length === 0 ? table : `${table}\n\n${notes.join('\n')}`;
}
