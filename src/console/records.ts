// The record browser's read: through the partition log, as a Fetch reads (the leader's writer high
// watermark, the tail cache, the segment reader), one page of records decoded with the protocol's
// record batch reader. Bounded per page: at most MAX_RECORDS records and MAX_READ_BYTES bytes of batches
// read; each record's key, value and header values are shown up to SHOWN_BYTES.
import { CompressionType, readBatchHeader, readBatchRecords, splitBatchesLenient, type BatchRecord } from '../../protocol/record-batch.js';
import { withDecompressionSlot } from '../decompression-slots.js';

export const DEFAULT_RECORDS = 50;
export const MAX_RECORDS = 500;
/** One read of the partition log. */
export const READ_BYTES = 1 << 20;
/** All reads of one page. */
export const MAX_READ_BYTES = 8 << 20;

/** What the browser needs of the partition log (AgentPartitionLog). */
export interface PartitionReader {
  state(topic: string, partitionId: number): Promise<{ highWatermark: number; logStartOffset: number; leaderEpoch: number }>;
  read(topic: string, partitionId: number, offset: number, maxBytes: number): Promise<Buffer[]>;
  offsetForTimestamp(topic: string, partitionId: number, timestamp: number): Promise<{ offset: number; timestamp: number } | undefined>;
}

export interface BrowseRequest {
  topic: string;
  partition: number;
  /** First offset wanted; default the log start offset. */
  offset?: number;
  /** Instead of offset: the first record with a timestamp at or after this (ms), as ListOffsets finds it. */
  timestamp?: number;
  limit?: number;
}

export interface RecordPage {
  topic: string;
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  leaderEpoch: number;
  /** The offset the page starts from (after the seek). */
  from: number;
  records: BatchRecord[];
  /** The offset to continue from, or undefined at the high watermark. */
  next: number | undefined;
  bytesRead: number;
}

export async function browseRecords(log: PartitionReader, req: BrowseRequest, maxDecompressedBytes: number): Promise<RecordPage> {
  const limit = Math.min(Math.max(1, req.limit ?? DEFAULT_RECORDS), MAX_RECORDS);
  const st = await log.state(req.topic, req.partition);
  let from: number;
  if (req.timestamp !== undefined) {
    const hit = await log.offsetForTimestamp(req.topic, req.partition, req.timestamp);
    from = hit?.offset ?? st.highWatermark;
  } else {
    from = Math.min(Math.max(req.offset ?? st.logStartOffset, st.logStartOffset), st.highWatermark);
  }
  const records: BatchRecord[] = [];
  let pos = from;
  let bytesRead = 0;
  while (records.length < limit && pos < st.highWatermark && bytesRead < MAX_READ_BYTES) {
    const chunks = await log.read(req.topic, req.partition, pos, READ_BYTES);
    const before = pos;
    for (const chunk of chunks) {
      for (const batch of splitBatchesLenient(chunk)) {
        if (records.length >= limit) break;
        bytesRead += batch.length;
        const h = readBatchHeader(batch);
        const last = h.baseOffset + h.lastOffsetDelta;
        if (last < pos) continue;
        if (!h.isControl) {
          const all = h.compression === CompressionType.none
            ? await readBatchRecords(batch, maxDecompressedBytes)
            : await withDecompressionSlot(() => readBatchRecords(batch, maxDecompressedBytes));
          for (const r of all) {
            if (r.offset < pos) continue;
            if (records.length >= limit) break;
            records.push(r);
          }
        }
        pos = records.length >= limit ? records[records.length - 1]!.offset + 1 : last + 1;
      }
    }
    if (pos === before) break; // nothing readable at this offset (e.g. removed by retention meanwhile)
  }
  return {
    topic: req.topic,
    partition: req.partition,
    logStartOffset: st.logStartOffset,
    highWatermark: st.highWatermark,
    leaderEpoch: st.leaderEpoch,
    from,
    records,
    next: pos < st.highWatermark ? pos : undefined,
    bytesRead,
  };
}

export type ValueFormat = 'text' | 'json' | 'hex';
export const SHOWN_BYTES = 4096;

export interface FormattedValue {
  text: string;
  /** json: the bytes parsed as JSON (pretty-printed); false when they did not. */
  json?: boolean;
  /** Bytes left out after SHOWN_BYTES. */
  omitted: number;
}

/** Bytes as text (UTF-8, invalid sequences as U+FFFD), pretty JSON, or a hex dump. */
export function formatValue(bytes: Buffer, format: ValueFormat): FormattedValue {
  const shown = bytes.subarray(0, SHOWN_BYTES);
  const omitted = bytes.length - shown.length;
  if (format === 'hex') return { text: hexDump(shown), omitted };
  const text = shown.toString('utf8');
  if (format === 'json' && omitted === 0) {
    try {
      return { text: JSON.stringify(JSON.parse(text), null, 2), json: true, omitted };
    } catch {
      return { text, json: false, omitted };
    }
  }
  return { text, omitted, ...(format === 'json' ? { json: false } : {}) };
}

/** 16 bytes a line: offset, hex bytes, printable ASCII. */
export function hexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n');
}
