// The Produce frame arena: frames never overlap while live, slabs are reused only when every frame
// in them is back, and misuse is loud.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameArena } from '../../../src/network/frame-arena.js';

test('live frames never share bytes; a slab is reused once all its frames are released', () => {
  const arena = new FrameArena({ slabBytes: 1024, maxFreeSlabs: 2 });
  const live = new Map<Buffer, number>();
  let seed = 1;
  const rand = () => (seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff;
  for (let step = 0; step < 5000; step++) {
    if (live.size > 0 && rand() < 0.45) {
      const frames = [...live.keys()];
      const f = frames[Math.floor(rand() * frames.length)];
      // Untouched while live: every byte still carries the value written at alloc time.
      assert.ok(f.every((b) => b === live.get(f)), `frame intact at step ${step}`);
      arena.release(f);
      live.delete(f);
    } else {
      const size = 1 + Math.floor(rand() * 512);
      const f = arena.alloc(size)!;
      assert.equal(f.length, size);
      const mark = step % 251;
      f.fill(mark);
      live.set(f, mark);
    }
  }
  for (const [f, mark] of live) {
    assert.ok(f.every((b) => b === mark));
    arena.release(f);
  }
  assert.equal(arena.liveFrames, 0);
  assert.ok(arena.slabCount <= 3, `idle slabs are bounded (${arena.slabCount})`);
});

test('frames larger than half a slab are left to the caller; foreign or double releases throw', () => {
  const arena = new FrameArena({ slabBytes: 1024 });
  assert.equal(arena.alloc(513), undefined);
  assert.equal(arena.alloc(0), undefined);
  const f = arena.alloc(100)!;
  assert.ok(arena.owns(f));
  assert.equal(arena.owns(Buffer.alloc(100)), false);
  arena.release(f);
  assert.throws(() => arena.release(f), /not a live arena frame/);
  assert.throws(() => arena.release(Buffer.alloc(10)), /not a live arena frame/);
});

test('poison overwrites a frame as it is released', () => {
  const arena = new FrameArena({ slabBytes: 1024, poison: true });
  const f = arena.alloc(64)!;
  f.fill(7);
  arena.release(f);
  assert.ok(f.every((b) => b === 0xdd));
});
