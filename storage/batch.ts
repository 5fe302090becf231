// The few record-batch v2 header fields storage needs (protocol README §7), read straight from the
// bytes. Batches are never re-encoded: the writer only rewrites baseOffset (0..7) and
// partitionLeaderEpoch (12..15), both outside the CRC (which covers 21..end).
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { setBaseOffset, setPartitionLeaderEpoch } from '../protocol/record-batch.js';

export const BATCH_HEADER_BYTES = 61;
const OFF_BATCH_LENGTH = 8;
const OFF_MAGIC = 16;
const OFF_LAST_OFFSET_DELTA = 23;
const OFF_MAX_TIMESTAMP = 35;
const OFF_RECORDS_COUNT = 57;
const TWO_32 = 4294967296;

/** Signed int64 at `pos` as a JS number (exact below 2^53, which offsets and timestamps are). */
export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
}

export function writeInt64(buf: Buffer, value: number, pos: number): void {
  const hi = Math.floor(value / TWO_32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * TWO_32, pos + 4);
}

export interface BatchInfo {
  /** Byte position of the batch inside the scanned buffer. */
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** lastOffsetDelta + 1: how many offsets the batch occupies. */
  offsetCount: number;
  recordsCount: number;
}

/** Size of the batch starting at `pos`, or -1 if the bytes there are not a plausible v2 batch. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  if (buf.length - pos < BATCH_HEADER_BYTES) return -1;
  const len = buf.readInt32BE(pos + OFF_BATCH_LENGTH);
  if (len < BATCH_HEADER_BYTES - 12 || pos + 12 + len > buf.length) return -1;
  if (buf[pos + OFF_MAGIC] !== 2) return -1;
  return len + 12;
}

export function batchInfoAt(buf: Buffer, pos: number, size: number): BatchInfo {
  const baseOffset = readInt64(buf, pos);
  const lastOffsetDelta = buf.readInt32BE(pos + OFF_LAST_OFFSET_DELTA);
  return {
    position: pos,
    size,
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    maxTimestamp: readInt64(buf, pos + OFF_MAX_TIMESTAMP),
    offsetCount: lastOffsetDelta + 1,
    recordsCount: buf.readInt32BE(pos + OFF_RECORDS_COUNT),
  };
}

/**
 * Splits a buffer of back-to-back record batches. Returns undefined if it is not exactly a sequence
 * of whole v2 batches (the caller decides whether that means bad input or a corrupt object).
 */
export function scanBatches(buf: Buffer): BatchInfo[] | undefined {
  const out: BatchInfo[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const size = batchSizeAt(buf, pos);
    if (size < 0) return undefined;
    const info = batchInfoAt(buf, pos, size);
    if (info.offsetCount < 1) return undefined;
    out.push(info);
    pos += size;
  }
  return out;
}

/** Validates produce input: one or more whole v2 batches. Throws CORRUPT_MESSAGE otherwise. */
export function scanProducedBatches(buf: Buffer): BatchInfo[] {
  const infos = buf.length === 0 ? undefined : scanBatches(buf);
  if (infos === undefined) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'records are not a sequence of whole v2 record batches');
  }
  return infos;
}

/** Rewrites the broker-assigned fields in place (both are outside the batch CRC). */
export function assignBatch(batch: Buffer, baseOffset: number, leaderEpoch: number): void {
  setBaseOffset(batch, baseOffset);
  setPartitionLeaderEpoch(batch, leaderEpoch);
}
