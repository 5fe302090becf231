// Bounded decompression: every codec refuses input that would decompress past the caller's bound,
// before allocating the output where the format declares sizes (snappy, lz4, zstd), and decodes
// the same input when the bound allows it (so the bombs below are real, valid streams).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as rawSnappy } from 'snappy';
import {
  codecFor, CompressionType, DecompressedTooLargeError, lz4DecompressedBound, zstdDecompressedBound,
} from '../../protocol/compression.js';

const MiB = 1024 * 1024;
const tooLarge = (e: unknown) => e instanceof DecompressedTooLargeError && e.kind === 'too_large';

/** A zstd frame without content size (as streaming writers emit): `blocks` RLE blocks of 128 KiB of 'a'. */
function zstdRleFrame(blocks: number): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3]); // no FCS, window 128 KiB
  const body = Buffer.alloc(blocks * 4);
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    body.writeUIntLE(last | (1 << 1) | ((128 * 1024) << 3), i * 4, 3); // RLE block, 128 KiB
    body[i * 4 + 3] = 0x61;
  }
  return Buffer.concat([header, body]);
}

/** An LZ4 frame of `blocks` copies of one independent 4 MiB block of zeros (no content size). */
function lz4ZeroFrame(blocks: number): Buffer {
  const one = compressFrameSync(Buffer.alloc(4 * MiB));
  assert.equal(one.readUInt32LE(0), 0x184d2204);
  assert.equal(one[4]! & 0x28, 0x20, 'independent blocks, no content size');
  const size = one.readUInt32LE(7);
  const block = one.subarray(7, 11 + size);
  assert.equal(one.readUInt32LE(11 + size), 0, 'one block, then the end mark');
  return Buffer.concat([one.subarray(0, 7), ...Array<Buffer>(blocks).fill(block), Buffer.alloc(4)]);
}

test('gzip: output stops at the bound; a stream exactly at the bound decodes', async () => {
  const codec = codecFor(CompressionType.gzip);
  const bomb = gzipSync(Buffer.alloc(8 * MiB));
  assert.ok(bomb.length < 16 * 1024);
  await assert.rejects(codec.decompress(bomb, MiB), tooLarge);
  await assert.rejects(codec.decompress(bomb, 8 * MiB - 1), tooLarge);
  assert.equal((await codec.decompress(bomb, 8 * MiB)).length, 8 * MiB);
});

test('snappy: the length preambles are checked before decoding (raw and xerial)', async () => {
  const codec = codecFor(CompressionType.snappy);
  const raw = rawSnappy(Buffer.alloc(2 * MiB));
  await assert.rejects(codec.decompress(raw, 2 * MiB - 1), tooLarge);
  assert.equal((await codec.decompress(raw, 2 * MiB)).length, 2 * MiB);
  // A preamble claiming 2^32-1 bytes over a few bytes of input: refused, never allocated.
  await assert.rejects(codec.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 64 * MiB), tooLarge);
  const xerial = await codec.compress(Buffer.alloc(MiB)); // 32 blocks of 32 KiB
  await assert.rejects(codec.decompress(xerial, MiB - 1), tooLarge);
  assert.equal((await codec.decompress(xerial, MiB)).length, MiB);
});

test('lz4: block sizes bound the output of frames without a content size', async () => {
  const codec = codecFor(CompressionType.lz4);
  const small = lz4ZeroFrame(2);
  assert.deepEqual(await codec.decompress(small, 8 * MiB), Buffer.alloc(8 * MiB));
  const bomb = lz4ZeroFrame(64); // 256 MiB from ~1 MiB
  assert.ok(bomb.length < 2 * MiB);
  assert.throws(() => lz4DecompressedBound(bomb, 64 * MiB), tooLarge);
  await assert.rejects(codec.decompress(bomb, 64 * MiB), tooLarge);
  // Small blocks are bounded by their ratio, not the 4 MiB block maximum.
  const data = Buffer.from('x'.repeat(1000));
  assert.ok(lz4DecompressedBound(compressFrameSync(data), 64 * MiB) < 100_000);
});

test('zstd: frames without a content size are bounded by their block headers', async () => {
  const codec = codecFor(CompressionType.zstd);
  const small = zstdRleFrame(4);
  assert.deepEqual(await codec.decompress(small, MiB), Buffer.alloc(512 * 1024, 0x61));
  await assert.rejects(codec.decompress(small, 512 * 1024 - 1), tooLarge);
  const bomb = zstdRleFrame(2048); // 256 MiB from 8 KiB
  assert.throws(() => zstdDecompressedBound(bomb, 64 * MiB), tooLarge);
  await assert.rejects(codec.decompress(bomb, 64 * MiB), tooLarge);
  // Our own writer's frames (no content size either) stay within one block of their size.
  const json = Buffer.from(JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i, v: `value-${i}` }))));
  const frame = await codec.compress(json);
  const bound = zstdDecompressedBound(frame, 64 * MiB);
  assert.ok(bound >= json.length && bound <= json.length + 128 * 1024, `bound ${bound} for ${json.length}`);
  // The bound is conservative by up to one block: a batch needs that much headroom under the setting.
  assert.deepEqual(await codec.decompress(frame, json.length + 128 * 1024), json);
});

test('zstd: a declared content size above the bound is refused before decoding', async () => {
  // Single-segment frame declaring 2^32-1 bytes (4-byte FCS) with one empty raw block.
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00]);
  await assert.rejects(codecFor(CompressionType.zstd).decompress(frame, 64 * MiB), tooLarge);
});
