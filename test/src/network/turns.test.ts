import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Turns } from '../../../src/network/turns.js';

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
};

test('a turn is ready only when every earlier turn is released, whatever order they end in', async () => {
  const turns = new Turns();
  const a = turns.take();
  const b = turns.take();
  const c = turns.take();
  assert.equal(await settled(a.ready), true);
  assert.equal(await settled(b.ready), false);
  c.release();
  b.release(); // b ends before a: c must still wait for a
  assert.equal(await settled(c.ready), false);
  a.release();
  a.release(); // twice is harmless
  assert.equal(await settled(b.ready), true);
  assert.equal(await settled(c.ready), true);
  assert.equal(await settled(turns.take().ready), true);
});
