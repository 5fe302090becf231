// The segment object format, version 1 (documented byte by byte in storage/README.md).
//
//   object  = header | chunk_0 | chunk_1 | ... (one chunk per partition that had data in the cycle)
//   header  = magic "SHSO" | version | flags | headerLength | chunkCount | createdAt | directory | crc
//   chunk   = block_0 | block_1 | ... | index | trailer
//   block   = one LZ4 frame whose content is whole record batches, byte for byte as produced
//   index   = partition identity, offsets, timestamps, and per block: first/last offset, max
//             timestamp, byte range, sizes, CRC-32C of the compressed bytes
//   trailer = indexLength | indexCrc | version | flags | magic "SHCX" (fixed 16 bytes, chunk end)
//
// A reader that knows a chunk's byte range (from its segments row) reads the chunk's tail to get the
// index, then one ranged GET per run of blocks it needs. The object header is for tools and
// recovery (it lists every chunk), the read path never needs it.
import { compressFrame, compressFrameSync, decompressFrame, decompressFrameSync } from 'lz4-napi';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { readInt64, scanBatches, writeInt64, type BatchInfo } from './batch.js';
import { CorruptSegmentError } from './errors.js';

export const FORMAT_VERSION = 1;
export const OBJECT_MAGIC = 0x5348534f; // "SHSO"
export const CHUNK_MAGIC = 0x53484358; // "SHCX"
export const CHUNK_TRAILER_BYTES = 16;
export const BLOCK_ENTRY_BYTES = 48;
const OBJECT_HEADER_FIXED = 24;
const DIR_ENTRY_FIXED = 34;
const INDEX_FIXED = 2 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4; // + topic bytes + blocks
export const DEFAULT_BLOCK_BYTES = 256 * 1024;
/**
 * Below this many bytes per cycle (compress) or per block (decompress) LZ4 runs inline: it takes
 * well under a millisecond, cheaper than a round trip through the thread pool. Above it, blocks
 * go to the thread pool in parallel and the event loop stays free.
 */
const INLINE_COMPRESS_BYTES = 512 * 1024;
const INLINE_DECOMPRESS_BYTES = 64 * 1024;

export function crc32c(buf: Uint8Array): number {
  return nativeCrc32c(buf, 0) >>> 0;
}

export interface ChunkInputBatch {
  buf: Buffer;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordsCount: number;
}

export interface ChunkInput {
  topic: string;
  partitionId: number;
  /** Contiguous, ascending, already assigned their offsets. */
  batches: ChunkInputBatch[];
}

export interface BlockEntry {
  firstOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** Relative to the chunk start. */
  position: number;
  compressedLength: number;
  uncompressedLength: number;
  batchCount: number;
  crc: number;
}

export interface ChunkIndex {
  topic: string;
  partitionId: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordCount: number;
  batchCount: number;
  /** Uncompressed bytes of all batches. */
  sizeBytes: number;
  blocks: BlockEntry[];
  /** Byte length of the whole chunk (blocks + index + trailer). */
  chunkLength: number;
}

export interface EncodedChunk {
  topic: string;
  partitionId: number;
  /** Byte position of the chunk inside the object, and its length. */
  position: number;
  length: number;
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  sizeBytes: number;
  maxTimestamp: number;
  /** Input batches in this chunk. */
  batchCount: number;
}

export interface EncodedObject {
  /** The object's bytes, in order (write them with one PUT). */
  parts: Buffer[];
  size: number;
  chunks: EncodedChunk[];
}

interface BuiltBlock {
  entry: BlockEntry;
  compressed: Buffer;
  records: number;
}

interface BuiltChunk {
  topic: string;
  partitionId: number;
  blocks: BuiltBlock[];
  index: Buffer;
  trailer: Buffer;
  length: number;
  summary: Omit<EncodedChunk, 'position' | 'length'>;
}

/** Groups batches into blocks of about `blockBytes` uncompressed (a bigger batch gets its own block). */
function planBlocks(batches: ChunkInputBatch[], blockBytes: number): ChunkInputBatch[][] {
  const groups: ChunkInputBatch[][] = [];
  let cur: ChunkInputBatch[] = [];
  let bytes = 0;
  for (const b of batches) {
    if (cur.length > 0 && bytes + b.buf.length > blockBytes) {
      groups.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(b);
    bytes += b.buf.length;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

// Uncompressed blocks live only until they are compressed, and a busy agent makes a cycle's worth of
// them many times a second: reusing the buffers keeps that churn away from the garbage collector.
const blockPool = new Map<number, Buffer[]>();
const MAX_POOLED_BLOCKS = 64;

function takeBlock(size: number, blockBytes: number): { data: Buffer; pooled: Buffer | undefined } {
  if (size > blockBytes) return { data: Buffer.allocUnsafe(size), pooled: undefined };
  const pooled = blockPool.get(blockBytes)?.pop() ?? Buffer.allocUnsafeSlow(blockBytes);
  return { data: pooled.subarray(0, size), pooled };
}

function giveBlock(pooled: Buffer): void {
  let free = blockPool.get(pooled.length);
  if (free === undefined) blockPool.set(pooled.length, (free = []));
  if (free.length < MAX_POOLED_BLOCKS) free.push(pooled);
}

/** Copies each group into one block buffer and compresses it (inline, one at a time, or all at once in the thread pool). */
async function compressGroups(groups: ChunkInputBatch[][], blockBytes: number, inline: boolean, serial: boolean): Promise<BuiltBlock[]> {
  const taken = groups.map((g) => {
    let size = 0;
    for (const b of g) size += b.buf.length;
    const block = takeBlock(size, blockBytes);
    let pos = 0;
    for (const b of g) pos += b.buf.copy(block.data, pos);
    return block;
  });
  const plain = taken.map((t) => t.data);
  let compressed: Buffer[];
  try {
    if (inline) compressed = plain.map((d) => compressFrameSync(d));
    else if (serial) {
      // One block at a time in the thread pool: background work (merging) leaves the other pool
      // threads to the flush path's file and compression work.
      compressed = [];
      for (const d of plain) compressed.push(await compressFrame(d));
    } else {
      // Every compression must have finished before its buffer goes back to the pool.
      const settled = await Promise.allSettled(plain.map((d) => compressFrame(d)));
      compressed = settled.map((r) => {
        if (r.status === 'rejected') throw r.reason;
        return r.value;
      });
    }
  } finally {
    for (const t of taken) if (t.pooled !== undefined) giveBlock(t.pooled);
  }
  return groups.map((g, i) => {
    const c = compressed[i];
    let blockMaxTs = -1;
    let records = 0;
    for (const b of g) {
      if (b.maxTimestamp > blockMaxTs) blockMaxTs = b.maxTimestamp;
      records += b.recordsCount;
    }
    const entry: BlockEntry = {
      firstOffset: g[0].baseOffset,
      lastOffset: g[g.length - 1].lastOffset,
      maxTimestamp: blockMaxTs,
      position: 0, // set when the chunk is assembled
      compressedLength: c.length,
      uncompressedLength: plain[i].length,
      batchCount: g.length,
      crc: crc32c(c),
    };
    return { entry, compressed: c, records };
  });
}

/** The chunk around its compressed blocks: block positions, index, trailer, summary. */
function assembleChunk(topic: string, partitionId: number, blocks: BuiltBlock[]): BuiltChunk {
  let position = 0;
  let maxTimestamp = -1;
  let recordCount = 0;
  let sizeBytes = 0;
  let batchCount = 0;
  for (const b of blocks) {
    b.entry.position = position;
    position += b.compressed.length;
    if (b.entry.maxTimestamp > maxTimestamp) maxTimestamp = b.entry.maxTimestamp;
    recordCount += b.records;
    sizeBytes += b.entry.uncompressedLength;
    batchCount += b.entry.batchCount;
  }
  const topicBytes = Buffer.from(topic, 'utf8');
  const index = Buffer.alloc(INDEX_FIXED + topicBytes.length + blocks.length * BLOCK_ENTRY_BYTES);
  let p = 0;
  index.writeUInt16BE(topicBytes.length, p);
  p += 2;
  topicBytes.copy(index, p);
  p += topicBytes.length;
  index.writeInt32BE(partitionId, p);
  p += 4;
  const baseOffset = blocks[0].entry.firstOffset;
  const lastOffset = blocks[blocks.length - 1].entry.lastOffset;
  writeInt64(index, baseOffset, p);
  writeInt64(index, lastOffset, p + 8);
  writeInt64(index, maxTimestamp, p + 16);
  writeInt64(index, recordCount, p + 24);
  p += 32;
  index.writeUInt32BE(batchCount, p);
  p += 4;
  writeInt64(index, sizeBytes, p);
  p += 8;
  index.writeUInt32BE(blocks.length, p);
  p += 4;
  for (const { entry: e } of blocks) {
    writeInt64(index, e.firstOffset, p);
    writeInt64(index, e.lastOffset, p + 8);
    writeInt64(index, e.maxTimestamp, p + 16);
    index.writeUInt32BE(e.position, p + 24);
    index.writeUInt32BE(e.compressedLength, p + 28);
    index.writeUInt32BE(e.uncompressedLength, p + 32);
    index.writeUInt32BE(e.batchCount, p + 36);
    index.writeUInt32BE(e.crc, p + 40);
    index.writeUInt32BE(0, p + 44); // reserved
    p += BLOCK_ENTRY_BYTES;
  }
  const trailer = Buffer.alloc(CHUNK_TRAILER_BYTES);
  trailer.writeUInt32BE(index.length, 0);
  trailer.writeUInt32BE(crc32c(index), 4);
  trailer.writeUInt16BE(FORMAT_VERSION, 8);
  trailer.writeUInt16BE(0, 10);
  trailer.writeUInt32BE(CHUNK_MAGIC, 12);
  return {
    topic,
    partitionId,
    blocks,
    index,
    trailer,
    length: position + index.length + trailer.length,
    summary: { topic, partitionId, baseOffset, lastOffset, recordCount, sizeBytes, maxTimestamp, batchCount },
  };
}

async function buildChunk(input: ChunkInput, blockBytes: number, inline: boolean, serial = false): Promise<BuiltChunk> {
  const blocks = await compressGroups(planBlocks(input.batches, blockBytes), blockBytes, inline, serial);
  return assembleChunk(input.topic, input.partitionId, blocks);
}

/** The object around its chunks: header with the chunk directory, then each chunk's blocks, index and trailer. */
function assembleObject(built: BuiltChunk[], createdAt: number): EncodedObject {
  const topics = built.map((b) => Buffer.from(b.topic, 'utf8'));
  const headerLength = OBJECT_HEADER_FIXED + topics.reduce((n, t) => n + DIR_ENTRY_FIXED + t.length, 0) + 4;
  const header = Buffer.alloc(headerLength);
  header.writeUInt32BE(OBJECT_MAGIC, 0);
  header.writeUInt16BE(FORMAT_VERSION, 4);
  header.writeUInt16BE(0, 6);
  header.writeUInt32BE(headerLength, 8);
  header.writeUInt32BE(built.length, 12);
  writeInt64(header, createdAt, 16);
  let p = OBJECT_HEADER_FIXED;
  let position = headerLength;
  const parts: Buffer[] = [header];
  const out: EncodedChunk[] = [];
  built.forEach((b, i) => {
    writeInt64(header, position, p);
    header.writeUInt32BE(b.length, p + 8);
    header.writeInt32BE(b.partitionId, p + 12);
    writeInt64(header, b.summary.baseOffset, p + 16);
    writeInt64(header, b.summary.lastOffset, p + 24);
    header.writeUInt16BE(topics[i].length, p + 32);
    topics[i].copy(header, p + DIR_ENTRY_FIXED);
    p += DIR_ENTRY_FIXED + topics[i].length;
    for (const blk of b.blocks) parts.push(blk.compressed);
    parts.push(b.index, b.trailer);
    out.push({ ...b.summary, position, length: b.length });
    position += b.length;
  });
  header.writeUInt32BE(crc32c(header.subarray(0, headerLength - 4)), headerLength - 4);
  return { parts, size: position, chunks: out };
}

/** Builds one segment object from the chunks of one flush cycle (compression runs off-thread). */
export async function encodeSegmentObject(
  chunks: ChunkInput[],
  opts: { blockBytes?: number; createdAt: number; serial?: boolean },
): Promise<EncodedObject> {
  const blockBytes = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
  let total = 0;
  for (const c of chunks) for (const b of c.batches) total += b.buf.length;
  const inline = total <= INLINE_COMPRESS_BYTES;
  const built = await Promise.all(chunks.filter((c) => c.batches.length > 0).map((c) => buildChunk(c, blockBytes, inline, opts.serial)));
  return assembleObject(built, opts.createdAt);
}

/**
 * One partition's object built as its batches arrive (merging): each block is compressed as soon as it
 * is full, so what is held is the compressed output plus one block, not every batch of the run. The
 * bytes are those encodeSegmentObject would write for the same batches (same blocks, index, header).
 */
export class ChunkStreamEncoder {
  private readonly blocks: BuiltBlock[] = [];
  private group: ChunkInputBatch[] = [];
  private groupBytes = 0;
  private compressedBytes = 0;
  private nextOffset: number | undefined;

  constructor(
    private readonly topic: string,
    private readonly partitionId: number,
    private readonly blockBytes = DEFAULT_BLOCK_BYTES,
  ) {}

  /** Compressed bytes so far (blocks written, not counting the block being filled). */
  get size(): number {
    return this.compressedBytes;
  }

  /** Appends batches (contiguous with what came before); compresses each block once full. */
  async push(batches: readonly ChunkInputBatch[]): Promise<void> {
    for (const b of batches) {
      if (this.nextOffset !== undefined && b.baseOffset < this.nextOffset) throw new Error(`batch at ${b.baseOffset} does not follow ${this.nextOffset - 1}`);
      this.nextOffset = b.lastOffset + 1;
      if (this.group.length > 0 && this.groupBytes + b.buf.length > this.blockBytes) await this.flushBlock();
      this.group.push(b);
      this.groupBytes += b.buf.length;
    }
  }

  private async flushBlock(): Promise<void> {
    const [block] = await compressGroups([this.group], this.blockBytes, this.groupBytes <= INLINE_DECOMPRESS_BYTES, true);
    this.blocks.push(block!);
    this.compressedBytes += block!.compressed.length;
    this.group = [];
    this.groupBytes = 0;
  }

  /** The object (one chunk); undefined when no batch was pushed. */
  async finish(createdAt: number): Promise<EncodedObject | undefined> {
    if (this.group.length > 0) await this.flushBlock();
    if (this.blocks.length === 0) return undefined;
    return assembleObject([assembleChunk(this.topic, this.partitionId, this.blocks)], createdAt);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding. Every check failure is a CorruptSegmentError naming the object key.

export interface ChunkTrailer {
  indexLength: number;
  indexCrc: number;
}

/** Parses the trailer from the last 16 bytes of `tail` (which ends at the chunk end). */
export function parseChunkTrailer(tail: Buffer, chunkLength: number, key: string, chunkPos: number): ChunkTrailer {
  if (tail.length < CHUNK_TRAILER_BYTES) throw new CorruptSegmentError(key, chunkPos, 'chunk shorter than its trailer');
  const t = tail.subarray(tail.length - CHUNK_TRAILER_BYTES);
  if (t.readUInt32BE(12) !== CHUNK_MAGIC) throw new CorruptSegmentError(key, chunkPos, 'bad chunk magic');
  const version = t.readUInt16BE(8);
  if (version !== FORMAT_VERSION) throw new CorruptSegmentError(key, chunkPos, `unsupported chunk format version ${version}`);
  if (t.readUInt16BE(10) !== 0) throw new CorruptSegmentError(key, chunkPos, 'unknown chunk flags');
  const indexLength = t.readUInt32BE(0);
  if (indexLength < INDEX_FIXED || indexLength + CHUNK_TRAILER_BYTES > chunkLength) {
    throw new CorruptSegmentError(key, chunkPos, `bad index length ${indexLength}`);
  }
  return { indexLength, indexCrc: t.readUInt32BE(4) };
}

export function parseChunkIndex(index: Buffer, trailer: ChunkTrailer, chunkLength: number, key: string, chunkPos: number): ChunkIndex {
  const bad = (d: string) => new CorruptSegmentError(key, chunkPos, d);
  if (index.length !== trailer.indexLength || crc32c(index) !== trailer.indexCrc) throw bad('chunk index checksum mismatch');
  let p = 0;
  const topicLen = index.readUInt16BE(p);
  p += 2;
  if (INDEX_FIXED + topicLen > index.length) throw bad('chunk index truncated');
  const topic = index.toString('utf8', p, p + topicLen);
  p += topicLen;
  const partitionId = index.readInt32BE(p);
  p += 4;
  const baseOffset = readInt64(index, p);
  const lastOffset = readInt64(index, p + 8);
  const maxTimestamp = readInt64(index, p + 16);
  const recordCount = readInt64(index, p + 24);
  p += 32;
  const batchCount = index.readUInt32BE(p);
  p += 4;
  const sizeBytes = readInt64(index, p);
  p += 8;
  const blockCount = index.readUInt32BE(p);
  p += 4;
  if (p + blockCount * BLOCK_ENTRY_BYTES !== index.length) throw bad('chunk index length does not match its block count');
  const blocksEnd = chunkLength - CHUNK_TRAILER_BYTES - index.length;
  const blocks: BlockEntry[] = [];
  let expectPos = 0;
  let prevLast = baseOffset - 1;
  for (let i = 0; i < blockCount; i++, p += BLOCK_ENTRY_BYTES) {
    const e: BlockEntry = {
      firstOffset: readInt64(index, p),
      lastOffset: readInt64(index, p + 8),
      maxTimestamp: readInt64(index, p + 16),
      position: index.readUInt32BE(p + 24),
      compressedLength: index.readUInt32BE(p + 28),
      uncompressedLength: index.readUInt32BE(p + 32),
      batchCount: index.readUInt32BE(p + 36),
      crc: index.readUInt32BE(p + 40),
    };
    if (e.position !== expectPos || e.position + e.compressedLength > blocksEnd) throw bad(`block ${i} byte range is inconsistent`);
    if (e.firstOffset <= prevLast || e.lastOffset < e.firstOffset) throw bad(`block ${i} offsets are not ascending`);
    expectPos += e.compressedLength;
    prevLast = e.lastOffset;
    blocks.push(e);
  }
  if (expectPos !== blocksEnd) throw bad('blocks do not fill the chunk');
  if (blocks.length === 0 || blocks[0].firstOffset !== baseOffset || prevLast !== lastOffset) throw bad('chunk offsets disagree with its blocks');
  return { topic, partitionId, baseOffset, lastOffset, maxTimestamp, recordCount, batchCount, sizeBytes, blocks, chunkLength };
}

/**
 * Tries to parse the index from the chunk's last `tail.length` bytes. Returns the number of tail
 * bytes needed when the index is longer than what was read.
 */
export function chunkIndexFromTail(tail: Buffer, chunkLength: number, key: string, chunkPos: number): ChunkIndex | { needTailBytes: number } {
  const trailer = parseChunkTrailer(tail, chunkLength, key, chunkPos);
  const need = trailer.indexLength + CHUNK_TRAILER_BYTES;
  if (tail.length < need) return { needTailBytes: need };
  const index = tail.subarray(tail.length - need, tail.length - CHUNK_TRAILER_BYTES);
  return parseChunkIndex(index, trailer, chunkLength, key, chunkPos);
}

export interface DecodedBlock {
  /** The uncompressed block: whole record batches back to back. */
  data: Buffer;
  batches: BatchInfo[];
}

/** Verifies and decompresses one block; its batches must match the index entry exactly. */
export async function decodeBlock(compressed: Buffer, e: BlockEntry, key: string, chunkPos: number): Promise<DecodedBlock> {
  const at = chunkPos + e.position;
  if (compressed.length !== e.compressedLength) throw new CorruptSegmentError(key, at, 'block truncated');
  if (crc32c(compressed) !== e.crc) throw new CorruptSegmentError(key, at, 'block checksum mismatch');
  let data: Buffer;
  try {
    data = e.uncompressedLength <= INLINE_DECOMPRESS_BYTES ? decompressFrameSync(compressed) : await decompressFrame(compressed);
  } catch (err) {
    throw new CorruptSegmentError(key, at, `LZ4 frame does not decode (${(err as Error).message})`);
  }
  if (data.length !== e.uncompressedLength) throw new CorruptSegmentError(key, at, 'block has the wrong uncompressed length');
  const batches = scanBatches(data);
  if (
    batches === undefined ||
    batches.length !== e.batchCount ||
    batches[0].baseOffset !== e.firstOffset ||
    batches[batches.length - 1].lastOffset !== e.lastOffset
  ) {
    throw new CorruptSegmentError(key, at, 'block content disagrees with the chunk index');
  }
  return { data, batches };
}

export interface ObjectDirectoryEntry {
  position: number;
  length: number;
  topic: string;
  partitionId: number;
  baseOffset: number;
  lastOffset: number;
}

export interface ObjectHeader {
  version: number;
  createdAt: number;
  headerLength: number;
  chunks: ObjectDirectoryEntry[];
}

/** Parses the object header (needs at least headerLength bytes from the object start). */
export function parseObjectHeader(buf: Buffer, key: string): ObjectHeader {
  const bad = (d: string) => new CorruptSegmentError(key, 0, d);
  if (buf.length < OBJECT_HEADER_FIXED + 4 || buf.readUInt32BE(0) !== OBJECT_MAGIC) throw bad('not a segment object (bad magic)');
  const version = buf.readUInt16BE(4);
  if (version !== FORMAT_VERSION) throw bad(`unsupported segment format version ${version}`);
  if (buf.readUInt16BE(6) !== 0) throw bad('unknown object flags');
  const headerLength = buf.readUInt32BE(8);
  if (headerLength < OBJECT_HEADER_FIXED + 4 || headerLength > buf.length) throw bad('header truncated');
  if (crc32c(buf.subarray(0, headerLength - 4)) !== buf.readUInt32BE(headerLength - 4)) throw bad('header checksum mismatch');
  const count = buf.readUInt32BE(12);
  const chunks: ObjectDirectoryEntry[] = [];
  let p = OBJECT_HEADER_FIXED;
  for (let i = 0; i < count; i++) {
    if (p + DIR_ENTRY_FIXED > headerLength - 4) throw bad('header directory truncated');
    const topicLen = buf.readUInt16BE(p + 32);
    chunks.push({
      position: readInt64(buf, p),
      length: buf.readUInt32BE(p + 8),
      partitionId: buf.readInt32BE(p + 12),
      baseOffset: readInt64(buf, p + 16),
      lastOffset: readInt64(buf, p + 24),
      topic: buf.toString('utf8', p + DIR_ENTRY_FIXED, p + DIR_ENTRY_FIXED + topicLen),
    });
    p += DIR_ENTRY_FIXED + topicLen;
  }
  if (p !== headerLength - 4) throw bad('header directory length mismatch');
  return { version, createdAt: readInt64(buf, 16), headerLength, chunks };
}

export interface DecodedChunk {
  entry: ObjectDirectoryEntry;
  index: ChunkIndex;
  /** Every batch of the chunk (views into decompressed blocks). */
  batches: Buffer[];
}

/** Fully decodes and verifies a whole object (tools, tests, recovery; the read path uses ranges). */
export async function decodeSegmentObject(buf: Buffer, key: string): Promise<{ header: ObjectHeader; chunks: DecodedChunk[] }> {
  const header = parseObjectHeader(buf, key);
  const chunks: DecodedChunk[] = [];
  for (const entry of header.chunks) {
    if (entry.position + entry.length > buf.length) throw new CorruptSegmentError(key, entry.position, 'object truncated');
    const chunk = buf.subarray(entry.position, entry.position + entry.length);
    const index = chunkIndexFromTail(chunk, entry.length, key, entry.position);
    if ('needTailBytes' in index) throw new CorruptSegmentError(key, entry.position, 'chunk truncated');
    if (index.topic !== entry.topic || index.partitionId !== entry.partitionId || index.baseOffset !== entry.baseOffset) {
      throw new CorruptSegmentError(key, entry.position, 'chunk disagrees with the object header');
    }
    const batches: Buffer[] = [];
    for (const e of index.blocks) {
      const blk = await decodeBlock(chunk.subarray(e.position, e.position + e.compressedLength), e, key, entry.position);
      for (const b of blk.batches) batches.push(blk.data.subarray(b.position, b.position + b.size));
    }
    chunks.push({ entry, index, batches });
  }
  return { header, chunks };
}
