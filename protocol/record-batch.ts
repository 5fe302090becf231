// Record batch v2 (magic 2): the unit a producer sends, the broker stores and a consumer fetches.
// Batches travel as Buffer views. The broker parses the 61-byte header, checks the CRC-32C and
// rewrites a few header fields in place; it never re-encodes records on the produce path. Records are
// only walked (and, for compressed batches, decompressed) when a feature needs them.
import { codecFor, CompressionType, DEFAULT_MAX_DECOMPRESSED_BYTES, type CompressionTypeValue } from './compression.js';
import { crc32c } from './crc32c.js';
import { ErrorCode, type ErrorCodeValue } from './errors.js';
import {
  DecodeError, readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong,
} from './varint.js';

export { CompressionType, type CompressionTypeValue } from './compression.js';

// --- layout -------------------------------------------------------------------------------------

/** Byte offsets of the header fields, from the start of the batch. */
export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Size of the fixed header; also the smallest valid batch. */
export const RECORD_BATCH_OVERHEAD = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12;
/** Bytes needed to read the magic byte. */
export const HEADER_SIZE_UP_TO_MAGIC = 17;
export const MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD; // 49
export const MAGIC_V2 = 2;

/** Attribute bits (int16; only the low byte is used). */
export const BatchAttributes = {
  compressionMask: 0x07,
  timestampType: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

export const TimestampType = { createTime: 0, logAppendTime: 1 } as const;
export type TimestampTypeValue = (typeof TimestampType)[keyof typeof TimestampType];

export const NO_TIMESTAMP = -1;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

/** Control record types (key: int16 version | int16 type). 2-6 are KRaft-internal. */
export const ControlRecordType = { abort: 0, commit: 1 } as const;

export interface RecordBatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** Unsigned. */
  crc: number;
  attributes: number;
  /** Attribute bits 0-2; 5-7 are invalid ids and are reported as they are. */
  compression: number;
  timestampType: TimestampTypeValue;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

// int64 fields are JS numbers: exact up to 2^53, which offsets, timestamps and producer ids never reach.
const TWO_32 = 0x1_0000_0000;

function readInt64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

function writeInt64(buf: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 field: ${value} is not a safe integer`);
  const hi = Math.floor(value / TWO_32);
  buf.writeInt32BE(hi, offset);
  buf.writeUInt32BE(value - hi * TWO_32, offset + 4);
}

/** Parses the 61-byte header. Checks the magic byte (v0/v1 layouts differ), not the CRC. */
export function readBatchHeader(batch: Buffer): RecordBatchHeader {
  if (batch.length < RECORD_BATCH_OVERHEAD) {
    throw new DecodeError('truncated', `record batch header needs ${RECORD_BATCH_OVERHEAD} bytes, got ${batch.length}`);
  }
  const magic = batch.readInt8(MAGIC_OFFSET);
  if (magic !== MAGIC_V2) throw new DecodeError('corrupt_batch', `record batch magic ${magic}, expected ${MAGIC_V2}`);
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  return {
    baseOffset: readInt64(batch, BASE_OFFSET_OFFSET),
    batchLength: batch.readInt32BE(BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: batch.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET),
    magic,
    crc: batch.readUInt32BE(CRC_OFFSET),
    attributes,
    compression: attributes & BatchAttributes.compressionMask,
    timestampType: attributes & BatchAttributes.timestampType ? TimestampType.logAppendTime : TimestampType.createTime,
    isTransactional: (attributes & BatchAttributes.transactional) !== 0,
    isControl: (attributes & BatchAttributes.control) !== 0,
    hasDeleteHorizon: (attributes & BatchAttributes.deleteHorizon) !== 0,
    lastOffsetDelta: batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64(batch, BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(batch, MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(batch, PRODUCER_ID_OFFSET),
    producerEpoch: batch.readInt16BE(PRODUCER_EPOCH_OFFSET),
    baseSequence: batch.readInt32BE(BASE_SEQUENCE_OFFSET),
    recordsCount: batch.readInt32BE(RECORDS_COUNT_OFFSET),
  };
}

/** Total size of the batch starting at `offset` (batchLength + 12). Needs 12 bytes. */
export function batchSizeAt(buf: Buffer, offset = 0): number {
  return LOG_OVERHEAD + buf.readInt32BE(offset + BATCH_LENGTH_OFFSET);
}

// --- splitting ----------------------------------------------------------------------------------

function split(records: Buffer, lenient: boolean): Buffer[] {
  const batches: Buffer[] = [];
  let pos = 0;
  while (pos < records.length) {
    const remaining = records.length - pos;
    if (remaining < LOG_OVERHEAD) {
      if (lenient) break;
      throw new DecodeError('corrupt_batch', `partial record batch at ${pos}: ${remaining} trailing bytes`);
    }
    const batchLength = records.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (batchLength < MIN_BATCH_LENGTH) {
      throw new DecodeError('corrupt_batch', `record batch at ${pos}: batchLength ${batchLength} < ${MIN_BATCH_LENGTH}`);
    }
    const size = LOG_OVERHEAD + batchLength;
    if (size > remaining) {
      if (lenient) break;
      throw new DecodeError('corrupt_batch', `partial record batch at ${pos}: needs ${size} bytes, ${remaining} left`);
    }
    const magic = records.readInt8(pos + MAGIC_OFFSET);
    if (magic !== MAGIC_V2) throw new DecodeError('corrupt_batch', `record batch at ${pos}: magic ${magic}, expected ${MAGIC_V2}`);
    batches.push(records.subarray(pos, pos + size));
    pos += size;
  }
  return batches;
}

/**
 * Splits back-to-back batches into views. Every batch must be complete, at least 61 bytes and
 * magic 2; anything else is DecodeError('corrupt_batch').
 */
export function splitBatches(records: Buffer): Buffer[] {
  return split(records, false);
}

/**
 * Like splitBatches, but stops silently at a partial trailing batch, as consumers do: a Fetch
 * response may cut the last batch at its size limit.
 */
export function splitBatchesLenient(records: Buffer): Buffer[] {
  return split(records, true);
}

// --- CRC and in-place rewrites ------------------------------------------------------------------

function batchEnd(batch: Buffer): number {
  const size = batchSizeAt(batch);
  if (size < RECORD_BATCH_OVERHEAD || size > batch.length) {
    throw new DecodeError('corrupt_batch', `record batch size ${size} does not fit a ${batch.length}-byte buffer`);
  }
  return size;
}

/** CRC-32C over attributes (offset 21) to the end of the batch, as the crc field should hold it. */
export function computeBatchCrc(batch: Buffer): number {
  return crc32c(batch.subarray(ATTRIBUTES_OFFSET, batchEnd(batch)));
}

/** True when the stored CRC matches. False (never a throw) for a buffer too short to be a batch. */
export function verifyBatchCrc(batch: Buffer): boolean {
  if (batch.length < RECORD_BATCH_OVERHEAD) return false;
  const size = batchSizeAt(batch);
  if (size < RECORD_BATCH_OVERHEAD || size > batch.length) return false;
  return crc32c(batch.subarray(ATTRIBUTES_OFFSET, size)) === batch.readUInt32BE(CRC_OFFSET);
}

/** Rewrites the crc field from the current content. Only after validating the old CRC. */
export function recomputeBatchCrc(batch: Buffer): void {
  batch.writeUInt32BE(computeBatchCrc(batch), CRC_OFFSET);
}

/** In place. baseOffset is outside the CRC, so the CRC stays valid. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  writeInt64(batch, BASE_OFFSET_OFFSET, baseOffset);
}

/** In place. partitionLeaderEpoch is outside the CRC, so the CRC stays valid. */
export function setPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  batch.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * In place: writes maxTimestamp and the timestamp-type bit (default: keep the current type). Both
 * are inside the CRC, so the CRC is recomputed, unless nothing changed. Validate the CRC first:
 * recomputing it over corrupted bytes would hide the corruption from consumers.
 */
export function setMaxTimestamp(batch: Buffer, timestampMs: number, timestampType?: TimestampTypeValue): void {
  if (batch.length < RECORD_BATCH_OVERHEAD) throw new DecodeError('truncated', 'record batch shorter than its header');
  batchEnd(batch); // bounds check before touching any byte
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const type = timestampType ?? (attributes & BatchAttributes.timestampType ? 1 : 0);
  const newAttributes =
    type === TimestampType.logAppendTime
      ? attributes | BatchAttributes.timestampType
      : attributes & ~BatchAttributes.timestampType;
  if (newAttributes === attributes && readInt64(batch, MAX_TIMESTAMP_OFFSET) === timestampMs) return;
  batch.writeInt16BE(newAttributes, ATTRIBUTES_OFFSET);
  writeInt64(batch, MAX_TIMESTAMP_OFFSET, timestampMs);
  recomputeBatchCrc(batch);
}

/**
 * In place, for topics with message.timestamp.type=LogAppendTime: sets attribute bit 3 and
 * maxTimestamp = broker time, then recomputes the CRC. Record deltas are left alone; consumers read
 * maxTimestamp as every record's timestamp.
 */
export function setLogAppendTime(batch: Buffer, timestampMs: number): void {
  setMaxTimestamp(batch, timestampMs, TimestampType.logAppendTime);
}

// --- records ------------------------------------------------------------------------------------

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One record. key, value and header values are views into the batch (or decompressed) bytes. */
export interface BatchRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** baseTimestamp + timestampDelta, or maxTimestamp for LogAppendTime batches. */
  timestamp: number;
  /** baseOffset + offsetDelta. */
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Scratch fields filled by scanRecord; reused across records to keep the validation walk lean. */
interface ScannedRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  keyStart: number;
  keyLength: number;
  valueStart: number;
  valueLength: number;
  headersStart: number;
  headersCount: number;
}

function newScan(): ScannedRecord {
  return {
    attributes: 0, timestampDelta: 0, offsetDelta: 0, keyStart: 0, keyLength: -1, valueStart: 0,
    valueLength: -1, headersStart: 0, headersCount: 0,
  };
}

// The record walk runs for every produced record, so its varint reads allocate nothing: each returns
// the value and leaves the position after it in `varintEnd`.
let varintEnd = 0;

/** Zig-zag signed 32-bit varint at `pos`; sets varintEnd. Same rules as readVarint. */
function scanVarint(data: Buffer, pos: number): number {
  // One and two bytes (values below 8192: lengths of records up to 8 KiB) inline; longer ones, and
  // every error, through readVarint.
  if (pos + 1 < data.length) {
    const b0 = data[pos]!;
    if (b0 < 0x80) {
      varintEnd = pos + 1;
      return (b0 >>> 1) ^ -(b0 & 1);
    }
    const b1 = data[pos + 1]!;
    if (b1 < 0x80) {
      const u = (b0 & 0x7f) | (b1 << 7);
      varintEnd = pos + 2;
      return (u >>> 1) ^ -(u & 1);
    }
  }
  const r = readVarint(data, pos);
  varintEnd = r.next;
  return r.value;
}

/** Zig-zag signed varlong at `pos` as a JS number; sets varintEnd. Same rules as readVarlong. */
function scanVarlong(data: Buffer, pos: number): number {
  const b0 = pos < data.length ? data[pos]! : -1;
  if (b0 >= 0 && b0 < 0x80) {
    varintEnd = pos + 1;
    return (b0 >>> 1) ^ -(b0 & 1);
  }
  const r = readVarlong(data, pos);
  varintEnd = r.next;
  return r.value;
}

/** Reads a nullable length (-1 = null) for `what`, bounded by `end`; sets varintEnd. */
function scanLength(data: Buffer, pos: number, end: number, what: string, nullable: boolean): number {
  const value = scanVarint(data, pos);
  const next = varintEnd;
  if (next > end) throw new DecodeError('corrupt_batch', `${what} length at ${pos} runs past its record`);
  if (value < (nullable ? -1 : 0)) throw new DecodeError('invalid_length', `${what} length ${value} at ${pos}`);
  if (value > 0 && value > end - next) {
    throw new DecodeError('corrupt_batch', `${what} of ${value} bytes at ${pos} runs past its record`);
  }
  return value;
}

/**
 * Validates the record at `pos` and fills `out`. Returns the offset after it. Every field must lie
 * within the record's declared length and use it exactly.
 */
function scanRecord(data: Buffer, pos: number, out: ScannedRecord): number {
  const length = scanVarint(data, pos);
  if (length < 0) throw new DecodeError('invalid_length', `record length ${length} at ${pos}`);
  const start = varintEnd;
  const end = start + length;
  if (end > data.length) throw new DecodeError('truncated', `record at ${pos} needs ${length} bytes, ${data.length - start} left`);
  if (length < 1) throw new DecodeError('corrupt_batch', `record at ${pos} is empty`);
  out.attributes = (data[start]! << 24) >> 24; // int8
  out.timestampDelta = scanVarlong(data, start + 1);
  if (varintEnd > end) throw new DecodeError('corrupt_batch', `record at ${pos}: timestampDelta runs past the record`);
  out.offsetDelta = scanVarint(data, varintEnd);
  if (varintEnd > end) throw new DecodeError('corrupt_batch', `record at ${pos}: offsetDelta runs past the record`);
  out.keyLength = scanLength(data, varintEnd, end, 'key', true);
  out.keyStart = varintEnd;
  let p = varintEnd + Math.max(out.keyLength, 0);
  out.valueLength = scanLength(data, p, end, 'value', true);
  out.valueStart = varintEnd;
  p = varintEnd + Math.max(out.valueLength, 0);
  const headersCount = scanLength(data, p, end, 'headers count', false);
  p = varintEnd;
  out.headersStart = p;
  out.headersCount = headersCount;
  for (let i = 0; i < headersCount; i++) {
    const hk = scanLength(data, p, end, 'header key', false);
    p = varintEnd + hk;
    const hv = scanLength(data, p, end, 'header value', true);
    p = varintEnd + Math.max(hv, 0);
  }
  if (p !== end) throw new DecodeError('corrupt_batch', `record at ${pos}: fields use ${p - start} of ${length} bytes`);
  return end;
}

/**
 * Zig-zag varint of at most 4 bytes at `pos`, below `end`; sets varintEnd. NaN for anything else
 * (longer, or running past `end`): the fast walk then leaves the batch to the full one.
 */
function shortVarint(data: Buffer, pos: number, end: number): number {
  let u = 0;
  for (let shift = 0; shift <= 21; shift += 7) {
    if (pos >= end) return NaN;
    const b = data[pos++]!;
    u |= (b & 0x7f) << shift;
    if (b < 0x80) {
      varintEnd = pos;
      return (u >>> 1) ^ -(u & 1);
    }
  }
  return NaN;
}

/**
 * The walk of a batch with nothing to report, in one tight loop: the records' max timestamp if every
 * record is well formed and passes the checks, else NaN, and validateBatchRecords walks again to say
 * what is wrong. Accepts only what the full walk accepts (it bails out on anything unusual, such as
 * varints longer than 4 bytes), so the two agree.
 */
function fastWalk(data: Buffer, count: number, baseTimestamp: number, checks: RecordChecks): number {
  const n = data.length;
  const requireKeys = checks.requireKeys === true;
  const window = checks.timestampWindow;
  let maxTimestamp = NO_TIMESTAMP;
  let p = 0;
  for (let i = 0; i < count; i++) {
    const length = shortVarint(data, p, n);
    if (!(length > 0)) return NaN;
    const start = varintEnd;
    const end = start + length;
    if (end > n) return NaN;
    const timestampDelta = shortVarint(data, start + 1, end);
    if (timestampDelta !== timestampDelta) return NaN;
    if (shortVarint(data, varintEnd, end) !== i) return NaN;
    const keyLength = shortVarint(data, varintEnd, end);
    if (!(keyLength >= -1) || (requireKeys && keyLength < 0)) return NaN;
    const valueLength = shortVarint(data, varintEnd + (keyLength > 0 ? keyLength : 0), end);
    if (!(valueLength >= -1)) return NaN;
    const headersCount = shortVarint(data, varintEnd + (valueLength > 0 ? valueLength : 0), end);
    if (!(headersCount >= 0)) return NaN;
    let q = varintEnd;
    for (let h = 0; h < headersCount; h++) {
      const keyBytes = shortVarint(data, q, end);
      if (!(keyBytes >= 0)) return NaN;
      const valueBytes = shortVarint(data, varintEnd + keyBytes, end);
      if (!(valueBytes >= -1)) return NaN;
      q = varintEnd + (valueBytes > 0 ? valueBytes : 0);
    }
    if (q !== end) return NaN;
    const timestamp = baseTimestamp + timestampDelta;
    if (!Number.isSafeInteger(timestamp)) return NaN;
    if (window && timestamp !== NO_TIMESTAMP
      && (window.nowMs - timestamp > window.beforeMaxMs || timestamp - window.nowMs > window.afterMaxMs)) return NaN;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    p = end;
  }
  return p === n ? maxTimestamp : NaN;
}

/** Materialises the headers of an already-scanned record (bounds were checked by scanRecord). */
function readHeaders(data: Buffer, scan: ScannedRecord): RecordHeader[] {
  const headers: RecordHeader[] = [];
  let p = scan.headersStart;
  for (let i = 0; i < scan.headersCount; i++) {
    const hk = readVarint(data, p);
    const key = data.toString('utf8', hk.next, hk.next + hk.value);
    p = hk.next + hk.value;
    const hv = readVarint(data, p);
    p = hv.next;
    if (hv.value < 0) headers.push({ key, value: null });
    else {
      headers.push({ key, value: data.subarray(p, p + hv.value) });
      p += hv.value;
    }
  }
  return headers;
}

/** The (uncompressed) records bytes: given explicitly, or the tail of an uncompressed batch. */
function recordsBytesOf(batch: Buffer, header: RecordBatchHeader, recordsBytes: Buffer | undefined): Buffer {
  if (recordsBytes !== undefined) return recordsBytes;
  if (header.compression !== CompressionType.none) {
    throw new DecodeError('invalid_value', `batch is compressed (codec ${header.compression}): decompressBatchRecords() first`);
  }
  return batch.subarray(RECORDS_OFFSET, batchEnd(batch));
}

/**
 * Lazily decodes the records of a batch. For an uncompressed batch pass only the batch; for a
 * compressed one pass the result of `await decompressBatchRecords(batch)` as `recordsBytes`.
 * Yields exactly recordsCount records; malformed records, a short count or trailing bytes throw
 * DecodeError.
 */
export function* iterateRecords(batch: Buffer, recordsBytes?: Buffer): Generator<BatchRecord, void, undefined> {
  const header = readBatchHeader(batch);
  const data = recordsBytesOf(batch, header, recordsBytes);
  const logAppendTime = header.timestampType === TimestampType.logAppendTime;
  const scan = newScan();
  let pos = 0;
  for (let i = 0; i < header.recordsCount; i++) {
    if (pos >= data.length) {
      throw new DecodeError('truncated', `batch declares ${header.recordsCount} records, found ${i}`);
    }
    pos = scanRecord(data, pos, scan);
    yield {
      attributes: scan.attributes,
      timestampDelta: scan.timestampDelta,
      offsetDelta: scan.offsetDelta,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + scan.timestampDelta,
      offset: header.baseOffset + scan.offsetDelta,
      key: scan.keyLength < 0 ? null : data.subarray(scan.keyStart, scan.keyStart + scan.keyLength),
      value: scan.valueLength < 0 ? null : data.subarray(scan.valueStart, scan.valueStart + scan.valueLength),
      headers: scan.headersCount === 0 ? [] : readHeaders(data, scan),
    };
  }
  if (pos !== data.length) {
    throw new DecodeError('corrupt_batch', `${data.length - pos} bytes left after the ${header.recordsCount} declared records`);
  }
}

/**
 * The uncompressed records bytes of a batch: a view if uncompressed, else a new decompressed Buffer
 * of at most maxBytes (more is DecompressedTooLargeError, a DecodeError of kind 'too_large').
 */
export async function decompressBatchRecords(batch: Buffer, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Promise<Buffer> {
  const header = readBatchHeader(batch);
  const body = batch.subarray(RECORDS_OFFSET, batchEnd(batch));
  if (header.compression === CompressionType.none) return body;
  return codecFor(header.compression).decompress(body, maxBytes);
}

/** Convenience for consumers and tests: every record of a batch, decompressing (bounded) if needed. */
export async function readBatchRecords(batch: Buffer, maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Promise<BatchRecord[]> {
  return [...iterateRecords(batch, await decompressBatchRecords(batch, maxDecompressedBytes))];
}

export interface ControlRecord {
  version: number;
  /** ControlRecordType: 0 abort, 1 commit (2-6 are KRaft-internal). */
  type: number;
  /** Transaction markers only. */
  coordinatorEpoch?: number;
}

/** Parses a control record's key (int16 version, int16 type) and, for markers, its value. */
export function readControlRecord(record: Pick<BatchRecord, 'key' | 'value'>): ControlRecord {
  const { key, value } = record;
  if (key === null || key.length < 4) throw new DecodeError('corrupt_batch', 'control record key needs 4 bytes');
  const out: ControlRecord = { version: key.readInt16BE(0), type: key.readInt16BE(2) };
  if (out.type === ControlRecordType.abort || out.type === ControlRecordType.commit) {
    if (value === null || value.length < 6) throw new DecodeError('corrupt_batch', 'transaction marker value needs 6 bytes');
    out.coordinatorEpoch = value.readInt32BE(2);
  }
  return out;
}

// --- produce validation -------------------------------------------------------------------------

/** One bad record of a refused batch (Produce v8+ record_errors, KIP-467). */
export interface RecordError {
  /** Index of the record inside its batch. */
  batchIndex: number;
  message: string | null;
}

export type BatchValidationFailure = { ok: false; errorCode: ErrorCodeValue; message: string; recordErrors?: RecordError[] };
export type ProduceValidationResult =
  | { ok: true; batch: Buffer; header: RecordBatchHeader; recordsChecked: boolean; recordsMaxTimestamp?: number }
  | BatchValidationFailure;

export interface RecordChecks {
  /** Compacted topics: every record needs a key (else INVALID_RECORD). */
  requireKeys?: boolean;
  /**
   * CreateTime topics: record timestamps must lie within [now - beforeMaxMs, now + afterMaxMs]
   * (message.timestamp.before/after.max.ms), else INVALID_TIMESTAMP.
   */
  timestampWindow?: { nowMs: number; beforeMaxMs: number; afterMaxMs: number };
}

export interface ProduceValidationOptions extends RecordChecks {
  apiVersion: number;
  maxMessageBytes: number;
  /**
   * Walk the records of an uncompressed batch too (default true). Compressed batches are never
   * walked here; validateProduceBatch decompresses and walks them.
   */
  checkRecords?: boolean;
}

/**
 * record_errors lists at most this many records: a batch of millions of bad records must not turn
 * into a response of millions of entries. The batch fails as a whole either way.
 */
export const MAX_RECORD_ERRORS = 1000;

function fail(errorCode: ErrorCodeValue, message: string, recordErrors?: RecordError[]): BatchValidationFailure {
  return recordErrors === undefined ? { ok: false, errorCode, message } : { ok: false, errorCode, message, recordErrors };
}

/** True when `buf` from `pos` holds at least one complete batch-shaped frame. */
function looksLikeCompleteBatch(buf: Buffer, pos: number): boolean {
  const remaining = buf.length - pos;
  if (remaining < RECORD_BATCH_OVERHEAD) return false;
  const size = batchSizeAt(buf, pos);
  return size >= RECORD_BATCH_OVERHEAD && size <= remaining;
}

/**
 * Kafka's checks on the `records` of one partition in a Produce request (v3+), in Kafka's order:
 * request-level checks (one batch, magic 2, zstd needs v7), then size, CRC and the batch-level rules
 * of LogValidator; the records of an uncompressed batch too. Pure, no copies: on success `batch` is a
 * view of `records`. Compressed batches need validateProduceBatch (it decompresses).
 *
 * Codec ids 5-7 get INVALID_RECORD. Kafka itself throws IllegalArgumentException there, which
 * surfaces as UNKNOWN_SERVER_ERROR; INVALID_RECORD says what is wrong and, unlike CORRUPT_MESSAGE,
 * is not retriable, so producers do not resend a batch that can never succeed.
 */
export function validateProduceRecords(records: Buffer | null, opts: ProduceValidationOptions): ProduceValidationResult {
  if (records === null || records.length === 0) {
    return fail(ErrorCode.INVALID_RECORD, `Produce v${opts.apiVersion} needs exactly one record batch per partition, got none`);
  }
  if (records.length < HEADER_SIZE_UP_TO_MAGIC) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `records of ${records.length} bytes cannot hold a record batch`);
  }
  const magic = records.readInt8(MAGIC_OFFSET);
  if (magic !== MAGIC_V2) return fail(ErrorCode.INVALID_RECORD, `record batch magic ${magic}; only magic 2 is accepted`);

  const batchLength = records.readInt32BE(BATCH_LENGTH_OFFSET);
  if (batchLength < MIN_BATCH_LENGTH) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `batchLength ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`);
  }
  const size = LOG_OVERHEAD + batchLength;
  if (size > records.length) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `batchLength says ${size} bytes, only ${records.length} received`);
  }
  // Bits 0-2 are readable now that the header is known to be complete (61 <= size <= length).
  const compression = records.readInt16BE(ATTRIBUTES_OFFSET) & BatchAttributes.compressionMask;
  if (compression === CompressionType.zstd && opts.apiVersion < 7) {
    return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `zstd needs Produce v7+, request is v${opts.apiVersion}`);
  }
  if (size < records.length) {
    return looksLikeCompleteBatch(records, size)
      ? fail(ErrorCode.INVALID_RECORD, `Produce v${opts.apiVersion} needs exactly one record batch per partition`)
      : fail(ErrorCode.CORRUPT_MESSAGE, `batchLength says ${size} bytes, ${records.length} received`);
  }
  if (size > opts.maxMessageBytes) {
    return fail(ErrorCode.MESSAGE_TOO_LARGE, `record batch of ${size} bytes exceeds max.message.bytes ${opts.maxMessageBytes}`);
  }
  const batch = records;
  if (!verifyBatchCrc(batch)) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `record batch CRC mismatch (stored ${batch.readUInt32BE(CRC_OFFSET)}, computed ${computeBatchCrc(batch)})`);
  }
  const header = readBatchHeader(batch);
  if (header.compression > CompressionType.zstd) {
    return fail(ErrorCode.INVALID_RECORD, `unknown compression type id ${header.compression}`);
  }
  if (header.recordsCount <= 0) return fail(ErrorCode.INVALID_RECORD, `invalid record count ${header.recordsCount}`);
  if (header.lastOffsetDelta + 1 !== header.recordsCount) {
    return fail(ErrorCode.INVALID_RECORD, `lastOffsetDelta ${header.lastOffsetDelta} does not match ${header.recordsCount} records`);
  }
  if (header.isControl) return fail(ErrorCode.INVALID_RECORD, 'clients may not produce control batches');
  if (header.producerId >= 0 && header.baseSequence < 0) {
    return fail(ErrorCode.INVALID_RECORD, `producerId ${header.producerId} with invalid baseSequence ${header.baseSequence}`);
  }
  // LogAppendTime is the broker's to set. Kafka refuses it per record (INVALID_TIMESTAMP) except in
  // one corner (CreateTime topic, valid maxTimestamp) where it would then keep the producer's value.
  if (header.timestampType === TimestampType.logAppendTime) {
    return fail(ErrorCode.INVALID_TIMESTAMP, 'producers may not set the LogAppendTime timestamp type');
  }
  if (opts.checkRecords === false || header.compression !== CompressionType.none) {
    return { ok: true, batch, header, recordsChecked: false };
  }
  const checked = validateBatchRecords(batch, header, undefined, opts);
  if (!checked.ok) return checked;
  return { ok: true, batch, header, recordsChecked: true, recordsMaxTimestamp: checked.maxTimestamp };
}

export interface ProduceBatchOptions extends ProduceValidationOptions {
  /** Most bytes a compressed batch may decompress to; more is MESSAGE_TOO_LARGE. */
  maxDecompressedBytes: number;
}

/**
 * validateProduceRecords plus, for a compressed batch, its records: decompressed (bounded) and
 * walked like an uncompressed one. A batch that would decompress to more than maxDecompressedBytes
 * is MESSAGE_TOO_LARGE (not retriable; Java producers split such a batch and resend the halves);
 * one that does not decompress is CORRUPT_MESSAGE, as in Kafka.
 */
export async function validateProduceBatch(records: Buffer | null, opts: ProduceBatchOptions): Promise<ProduceValidationResult> {
  const first = validateProduceRecords(records, opts);
  if (!first.ok || first.recordsChecked || opts.checkRecords === false) return first;
  let data: Buffer;
  try {
    data = await codecFor(first.header.compression).decompress(first.batch.subarray(RECORDS_OFFSET, batchEnd(first.batch)), opts.maxDecompressedBytes);
  } catch (err) {
    if (err instanceof DecodeError) {
      return fail(err.kind === 'too_large' ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.CORRUPT_MESSAGE, err.message);
    }
    throw err;
  }
  const checked = validateBatchRecords(first.batch, first.header, data, opts);
  if (!checked.ok) return checked;
  return { ok: true, batch: first.batch, header: first.header, recordsChecked: true, recordsMaxTimestamp: checked.maxTimestamp };
}

/** The record_errors answer: INVALID_TIMESTAMP if any record has a bad timestamp, as in Kafka. */
function recordsFailure(errors: RecordError[], badTimestamps: number, bad: number, count: number): BatchValidationFailure {
  const shown = errors.slice(0, 3).map((e) => `record ${e.batchIndex}: ${e.message}`).join('; ');
  const code = badTimestamps > 0 ? ErrorCode.INVALID_TIMESTAMP : ErrorCode.INVALID_RECORD;
  return fail(code, `${bad} of ${count} records rejected (${shown}${bad > 3 ? '; …' : ''})`, errors);
}

/**
 * Record-level checks (LogValidator): records parse and fill the batch exactly, offset deltas run
 * 0, 1, 2…, plus the optional key and timestamp rules. For a compressed batch pass the decompressed
 * bytes. Returns the real max timestamp: for CreateTime topics Kafka rewrites maxTimestamp when the
 * producer's differs (setMaxTimestamp).
 *
 * Like Kafka, every record is checked and each bad one is named (record_errors, at most
 * MAX_RECORD_ERRORS of them); a record that does not parse ends the walk. Timestamps must also be
 * safe integers (|t| < 2^53): offsets and timestamps are JS numbers in storage and metadata.
 */
export function validateBatchRecords(
  batch: Buffer,
  header: RecordBatchHeader,
  recordsBytes: Buffer | undefined,
  checks: RecordChecks = {},
): { ok: true; maxTimestamp: number } | BatchValidationFailure {
  let data: Buffer;
  try {
    data = recordsBytesOf(batch, header, recordsBytes);
  } catch (err) {
    if (err instanceof DecodeError) return fail(ErrorCode.CORRUPT_MESSAGE, err.message);
    throw err;
  }
  const count = header.recordsCount;
  const fast = fastWalk(data, count, header.baseTimestamp, checks);
  if (fast === fast) return { ok: true, maxTimestamp: fast };
  const window = checks.timestampWindow;
  const scan = newScan();
  let maxTimestamp = NO_TIMESTAMP;
  let pos = 0;
  let errors: RecordError[] | undefined;
  let bad = 0;
  let badTimestamps = 0;
  const reject = (i: number, message: string) => {
    bad++;
    errors ??= [];
    if (errors.length < MAX_RECORD_ERRORS) errors.push({ batchIndex: i, message });
  };
  for (let i = 0; i < count; i++) {
    if (pos >= data.length) {
      return errors === undefined
        ? fail(ErrorCode.INVALID_RECORD, `batch declares ${count} records, found ${i}`)
        : recordsFailure(errors, badTimestamps, bad, count);
    }
    try {
      pos = scanRecord(data, pos, scan);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      reject(i, `malformed record: ${err.message}`);
      return recordsFailure(errors!, badTimestamps, bad, count);
    }
    if (scan.offsetDelta !== i) {
      reject(i, `offsetDelta ${scan.offsetDelta}, expected ${i}`);
      continue;
    }
    if (checks.requireKeys && scan.keyLength < 0) {
      reject(i, 'no key; compacted topics need one');
      continue;
    }
    const timestamp = header.baseTimestamp + scan.timestampDelta;
    // Beyond Kafka's window check: storage holds timestamps as JS numbers, exact below 2^53.
    if (!Number.isSafeInteger(timestamp)) {
      badTimestamps++;
      reject(i, `timestamp ${timestamp} is out of the range this broker stores`);
      continue;
    }
    // Kafka's arithmetic: now - t against before.max.ms, t - now against after.max.ms.
    if (window && timestamp !== NO_TIMESTAMP
      && (window.nowMs - timestamp > window.beforeMaxMs || timestamp - window.nowMs > window.afterMaxMs)) {
      badTimestamps++;
      reject(i, `timestamp ${timestamp} is out of range [${window.nowMs - window.beforeMaxMs}, ${window.nowMs + window.afterMaxMs}]`);
      continue;
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
  }
  if (errors !== undefined) return recordsFailure(errors, badTimestamps, bad, count);
  if (pos !== data.length) return fail(ErrorCode.INVALID_RECORD, `${data.length - pos} bytes left after the declared records`);
  return { ok: true, maxTimestamp };
}

/**
 * validateBatchRecords for any codec: decompresses first (at most maxDecompressedBytes). Records
 * that do not decompress are CORRUPT_MESSAGE, too many bytes MESSAGE_TOO_LARGE.
 */
export async function validateBatchRecordsAsync(
  batch: Buffer,
  header: RecordBatchHeader,
  checks: RecordChecks = {},
  maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
): Promise<{ ok: true; maxTimestamp: number } | BatchValidationFailure> {
  let data: Buffer;
  try {
    data = await decompressBatchRecords(batch, maxDecompressedBytes);
  } catch (err) {
    if (err instanceof DecodeError) return fail(err.kind === 'too_large' ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.CORRUPT_MESSAGE, err.message);
    throw err;
  }
  return validateBatchRecords(batch, header, data, checks);
}

// --- building -----------------------------------------------------------------------------------

type Bytes = Buffer | string | null | undefined;

export interface RecordInput {
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Array<{ key: string; value: Buffer | string | null }>;
  /** Default: the batch's baseTimestamp option, else now. */
  timestamp?: number;
  /** Default: the record's index. */
  offsetDelta?: number;
}

export interface BuildRecordBatchOptions {
  baseOffset?: number;
  /** Producers send -1; the leader stamps its epoch. */
  partitionLeaderEpoch?: number;
  /** Default: the first record's timestamp (Kafka's choice), -1 for an empty batch. */
  baseTimestamp?: number;
  /** Default: the largest record timestamp. */
  maxTimestamp?: number;
  timestampType?: TimestampTypeValue;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  compression?: CompressionTypeValue;
  records: RecordInput[];
}

function byteLen(b: Bytes): number {
  if (b === null || b === undefined) return -1;
  return typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length;
}

function sizeOfLong(v: number): number {
  // Zig-zag of an int32 is the same in 32 and 64 bits; skip sizeOfVarlong's BigInt for the common case.
  return v >= -0x8000_0000 && v <= 0x7fff_ffff ? sizeOfVarint(v) : sizeOfVarlong(v);
}

function writeBytes(buf: Buffer, pos: number, b: Bytes, len: number): number {
  pos = writeVarint(buf, pos, len);
  if (len <= 0 || b === null || b === undefined) return pos;
  if (typeof b === 'string') buf.write(b, pos, len, 'utf8');
  else b.copy(buf, pos);
  return pos + len;
}

interface EncodedRecords {
  bytes: Buffer;
  count: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
}

/** Encodes the records section into a new Buffer, after `reserve` bytes left for the batch header. */
function encodeRecords(opts: BuildRecordBatchOptions, reserve: number): EncodedRecords {
  const now = Date.now();
  const records = opts.records;
  const n = records.length;
  const timestamps = new Array<number>(n);
  for (let i = 0; i < n; i++) timestamps[i] = records[i].timestamp ?? opts.baseTimestamp ?? now;
  const baseTimestamp = opts.baseTimestamp ?? (n > 0 ? timestamps[0] : NO_TIMESTAMP);

  // Pass 1: sizes.
  const keyLens = new Array<number>(n);
  const valueLens = new Array<number>(n);
  const bodySizes = new Array<number>(n);
  const headerLens: number[] = [];
  let total = 0;
  let maxTimestamp = NO_TIMESTAMP;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const ts = timestamps[i];
    if (!Number.isSafeInteger(ts)) throw new RangeError(`record ${i}: timestamp ${ts} is not a safe integer`);
    if (ts > maxTimestamp) maxTimestamp = ts;
    const offsetDelta = r.offsetDelta ?? i;
    const kl = byteLen(r.key);
    const vl = byteLen(r.value);
    keyLens[i] = kl;
    valueLens[i] = vl;
    let body = 1 + sizeOfLong(ts - baseTimestamp) + sizeOfVarint(offsetDelta)
      + sizeOfVarint(kl) + Math.max(kl, 0) + sizeOfVarint(vl) + Math.max(vl, 0);
    const hs = r.headers ?? [];
    body += sizeOfVarint(hs.length);
    for (const h of hs) {
      const hk = Buffer.byteLength(h.key, 'utf8');
      const hv = byteLen(h.value);
      headerLens.push(hk, hv);
      body += sizeOfVarint(hk) + hk + sizeOfVarint(hv) + Math.max(hv, 0);
    }
    bodySizes[i] = body;
    total += sizeOfVarint(body) + body;
  }

  // Pass 2: bytes.
  const bytes = Buffer.allocUnsafe(reserve + total);
  let pos = reserve;
  let h = 0;
  let lastOffsetDelta = -1;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const offsetDelta = r.offsetDelta ?? i;
    lastOffsetDelta = offsetDelta;
    pos = writeVarint(bytes, pos, bodySizes[i]);
    bytes[pos++] = 0; // record attributes: unused
    pos = writeVarlong(bytes, pos, timestamps[i] - baseTimestamp);
    pos = writeVarint(bytes, pos, offsetDelta);
    pos = writeBytes(bytes, pos, r.key, keyLens[i]);
    pos = writeBytes(bytes, pos, r.value, valueLens[i]);
    const hs = r.headers ?? [];
    pos = writeVarint(bytes, pos, hs.length);
    for (const hd of hs) {
      pos = writeBytes(bytes, pos, hd.key, headerLens[h++]);
      pos = writeBytes(bytes, pos, hd.value, headerLens[h++]);
    }
  }
  return { bytes, count: n, lastOffsetDelta, baseTimestamp, maxTimestamp: opts.maxTimestamp ?? maxTimestamp };
}

function writeHeader(batch: Buffer, opts: BuildRecordBatchOptions, enc: EncodedRecords, compression: number): void {
  let attributes = compression & BatchAttributes.compressionMask;
  if (opts.timestampType === TimestampType.logAppendTime) attributes |= BatchAttributes.timestampType;
  if (opts.isTransactional) attributes |= BatchAttributes.transactional;
  if (opts.isControl) attributes |= BatchAttributes.control;
  writeInt64(batch, BASE_OFFSET_OFFSET, opts.baseOffset ?? 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(opts.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(MAGIC_V2, MAGIC_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(enc.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(batch, BASE_TIMESTAMP_OFFSET, enc.baseTimestamp);
  writeInt64(batch, MAX_TIMESTAMP_OFFSET, enc.maxTimestamp);
  writeInt64(batch, PRODUCER_ID_OFFSET, opts.producerId ?? NO_PRODUCER_ID);
  batch.writeInt16BE(opts.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(opts.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(enc.count, RECORDS_COUNT_OFFSET);
  recomputeBatchCrc(batch);
}

/** Builds an uncompressed batch synchronously (one allocation). */
export function buildRecordBatchSync(opts: BuildRecordBatchOptions): Buffer {
  const compression = opts.compression ?? CompressionType.none;
  if (compression !== CompressionType.none) {
    throw new TypeError('buildRecordBatchSync builds uncompressed batches only; use buildRecordBatch');
  }
  const enc = encodeRecords(opts, RECORD_BATCH_OVERHEAD);
  writeHeader(enc.bytes, opts, enc, compression);
  return enc.bytes;
}

/** Builds a batch with any codec: computes deltas, lastOffsetDelta, timestamps and the CRC. */
export async function buildRecordBatch(opts: BuildRecordBatchOptions): Promise<Buffer> {
  const compression = opts.compression ?? CompressionType.none;
  if (compression === CompressionType.none) return buildRecordBatchSync(opts);
  const enc = encodeRecords(opts, 0);
  const compressed = await codecFor(compression).compress(enc.bytes);
  const batch = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + compressed.length);
  compressed.copy(batch, RECORD_BATCH_OVERHEAD);
  writeHeader(batch, opts, enc, compression);
  return batch;
}

export interface ControlBatchOptions {
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  /** Default: now. */
  timestamp?: number;
}

/**
 * A transaction marker: a transactional control batch holding one control record, key
 * (version 0, type) and value (version 0, coordinatorEpoch), as the transaction coordinator writes.
 */
export function buildControlBatch(type: 'commit' | 'abort', opts: ControlBatchOptions): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type === 'commit' ? ControlRecordType.commit : ControlRecordType.abort, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(opts.coordinatorEpoch, 2);
  const timestamp = opts.timestamp ?? Date.now();
  return buildRecordBatchSync({
    baseOffset: opts.baseOffset,
    partitionLeaderEpoch: opts.partitionLeaderEpoch,
    baseTimestamp: timestamp,
    producerId: opts.producerId,
    producerEpoch: opts.producerEpoch,
    baseSequence: NO_SEQUENCE,
    isTransactional: true,
    isControl: true,
    records: [{ key, value, timestamp }],
  });
}
