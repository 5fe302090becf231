import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptSegmentError } from '../../storage/errors.js';
import { scanBatches, assignBatch } from '../../storage/batch.js';
import {
  ChunkStreamEncoder,
  CHUNK_TRAILER_BYTES,
  FORMAT_VERSION,
  chunkIndexFromTail,
  decodeSegmentObject,
  encodeSegmentObject,
  parseObjectHeader,
  type ChunkInput,
} from '../../storage/segment-format.js';
import { makeBatch } from './batches.js';

function chunk(topic: string, partitionId: number, base: number, sizes: number[], ts = 1000): ChunkInput {
  let next = base;
  const batches = sizes.map((records, i) => {
    const buf = makeBatch({ records, timestamp: ts + i * 10, valueSize: 80 });
    assignBatch(buf, next, 5);
    const info = scanBatches(buf)![0];
    const b = { buf, baseOffset: next, lastOffset: next + records - 1, maxTimestamp: info.maxTimestamp, recordsCount: records };
    next += records;
    return b;
  });
  return { topic, partitionId, batches };
}

test('round trip: header directory, chunk indexes, blocks holding whole batches', async () => {
  const inputs = [chunk('orders', 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]), chunk('ünïcode-topic', 7, 1000, [10]), chunk('orders', 1, 42, [2, 2])];
  const enc = await encodeSegmentObject(inputs, { blockBytes: 600, createdAt: 1234 });
  const obj = Buffer.concat(enc.parts);
  assert.equal(obj.length, enc.size);
  const header = parseObjectHeader(obj, 'k');
  assert.equal(header.version, FORMAT_VERSION);
  assert.equal(header.createdAt, 1234);
  assert.deepEqual(
    header.chunks.map((c) => [c.topic, c.partitionId, c.baseOffset, c.lastOffset, c.position, c.length]),
    enc.chunks.map((c) => [c.topic, c.partitionId, c.baseOffset, c.lastOffset, c.position, c.length]),
  );
  const dec = await decodeSegmentObject(obj, 'k');
  dec.chunks.forEach((ch, i) => {
    assert.deepEqual(ch.batches, inputs[i].batches.map((b) => b.buf));
    assert.equal(ch.index.recordCount, inputs[i].batches.reduce((n, b) => n + b.recordsCount, 0));
    assert.equal(ch.index.sizeBytes, inputs[i].batches.reduce((n, b) => n + b.buf.length, 0));
    assert.equal(ch.index.maxTimestamp, Math.max(...inputs[i].batches.map((b) => b.maxTimestamp)));
    assert.equal(enc.chunks[i].batchCount, inputs[i].batches.length);
  });
  // Small blocks: the first chunk has several; each block's offsets and max timestamp are exact.
  const idx = dec.chunks[0].index;
  assert.ok(idx.blocks.length > 2);
  assert.equal(idx.blocks[0].firstOffset, 0);
  assert.equal(idx.blocks.at(-1)!.lastOffset, 35);
  // A chunk's index can be read from the chunk's tail alone.
  const c0 = enc.chunks[0];
  const tail = obj.subarray(c0.position + c0.length - 1024 < c0.position ? c0.position : c0.position + c0.length - 1024, c0.position + c0.length);
  const fromTail = chunkIndexFromTail(tail, c0.length, 'k', c0.position);
  assert.ok(!('needTailBytes' in fromTail));
  assert.deepEqual(fromTail, idx);
  const tooShort = chunkIndexFromTail(obj.subarray(c0.position + c0.length - CHUNK_TRAILER_BYTES - 4, c0.position + c0.length), c0.length, 'k', c0.position);
  assert.ok('needTailBytes' in tooShort);
});

test('a streamed chunk is byte for byte the object encodeSegmentObject writes for the same batches', async () => {
  // Small and large blocks (compressed inline and in the thread pool), batches pushed one by one and in groups.
  for (const blockBytes of [600, 256 * 1024]) {
    const input = chunk('orders', 3, 500, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 1, 40, 2]);
    const whole = await encodeSegmentObject([input], { blockBytes, createdAt: 99 });
    const enc = new ChunkStreamEncoder('orders', 3, blockBytes);
    await enc.push(input.batches.slice(0, 1));
    await enc.push(input.batches.slice(1, 5));
    for (const b of input.batches.slice(5)) await enc.push([b]);
    const streamed = (await enc.finish(99))!;
    assert.deepEqual(Buffer.concat(streamed.parts), Buffer.concat(whole.parts), `blockBytes ${blockBytes}`);
    assert.deepEqual(streamed.chunks, whole.chunks);
    const decoded = await decodeSegmentObject(Buffer.concat(streamed.parts), 'k');
    assert.deepEqual(decoded.chunks[0]!.batches, input.batches.map((b) => b.buf));
  }
  assert.equal(await new ChunkStreamEncoder('t', 0).finish(1), undefined, 'nothing pushed: no object');
  const out = new ChunkStreamEncoder('t', 0);
  const c = chunk('t', 0, 10, [2, 2]);
  await out.push(c.batches);
  await assert.rejects(out.push(c.batches), /does not follow/, 'offsets must move forward');
});

test('every single-byte flip anywhere in an object is detected', async () => {
  const enc = await encodeSegmentObject([chunk('t', 0, 0, [1, 2]), chunk('t', 1, 5, [1])], { blockBytes: 300, createdAt: 1 });
  const obj = Buffer.concat(enc.parts);
  for (let i = 0; i < obj.length; i++) {
    const bad = Buffer.from(obj);
    bad[i] ^= 0x40;
    await assert.rejects(decodeSegmentObject(bad, 'seg/key'), (e: unknown) => e instanceof CorruptSegmentError && e.key === 'seg/key', `flip at ${i}`);
  }
});

test('truncated objects and unknown versions are rejected with the key', async () => {
  const enc = await encodeSegmentObject([chunk('t', 0, 0, [3, 3])], { createdAt: 1 });
  const obj = Buffer.concat(enc.parts);
  for (const len of [0, 10, 40, obj.length - 30, obj.length - 1]) {
    await assert.rejects(decodeSegmentObject(obj.subarray(0, len), 'trunc'), (e: unknown) => e instanceof CorruptSegmentError && e.message.includes('trunc'));
  }
  const v2 = Buffer.from(obj);
  v2.writeUInt16BE(2, 4);
  await assert.rejects(decodeSegmentObject(v2, 'k'), /unsupported segment format version 2/);
});
