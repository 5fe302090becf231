// queued.max.request.bytes: reservations never exceed the capacity, waiters are granted in arrival
// order within their class as memory comes back, and large frames leave room for ordinary requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryPool, largestFrameFor } from '../../../src/network/memory-pool.js';

const MiB = 1024 * 1024;
const tick = () => new Promise((r) => setImmediate(r));

test('a reservation that does not fit waits; releases grant waiters in arrival order, never above the capacity', async () => {
  const pool = new MemoryPool(1000);
  assert.equal(pool.largeFrameBytes, 250);
  assert.ok(pool.tryReserve(200));
  assert.ok(pool.tryReserve(200));
  assert.ok(pool.tryReserve(200));
  assert.ok(pool.tryReserve(200));
  assert.equal(pool.tryReserve(201), false);
  const granted: string[] = [];
  pool.wait(250, () => granted.push('a'));
  // A later, smaller request does not overtake a waiting one of its class.
  assert.equal(pool.tryReserve(10), false);
  pool.wait(10, () => granted.push('b'));
  await tick();
  assert.deepEqual(granted, []);
  pool.release(200);
  await tick();
  assert.deepEqual(granted, ['a', 'b']);
  assert.equal(pool.reserved, 3 * 200 + 250 + 10);
  assert.ok(pool.peakReserved <= pool.capacity);
});

test('large frames hold at most three quarters; ordinary requests still get the rest', () => {
  const pool = new MemoryPool(64 * MiB);
  assert.equal(pool.largeFrameBytes, MiB);
  assert.equal(pool.largeCapacity, 48 * MiB);
  assert.equal(largestFrameFor(64 * MiB), 48 * MiB);
  for (let i = 0; i < 3; i++) assert.ok(pool.tryReserve(16 * MiB));
  assert.equal(pool.tryReserve(MiB + 1), false, 'the large share is used up');
  const lateLarge: number[] = [];
  pool.wait(2 * MiB, () => lateLarge.push(1));
  for (let i = 0; i < 16; i++) assert.ok(pool.tryReserve(MiB), 'a 1 MiB request is not large');
  assert.equal(pool.tryReserve(1), false, 'the whole pool is used');
  assert.equal(pool.reserved, 64 * MiB);
  assert.throws(() => pool.tryReserve(48 * MiB + 1), /can never fit/);
});

test('a cancelled waiter (its connection closed) no longer blocks those behind it', async () => {
  const pool = new MemoryPool(1000);
  for (const n of [250, 250, 250, 100]) assert.ok(pool.tryReserve(n));
  const granted: string[] = [];
  const big = pool.wait(200, () => granted.push('big'));
  pool.wait(100, () => granted.push('small')); // fits, but waits behind the first
  await tick();
  assert.deepEqual(granted, []);
  big.cancel();
  await tick();
  assert.deepEqual(granted, ['small']);
  assert.equal(pool.waiting, 0);
  assert.equal(pool.reserved, 950);
  assert.throws(() => pool.release(951), /bytes reserved/);
});
