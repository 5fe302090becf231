// The four compression codecs of record batch v2. A compressed batch holds all its records as one
// compressed stream after the 61-byte header. Every codec turns malformed input into
// DecodeError('corrupt_batch'), so callers only ever handle one error type.
import { promisify } from 'node:util';
import { gzip as gzipCb, gunzip as gunzipCb } from 'node:zlib';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappy';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { DecodeError } from './varint.js';

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
  decompress(data: Buffer): Promise<Buffer>;
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
  decompress: async (data) => data,
};

const gzip: CompressionCodec = {
  type: CompressionType.gzip,
  name: 'gzip',
  compress: (data) => gzipAsync(data),
  // gunzip also reads multi-member streams, which some writers emit.
  decompress: (data) => guarded('gzip', () => gunzipAsync(data)),
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

async function xerialDecompress(data: Buffer): Promise<Buffer> {
  const blocks: Buffer[] = [];
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
    blocks.push(await rawSnappyDecode(data.subarray(pos, pos + len)));
    pos += len;
  }
  return blocks.length === 1 ? blocks[0] : Buffer.concat(blocks);
}

const snappy: CompressionCodec = {
  type: CompressionType.snappy,
  name: 'snappy',
  compress: (data) => xerialCompress(data),
  decompress: (data) =>
    guarded('snappy', () => (hasXerialMagic(data, 0) ? xerialDecompress(data) : rawSnappyDecode(data))),
};

// --- lz4 / zstd ---------------------------------------------------------------------------------

const lz4: CompressionCodec = {
  type: CompressionType.lz4,
  name: 'lz4',
  // Standard LZ4 frame, independent 64 KiB blocks, no checksums: what Kafka's own writer produces.
  compress: (data) => compressFrame(data),
  decompress: (data) => guarded('lz4', () => decompressFrame(data)),
};

const zstd: CompressionCodec = {
  type: CompressionType.zstd,
  name: 'zstd',
  compress: (data) => zstdCompress(data),
  decompress: (data) => guarded('zstd', () => zstdDecompress(data)),
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
