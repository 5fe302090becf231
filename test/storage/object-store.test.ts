// The object-store contract, run against the local directory and the S3 test server alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKENDS, type BackendCtx } from './backends.js';
import { ObjectNotFoundError, ObjectStoreError } from '../../storage/errors.js';
import { LocalObjectStore } from '../../storage/local-store.js';

for (const backend of BACKENDS) {
  describe(`object store contract: ${backend.name}`, () => {
    let ctx: BackendCtx;
    before(async () => {
      ctx = await backend.start();
    });
    after(async () => {
      await ctx.cleanup();
    });

    test('put then get returns the same bytes, whole or from parts', async () => {
      const s = ctx.makeStore();
      await s.put('a/one', Buffer.from('hello world'));
      await s.put('a/two', [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('world')]);
      await s.put('empty', Buffer.alloc(0));
      assert.equal((await s.get('a/one')).toString(), 'hello world');
      assert.equal((await s.get('a/two')).toString(), 'hello world');
      assert.equal((await s.get('empty')).length, 0);
      await s.close();
    });

    test('ranged get returns exactly the range; the end is clamped; a start past the end fails', async () => {
      const s = ctx.makeStore();
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      await s.put('r', data);
      assert.deepEqual(await s.get('r', { start: 10, end: 19 }), data.subarray(10, 20));
      assert.deepEqual(await s.get('r', { start: 0, end: 0 }), data.subarray(0, 1));
      assert.deepEqual(await s.get('r', { start: 990, end: 5000 }), data.subarray(990));
      await assert.rejects(s.get('r', { start: 1000, end: 1010 }), (e: unknown) => e instanceof ObjectStoreError && !e.retriable);
      await s.close();
    });

    test('get of a missing key is ObjectNotFoundError; delete is idempotent', async () => {
      const s = ctx.makeStore();
      await assert.rejects(s.get('nope'), ObjectNotFoundError);
      await assert.rejects(s.get('nope/deeper', { start: 0, end: 3 }), ObjectNotFoundError);
      await s.put('d', Buffer.from('x'));
      await s.delete('d');
      await s.delete('d');
      await s.delete('never/was');
      await assert.rejects(s.get('d'), ObjectNotFoundError);
      await s.close();
    });

    test('overwrite replaces the whole object', async () => {
      const s = ctx.makeStore();
      await s.put('o', Buffer.alloc(5000, 1));
      await s.put('o', Buffer.from('short'));
      assert.equal((await s.get('o')).toString(), 'short');
      await s.close();
    });

    test('list returns every object under a prefix, across pages, with size and time', async () => {
      const s = ctx.makeStore({ listPageSize: 3 });
      const t0 = Date.now();
      const keys = Array.from({ length: 11 }, (_, i) => `segments/agent-${i % 2}/obj-${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((k, i) => s.put(k, Buffer.alloc(i + 1))));
      await s.put('other/x', Buffer.from('x'));
      const all = await s.list('segments/');
      assert.deepEqual(all.map((o) => o.key).sort(), [...keys].sort());
      for (const o of all) {
        assert.equal(o.size, keys.indexOf(o.key) + 1);
        assert.ok(Math.abs(o.lastModified - t0) < 60_000, `lastModified ${o.lastModified} near ${t0}`);
      }
      assert.equal((await s.list('segments/agent-1/')).length, 5);
      assert.equal((await s.list('segments/agent-1/obj-00')).length, 5);
      assert.deepEqual((await s.list('nothing/')).length, 0);
      assert.equal((await s.list('')).length, 12);
      await s.close();
    });

    test('concurrent puts of many keys and a large object', async () => {
      const s = ctx.makeStore();
      await Promise.all(Array.from({ length: 40 }, (_, i) => s.put(`c/${i}`, Buffer.alloc(1000, i))));
      for (let i = 0; i < 40; i += 13) assert.deepEqual(await s.get(`c/${i}`), Buffer.alloc(1000, i));
      const big = Buffer.alloc(6 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
      await s.put('big', [big.subarray(0, 1000), big.subarray(1000)]);
      assert.ok((await s.get('big')).equals(big));
      assert.ok((await s.get('big', { start: 4_000_000, end: 4_100_000 })).equals(big.subarray(4_000_000, 4_100_001)));
      await s.close();
    });

    test('an object larger than a request body may be (a merged segment) goes up whole, in parts on S3', async () => {
      // 21 MiB from many buffers (as the merger hands them over), parts of 5 MiB spanning buffer edges:
      // the S3 test server refuses a single request body over 11 MiB.
      const s = ctx.makeStore({ multipartPartBytes: 5 * 1024 * 1024 });
      const big = Buffer.alloc(21 * 1024 * 1024 + 123);
      for (let i = 0; i < big.length; i += 997) big[i] = (i >> 10) & 0xff;
      const pieces: Buffer[] = [];
      for (let at = 0; at < big.length; at += 300_000 + (at % 7)) pieces.push(big.subarray(at, Math.min(big.length, at + 300_000 + (at % 7))));
      await s.put('merged', pieces);
      assert.ok((await s.get('merged')).equals(big));
      const edge = 5 * 1024 * 1024;
      assert.ok((await s.get('merged', { start: edge - 10, end: edge + 10 })).equals(big.subarray(edge - 10, edge + 11)), 'across a part boundary');
      assert.deepEqual((await s.list('merged')).map((o) => [o.key, o.size]), [['merged', big.length]]);
      await s.close();
    });
  });
}

describe('local directory store', () => {
  let ctx: BackendCtx;
  before(async () => {
    ctx = await BACKENDS[0].start();
  });
  after(async () => {
    await ctx.cleanup();
  });

  test('objects are whole or absent: temp files are never listed, and stale ones are swept', async () => {
    const s = ctx.makeStore() as LocalObjectStore;
    await s.put('segments/a/1.seg', Buffer.from('one'));
    // A put interrupted by a crash leaves only a temp file behind.
    await mkdir(join(s.bucket, 'segments', 'a'), { recursive: true });
    await writeFile(join(s.bucket, 'segments', 'a', '2.seg.abc123.shtmp'), 'partial');
    assert.deepEqual((await s.list('segments/')).map((o) => o.key), ['segments/a/1.seg']);
    await assert.rejects(s.get('segments/a/2.seg'), ObjectNotFoundError);
    assert.equal(await s.removeStaleTempFiles(60_000), 0);
    assert.equal(await s.removeStaleTempFiles(-1), 1);
    assert.deepEqual(await readdir(join(s.bucket, 'segments', 'a')), ['1.seg']);
  });

  test('a directory removed behind the store\'s back is recreated', async () => {
    const s = ctx.makeStore() as LocalObjectStore;
    await s.put('segments/a/1.seg', Buffer.from('one'));
    await rm(join(s.bucket, 'segments'), { recursive: true, force: true });
    await s.put('segments/a/2.seg', Buffer.from('two'));
    assert.equal((await s.get('segments/a/2.seg')).toString(), 'two');
    await s.close();
  });

  test('keys that would escape the directory are refused', async () => {
    const s = ctx.makeStore();
    for (const k of ['../x', 'a/../../x', '/abs', 'a//b', 'x.shtmp', '']) {
      await assert.rejects(s.put(k, Buffer.from('x')), ObjectStoreError, k);
    }
  });
});
