// The tail cache's ring: what scan() offers is exactly what was committed, the oldest commits go
// first as the ring wraps, and neither the producer's buffer nor a later append changes what an
// earlier reader copied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TailCache } from '../../storage/tail-cache.js';
import { assignBatch } from '../../storage/batch.js';
import { makeBatch } from './batches.js';

/** `count` batches of `records` records each, with offsets assigned from `from`. */
function committed(from: number, count: number, records = 4, valueSize = 100): Buffer[] {
  const out: Buffer[] = [];
  let next = from;
  for (let i = 0; i < count; i++) {
    const b = makeBatch({ records, valueSize });
    assignBatch(b, next, 1);
    out.push(b);
    next += records;
  }
  return out;
}

function scanAll(cache: TailCache, key: string, offset: number): Buffer[] | undefined {
  const got: Buffer[] = [];
  const hit = cache.scan(key, offset, (buf) => {
    got.push(Buffer.from(buf));
    return true;
  });
  return hit ? got : undefined;
}

test('scan returns copies of the committed batches from the one holding the offset', () => {
  const cache = new TailCache(1 << 20);
  const batches = committed(0, 5);
  const expected = batches.map((b) => Buffer.from(b));
  cache.append('t/0', batches);
  for (const b of batches) b.fill(0); // the producer's buffers are reused: the cache kept copies
  assert.deepEqual(scanAll(cache, 't/0', 0), expected);
  assert.deepEqual(scanAll(cache, 't/0', 9), expected.slice(2)); // offset 9 lies in the third batch
  assert.equal(scanAll(cache, 't/0', 20), undefined); // at the end of the range
  assert.deepEqual(cache.range('t/0'), { start: 0, end: 20 });
  assert.equal(cache.size, expected.reduce((n, b) => n + b.length, 0));
});

test('wrapping the ring evicts the oldest commits across partitions and never serves overwritten bytes', () => {
  const one = committed(0, 1)[0].length;
  const cache = new TailCache(one * 10 + one / 2); // room for 10 batches, not 11
  const all = new Map<string, Buffer[]>([['a', []], ['b', []]]);
  const next = new Map([['a', 0], ['b', 0]]);
  for (let round = 0; round < 40; round++) {
    const key = round % 3 === 0 ? 'b' : 'a';
    const batches = committed(next.get(key)!, 1 + (round % 2));
    next.set(key, next.get(key)! + batches.length * 4);
    all.get(key)!.push(...batches.map((b) => Buffer.from(b)));
    cache.append(key, batches);
    assert.ok(cache.size <= cache.maxBytes, `size ${cache.size} within ${cache.maxBytes}`);
    for (const [k, expected] of all) {
      const r = cache.range(k);
      if (r === undefined) continue;
      assert.equal(r.end, next.get(k));
      const got = scanAll(cache, k, r.start)!;
      // What is cached is a suffix of what was committed, byte for byte.
      assert.deepEqual(got, expected.slice(expected.length - got.length), `partition ${k} after round ${round}`);
    }
  }
  // The newest commits are always there.
  assert.equal(cache.range('a')!.end, next.get('a'));
});

test('a gap in offsets restarts the partition range; a commit larger than the cache is not kept', () => {
  const cache = new TailCache(64 * 1024);
  cache.append('t/0', committed(0, 2));
  cache.append('t/0', committed(100, 1));
  assert.deepEqual(cache.range('t/0'), { start: 100, end: 104 });
  cache.append('t/0', committed(104, 1, 4, 80 * 1024));
  assert.equal(cache.range('t/0'), undefined);
  assert.equal(cache.size, 0);
  cache.append('t/0', committed(108, 1));
  assert.deepEqual(cache.range('t/0'), { start: 108, end: 112 });
});

test('drop forgets a partition and its bytes', () => {
  const cache = new TailCache(1 << 20);
  cache.append('a', committed(0, 2));
  cache.append('b', committed(0, 3));
  const before = cache.size;
  cache.drop('a');
  assert.equal(cache.range('a'), undefined);
  assert.equal(scanAll(cache, 'a', 0), undefined);
  assert.ok(cache.size < before && cache.size > 0);
  assert.equal(scanAll(cache, 'b', 0)!.length, 3);
});
