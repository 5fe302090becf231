// The four compression codecs of record batch v2. A compressed batch holds all its records as one
// compressed stream after the 61-byte header. Every codec turns malformed input into
// DecodeError('corrupt_batch'), so callers only ever handle one error type.
// Decompression is always bounded (a few KiB of zstd or gzip can expand to gigabytes): every
// decompress call names the most bytes it accepts, and input that would exceed it is refused with
// DecompressedTooLargeError before the output is allocated (snappy, lz4, zstd: from the sizes the
// format declares) or as soon as the output crosses it (gzip).
import { promisify } from 'node:util';
import { gzip as gzipCb, gunzip as gunzipCb, type ZlibOptions } from 'node:zlib';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappy';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { DecodeError } from './varint.js';

/**
 * The decompression bound when the caller has no setting at hand (the agent passes
 * --max-decompressed-bytes): far above what any client's batch holds (Kafka's max.message.bytes is 1
 * MiB compressed), far below what would hurt the agent.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Codec ids in attribute bits 0-2. 5-7 are invalid. */
export const CompressionType = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const;
export type CompressionTypeName = keyof typeof CompressionType;
export type CompressionTypeValue = (typeof CompressionType)[CompressionTypeName];

const NAMES: readonly CompressionTypeName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function isCompressionType(value: number): value is CompressionTypeValue {
  return Number.isInteger(value) && value >= 0 && value <= 4;
}

export function compressionName(type: number): string {
  return NAMES[type] ?? `unknown(${type})`;
}

export interface CompressionCodec {
  readonly type: CompressionTypeValue;
  readonly name: CompressionTypeName;
  compress(data: Buffer): Promise<Buffer>;
  /**
   * The decompressed bytes, at most `maxBytes` of them: more is DecompressedTooLargeError, which is
   * detected before the output is allocated wherever the format declares its sizes.
   */
  decompress(data: Buffer, maxBytes: number): Promise<Buffer>;
}

/** Records that would decompress to more than the configured bound (never a corrupt batch). */
export class DecompressedTooLargeError extends DecodeError {
  constructor(codec: string, readonly maxBytes: number, detail: string) {
    super('too_large', `${codec}: records decompress to more than ${maxBytes} bytes (${detail})`);
    this.name = 'DecompressedTooLargeError';
  }
}

function checkBound(codec: string, size: number, maxBytes: number, what: string): void {
  if (size > maxBytes) throw new DecompressedTooLargeError(codec, maxBytes, `${what} ${size}`);
}

function corrupt(codec: string, err: unknown): DecodeError {
  const detail = err instanceof Error ? err.message : String(err);
  return new DecodeError('corrupt_batch', `${codec}: cannot decompress records (${detail})`);
}

/** Runs a native decompressor and maps whatever it throws to DecodeError. */
async function guarded(codec: string, fn: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw corrupt(codec, err);
  }
}

const gzipAsync = promisify(gzipCb);
const gunzipAsync = promisify(gunzipCb);

const none: CompressionCodec = {
  type: CompressionType.none,
  name: 'none',
  compress: async (data) => data,
  decompress: async (data, maxBytes) => {
    checkBound('none', data.length, maxBytes, 'records of');
    return data;
  },
};

// gzip declares no size (its trailer's ISIZE is mod 2^32 and comes last): zlib stops at
// maxOutputLength instead, with ERR_BUFFER_TOO_LARGE.
const gzip: CompressionCodec = {
  type: CompressionType.gzip,
  name: 'gzip',
  compress: (data) => gzipAsync(data),
  // gunzip also reads multi-member streams, which some writers emit.
  decompress: (data, maxBytes) =>
    guarded('gzip', async () => {
      try {
        // maxOutputLength must be ≥ 1; an empty result is still allowed when maxBytes is 0.
        return await gunzipAsync(data, { maxOutputLength: Math.max(maxBytes, 1) } as ZlibOptions);
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new DecompressedTooLargeError('gzip', maxBytes, 'output stopped at the bound');
        throw err;
      }
    }).then((out) => {
      checkBound('gzip', out.length, maxBytes, 'output of');
      return out;
    }),
};

// --- snappy -------------------------------------------------------------------------------------
// Kafka's Java client writes the snappy-java ("xerial") framing: an 8-byte magic, int32 version,
// int32 minimum compatible version, then blocks of int32 length + one raw snappy block. Its reader
// also accepts a bare raw snappy stream, and so does ours.

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size; consumers size their buffers around it. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function hasXerialMagic(data: Buffer, offset: number): boolean {
  if (data.length - offset < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[offset + i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/**
 * A raw snappy block starts with its uncompressed length (an unsigned varint, at most 32 bits), which
 * the decoder allocates and then fills exactly: checking it bounds the output.
 */
function snappyLength(block: Buffer, at: number): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new DecodeError('corrupt_batch', `snappy: truncated length preamble at ${at}`);
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw new DecodeError('corrupt_batch', `snappy: length preamble at ${at} is longer than 5 bytes`);
}

async function rawSnappyDecode(block: Buffer): Promise<Buffer> {
  return (await snappyUncompress(block, { asBuffer: true })) as Buffer;
}

async function xerialCompress(data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let off = 0; off < data.length; off += XERIAL_BLOCK_SIZE) {
    chunks.push(data.subarray(off, Math.min(off + XERIAL_BLOCK_SIZE, data.length)));
  }
  const blocks = await Promise.all(chunks.map((c) => snappyCompress(c)));
  let size = XERIAL_HEADER_SIZE;
  for (const b of blocks) size += 4 + b.length;
  const out = Buffer.allocUnsafe(size);
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(1, 8); // version
  out.writeInt32BE(1, 12); // minimum compatible version
  let pos = XERIAL_HEADER_SIZE;
  for (const b of blocks) {
    out.writeInt32BE(b.length, pos);
    b.copy(out, pos + 4);
    pos += 4 + b.length;
  }
  return out;
}

/** The blocks of a xerial stream, checked against the bound before any is decompressed. */
function xerialBlocks(data: Buffer, maxBytes: number): Buffer[] {
  const blocks: Buffer[] = [];
  let total = 0;
  let pos = 0;
  while (pos < data.length) {
    // snappy-java tolerates concatenated streams: a header may reappear at a block boundary. A block
    // length can never start with 0x82 (it would be negative), so this cannot be mistaken for one.
    if (hasXerialMagic(data, pos)) {
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (data.length - pos < 4) throw new DecodeError('corrupt_batch', `snappy: truncated xerial block header at ${pos}`);
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len < 0 || len > data.length - pos) {
      throw new DecodeError('corrupt_batch', `snappy: xerial block of ${len} bytes at ${pos - 4} exceeds the input`);
    }
    const block = data.subarray(pos, pos + len);
    total += snappyLength(block, pos);
    checkBound('snappy', total, maxBytes, 'xerial blocks declare at least');
    blocks.push(block);
    pos += len;
  }
  return blocks;
}

async function xerialDecompress(data: Buffer, maxBytes: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const block of xerialBlocks(data, maxBytes)) out.push(await rawSnappyDecode(block));
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

const snappy: CompressionCodec = {
  type: CompressionType.snappy,
  name: 'snappy',
  compress: (data) => xerialCompress(data),
  decompress: (data, maxBytes) =>
    guarded('snappy', async () => {
      if (hasXerialMagic(data, 0)) return xerialDecompress(data, maxBytes);
      checkBound('snappy', snappyLength(data, 0), maxBytes, 'the block declares');
      return rawSnappyDecode(data);
    }),
};

// --- lz4 / zstd ---------------------------------------------------------------------------------
// Neither native decoder takes an output limit, and neither format has to declare its content size
// (Kafka's Java and librdkafka writers stream, so they do not). But both are sequences of blocks
// whose headers say how big each block is, and a block never regenerates more than the frame's
// maximum block size: walking the headers (cheap: no decompression) gives an upper bound on the
// output before the native decoder runs. Writers fill every block but the last, so for real batches
// the bound is within one block of the true size.

const SKIPPABLE_MAGIC_MIN = 0x184d2a50;
const SKIPPABLE_MAGIC_MAX = 0x184d2a5f;

function need(data: Buffer, pos: number, n: number, codec: string, what: string): void {
  if (data.length - pos < n) throw new DecodeError('corrupt_batch', `${codec}: truncated ${what} at ${pos}`);
}

/** Skips a skippable frame (lz4 and zstd share them); returns the position after it. */
function skipSkippable(data: Buffer, pos: number, codec: string): number {
  need(data, pos, 8, codec, 'skippable frame');
  const size = data.readUInt32LE(pos + 4);
  need(data, pos + 8, size, codec, 'skippable frame');
  return pos + 8 + size;
}

const LZ4_MAGIC = 0x184d2204;
/** Block maximum sizes by BD bits 4-6 (4: 64 KiB … 7: 4 MiB). */
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
/** An LZ4 sequence regenerates at most 255 bytes per input byte (match length extension bytes). */
const LZ4_MAX_RATIO = 255;

/** Upper bound of what the LZ4 frames in `data` decompress to; throws once it passes `maxBytes`. */
export function lz4DecompressedBound(data: Buffer, maxBytes: number): number {
  let total = 0;
  let pos = 0;
  while (pos < data.length) {
    need(data, pos, 4, 'lz4', 'frame magic');
    const magic = data.readUInt32LE(pos);
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      pos = skipSkippable(data, pos, 'lz4');
      continue;
    }
    if (magic !== LZ4_MAGIC) throw new DecodeError('corrupt_batch', `lz4: bad frame magic 0x${magic.toString(16)} at ${pos}`);
    need(data, pos, 7, 'lz4', 'frame descriptor');
    const flg = data[pos + 4]!;
    const bd = data[pos + 5]!;
    if (flg >> 6 !== 1) throw new DecodeError('corrupt_batch', `lz4: frame version ${flg >> 6}`);
    const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]!;
    if (blockMax === 0) throw new DecodeError('corrupt_batch', `lz4: invalid block maximum size id ${(bd >> 4) & 7}`);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    pos += 6;
    if (contentSize) {
      need(data, pos, 8, 'lz4', 'content size');
      const declared = data.readUInt32LE(pos + 4) * 2 ** 32 + data.readUInt32LE(pos);
      // The decoder may size its output from it: refuse a large one even if the blocks are small.
      checkBound('lz4', total + declared, maxBytes, 'frames declare');
      pos += 8;
    }
    if ((flg & 0x01) !== 0) pos += 4; // dictionary id
    pos += 1; // header checksum
    for (;;) {
      need(data, pos, 4, 'lz4', 'block size');
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break; // end mark
      const size = word & 0x7fffffff;
      need(data, pos, size, 'lz4', 'block');
      // High bit set: stored uncompressed, so the block is its own size.
      total += (word & 0x80000000) !== 0 ? size : Math.min(blockMax, size * LZ4_MAX_RATIO);
      checkBound('lz4', total, maxBytes, 'blocks may hold');
      pos += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) pos += 4;
    if (pos > data.length) throw new DecodeError('corrupt_batch', 'lz4: truncated frame');
  }
  return total;
}

const lz4: CompressionCodec = {
  type: CompressionType.lz4,
  name: 'lz4',
  // Standard LZ4 frame, independent blocks, no checksums.
  compress: (data) => compressFrame(data),
  decompress: (data, maxBytes) =>
    guarded('lz4', async () => {
      lz4DecompressedBound(data, maxBytes);
      const out = await decompressFrame(data);
      checkBound('lz4', out.length, maxBytes, 'output of');
      return out;
    }),
};

const ZSTD_MAGIC = 0xfd2fb528;
/** A zstd block regenerates at most min(window size, 128 KiB) (RFC 8878, Block_Maximum_Size). */
const ZSTD_BLOCK_MAX = 128 * 1024;

/** Upper bound of what the zstd frames in `data` decompress to; throws once it passes `maxBytes`. */
export function zstdDecompressedBound(data: Buffer, maxBytes: number): number {
  let total = 0;
  let pos = 0;
  while (pos < data.length) {
    need(data, pos, 4, 'zstd', 'frame magic');
    const magic = data.readUInt32LE(pos);
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      pos = skipSkippable(data, pos, 'zstd');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new DecodeError('corrupt_batch', `zstd: bad frame magic 0x${magic.toString(16)} at ${pos}`);
    need(data, pos, 6, 'zstd', 'frame header');
    const fhd = data[pos + 4]!;
    pos += 5;
    const singleSegment = (fhd & 0x20) !== 0;
    const hasChecksum = (fhd & 0x04) !== 0;
    const fcsFlag = fhd >> 6;
    let windowSize = Infinity;
    if (!singleSegment) {
      const wd = data[pos]!;
      const windowBase = 2 ** (10 + (wd >> 3));
      windowSize = windowBase + (windowBase / 8) * (wd & 7);
      pos += 1;
    }
    pos += [0, 1, 2, 4][fhd & 3]!; // dictionary id
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 2 ** fcsFlag;
    if (fcsBytes > 0) {
      need(data, pos, fcsBytes, 'zstd', 'frame content size');
      const fcs = fcsBytes === 1 ? data[pos]!
        : fcsBytes === 2 ? data.readUInt16LE(pos) + 256
          : fcsBytes === 4 ? data.readUInt32LE(pos)
            : data.readUInt32LE(pos + 4) * 2 ** 32 + data.readUInt32LE(pos);
      // The decoder sizes its output from it: refuse a large one even if the blocks are small.
      checkBound('zstd', total + fcs, maxBytes, 'frames declare');
      if (singleSegment) windowSize = fcs;
      pos += fcsBytes;
    }
    const blockMax = Math.min(windowSize, ZSTD_BLOCK_MAX);
    for (;;) {
      need(data, pos, 3, 'zstd', 'block header');
      const header = data.readUIntLE(pos, 3);
      pos += 3;
      const last = (header & 1) !== 0;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw new DecodeError('corrupt_batch', `zstd: reserved block type at ${pos - 3}`);
      // Raw and RLE blocks regenerate exactly Block_Size bytes (an RLE block stores one byte of them).
      if (type === 2 || size > blockMax) total += blockMax;
      else total += size;
      checkBound('zstd', total, maxBytes, 'blocks may hold');
      const stored = type === 1 ? 1 : size;
      need(data, pos, stored, 'zstd', 'block');
      pos += stored;
      if (last) break;
    }
    if (hasChecksum) pos += 4;
    if (pos > data.length) throw new DecodeError('corrupt_batch', 'zstd: truncated frame');
  }
  return total;
}

const zstd: CompressionCodec = {
  type: CompressionType.zstd,
  name: 'zstd',
  compress: (data) => zstdCompress(data),
  decompress: (data, maxBytes) =>
    guarded('zstd', async () => {
      zstdDecompressedBound(data, maxBytes);
      const out = await zstdDecompress(data);
      checkBound('zstd', out.length, maxBytes, 'output of');
      return out;
    }),
};

const CODECS: readonly CompressionCodec[] = [none, gzip, snappy, lz4, zstd];

/** The codec for attribute bits 0-2. Ids 5-7 are not codecs: DecodeError('corrupt_batch'). */
export function codecFor(type: number): CompressionCodec {
  const codec = CODECS[type];
  if (codec === undefined || !Number.isInteger(type)) {
    throw new DecodeError('corrupt_batch', `unknown compression type id ${type}`);
  }
  return codec;
}
