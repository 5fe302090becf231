import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { compressSync as rawSnappy } from 'snappy';
import { codecFor, CompressionType, DEFAULT_MAX_DECOMPRESSED_BYTES as MAX, type CompressionTypeName } from '../../protocol/compression.js';
import { DecodeError } from '../../protocol/varint.js';

const CODECS: CompressionTypeName[] = ['gzip', 'snappy', 'lz4', 'zstd'];

/** Compressible but not trivial: repeated words with a counter. */
function sample(size: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  let len = 0;
  while (len < size) {
    const s = `record-${n++} payload ${n % 7 === 0 ? 'seven' : 'other'};`;
    parts.push(s);
    len += s.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

const isCorrupt = (e: unknown) => e instanceof DecodeError && e.kind === 'corrupt_batch';

for (const name of CODECS) {
  test(`${name}: round trips empty, small and multi-block inputs, including pooled views`, async () => {
    const codec = codecFor(CompressionType[name]);
    assert.equal(codec.name, name);
    assert.equal(codec.type, CompressionType[name]);
    for (const data of [Buffer.alloc(0), Buffer.from('x'), sample(1000), sample(200_000)]) {
      const compressed = await codec.compress(data);
      assert.deepEqual(await codec.decompress(compressed, MAX), data, `${name} ${data.length} bytes`);
    }
    // Inputs that are views into a larger ArrayBuffer (how batches arrive).
    const pool = Buffer.concat([Buffer.alloc(37, 1), sample(5000), Buffer.alloc(11, 2)]);
    const view = pool.subarray(37, 37 + 5000);
    const compressed = await codec.compress(view);
    const framed = Buffer.concat([Buffer.alloc(13, 9), compressed, Buffer.alloc(5, 9)]);
    assert.deepEqual(await codec.decompress(framed.subarray(13, 13 + compressed.length), MAX), view);
  });

  test(`${name}: malformed input is DecodeError('corrupt_batch')`, async () => {
    const codec = codecFor(CompressionType[name]);
    await assert.rejects(codec.decompress(Buffer.from('definitely not compressed data, no magic here'), MAX), isCorrupt);
    const good = await codec.compress(sample(5000));
    const flipped = Buffer.from(good);
    for (let i = 4; i < Math.min(flipped.length, 40); i++) flipped[i] ^= 0x5a;
    await assert.rejects(codec.decompress(flipped, MAX), isCorrupt);
  });
}

test('gzip: truncated stream is a DecodeError', async () => {
  const good = await codecFor(CompressionType.gzip).compress(sample(5000));
  await assert.rejects(codecFor(CompressionType.gzip).decompress(good.subarray(0, good.length - 10), MAX), isCorrupt);
});

test('gzip: reads streams from other writers (zlib sync, multi-member)', async () => {
  const a = sample(300);
  const b = sample(700);
  const out = await codecFor(CompressionType.gzip).decompress(Buffer.concat([gzipSync(a), gzipSync(b)]), MAX);
  assert.deepEqual(out, Buffer.concat([a, b]));
});

test('snappy: compress writes the xerial framing with 32 KiB blocks', async () => {
  const data = sample(70_000);
  const out = await codecFor(CompressionType.snappy).compress(data);
  assert.deepEqual([...out.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
  assert.equal(out.readInt32BE(8), 1);
  assert.equal(out.readInt32BE(12), 1);
  let pos = 16;
  let blocks = 0;
  while (pos < out.length) {
    const len = out.readInt32BE(pos);
    assert.ok(len > 0 && pos + 4 + len <= out.length);
    pos += 4 + len;
    blocks++;
  }
  assert.equal(pos, out.length);
  assert.equal(blocks, 3); // 32768 + 32768 + 4464
});

test('snappy: decompress accepts raw snappy and concatenated xerial streams', async () => {
  const codec = codecFor(CompressionType.snappy);
  const data = sample(10_000);
  assert.deepEqual(await codec.decompress(rawSnappy(data), MAX), data);
  const twice = Buffer.concat([await codec.compress(data), await codec.compress(data)]);
  assert.deepEqual(await codec.decompress(twice, MAX), Buffer.concat([data, data]));
  // Header only: an empty stream.
  assert.equal((await codec.decompress((await codec.compress(Buffer.alloc(0))), MAX)).length, 0);
});

test('snappy: broken xerial framing is a DecodeError', async () => {
  const codec = codecFor(CompressionType.snappy);
  const good = await codec.compress(sample(10_000));
  await assert.rejects(codec.decompress(good.subarray(0, good.length - 3), MAX), isCorrupt); // block runs past the end
  await assert.rejects(codec.decompress(good.subarray(0, 18), MAX), isCorrupt); // partial block length
  const negative = Buffer.from(good);
  negative.writeInt32BE(-5, 16);
  await assert.rejects(codec.decompress(negative, MAX), isCorrupt);
  await assert.rejects(codec.decompress(Buffer.alloc(0), MAX), isCorrupt); // raw snappy needs a length preamble
});

test('codecFor: none is the identity, 5-7 are not codecs', async () => {
  const none = codecFor(CompressionType.none);
  const data = Buffer.from('abc');
  assert.equal(await none.compress(data), data);
  assert.equal(await none.decompress(data, MAX), data);
  for (const id of [5, 6, 7, -1, 1.5]) assert.throws(() => codecFor(id), isCorrupt);
});
