// Fault injection against the real S3 client path: an HTTP proxy in front of the S3 test server
// fails (500/503), resets, delays, or fails AFTER forwarding a fraction of requests.
// Guarantees: transient faults are absorbed by retries; persistent ones become retriable errors;
// nothing acked is lost and nothing unacked becomes visible.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { readBatchHeader } from '../../protocol/record-batch.js';
import { createObjectStore } from '../../storage/object-store.js';
import { S3ObjectStore } from '../../storage/s3-store.js';
import { ObjectStoreError } from '../../storage/errors.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort } from '../helpers/ports.js';
import { FakeMetadata } from './fake-metadata.js';
import { makeBatch, producerView } from './batches.js';

let server: S3TestServer;
let proxy: FaultProxy;
let n = 0;

before(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy(server.endpoint, { seed: 7 });
});
after(async () => {
  await proxy.stop();
  await server.stop();
});

function viaProxy(extra: Record<string, unknown> = {}): S3ObjectStore {
  return createObjectStore({
    ...server.storeConfig({ endpoint: proxy.endpoint, prefix: `f${n++}/`, retryBaseDelayMs: 2, retryMaxDelayMs: 20, maxAttempts: 8, attemptTimeoutMs: 2_000 }),
    ...extra,
  } as never) as S3ObjectStore;
}

test('transient 500/503s, resets and lost responses are absorbed by retries', async () => {
  proxy.setRules([
    { rate: 0.15, action: 'error', status: 503 },
    { rate: 0.1, action: 'error', status: 500 },
    { rate: 0.05, action: 'reset' },
    { method: 'PUT', rate: 0.1, action: 'after', status: 500 },
  ]);
  proxy.resetStats();
  const store = viaProxy();
  try {
    const meta = new FakeMetadata();
    meta.addTopic('t', 4, { agentId: 'a', epoch: 1 });
    const writer = new SegmentWriter({ objectStore: store, metadata: meta, agentId: 'a', flushMs: 5 });
    for (let p = 0; p < 4; p++) writer.openPartition('t', p, { leaseEpoch: 1, highWatermark: 0 });
    const produced: Buffer[][] = [[], [], [], []];
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        [0, 1, 2, 3].map((p) => {
          const b = makeBatch();
          produced[p].push(b);
          return writer.append('t', p, b);
        }),
      );
    }
    const reader = new SegmentReader({ objectStore: store, metadata: meta, tailCacheBytes: 0, blockCacheBytes: 0 });
    for (let p = 0; p < 4; p++) assert.deepEqual(await reader.read('t', p, 0, 1 << 20, 30), produced[p]);
    assert.ok(proxy.stats.errors + proxy.stats.resets + proxy.stats.after > 3, JSON.stringify(proxy.stats));
    assert.ok(store.stats.retries > 3);
    await writer.close();
  } finally {
    proxy.setRules([]);
    await store.close();
  }
});

test('slow responses time out and are retried', async () => {
  proxy.setRules([{ rate: 0.5, action: 'delay', delayMs: 400 }]);
  proxy.resetStats();
  const store = viaProxy({ attemptTimeoutMs: 100 });
  try {
    const t0 = Date.now();
    for (let i = 0; i < 6; i++) await store.put(`slow/${i}`, Buffer.from(`v${i}`));
    for (let i = 0; i < 6; i++) assert.equal((await store.get(`slow/${i}`)).toString(), `v${i}`);
    assert.ok(proxy.stats.delayed > 0);
    assert.ok(Date.now() - t0 < 12 * 400, 'no attempt waited for the slow response');
  } finally {
    proxy.setRules([]);
    await store.close();
  }
});

test('a failing store gives producers retriable errors, rolls back, and nothing becomes visible', async () => {
  const store = viaProxy({ maxAttempts: 3 });
  try {
    const meta = new FakeMetadata();
    meta.addTopic('t', 1, { agentId: 'a', epoch: 1 });
    const writer = new SegmentWriter({ objectStore: store, metadata: meta, agentId: 'a', flushMs: 2 });
    writer.openPartition('t', 0, { leaseEpoch: 1, highWatermark: 0 });
    const acked = makeBatch();
    await writer.append('t', 0, acked);
    proxy.setRules([{ method: 'PUT', rate: 1, action: 'error', status: 503 }]);
    const err = await writer.append('t', 0, makeBatch()).catch((e) => e);
    assert.ok(err instanceof KafkaError && err.code === ErrorCode.KAFKA_STORAGE_ERROR && err.retriable, String(err));
    assert.equal(writer.logEndOffset('t', 0), 3);
    assert.equal(meta.segments('t', 0).length, 1);
    proxy.setRules([]);
    const next = makeBatch();
    assert.deepEqual(await writer.append('t', 0, next), { baseOffset: 3, lastOffset: 5 });
    const reader = new SegmentReader({ objectStore: store, metadata: meta, tailCacheBytes: 0 });
    assert.deepEqual(await reader.read('t', 0, 0, 1 << 20, 6), [acked, next]);
    // Reads while GETs fail: retriable storage error, never wrong data.
    proxy.setRules([{ method: 'GET', rate: 1, action: 'error', status: 500 }]);
    await assert.rejects(
      new SegmentReader({ objectStore: store, metadata: meta }).read('t', 0, 0, 1 << 20, 6),
      (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.KAFKA_STORAGE_ERROR && e.retriable,
    );
    proxy.setRules([]);
    await writer.close();
  } finally {
    proxy.setRules([]);
    await store.close();
  }
});

test('an unreachable endpoint fails with a retriable error after the retries', async () => {
  const port = await freePort();
  const store = createObjectStore({ ...server.storeConfig({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 3, retryBaseDelayMs: 2 }) } as never) as S3ObjectStore;
  try {
    await assert.rejects(store.put('x', Buffer.from('x')), (e: unknown) => e instanceof ObjectStoreError && e.retriable);
    assert.equal(store.stats.retries, 2);
  } finally {
    await store.close();
  }
});

test('concurrency is bounded by maxConcurrency', async () => {
  proxy.setRules([{ rate: 1, action: 'delay', delayMs: 15 }]);
  proxy.resetStats();
  const store = viaProxy({ maxConcurrency: 4 });
  try {
    await Promise.all(Array.from({ length: 24 }, (_, i) => store.put(`c/${i}`, Buffer.from('x'))));
    assert.ok(proxy.stats.maxActive <= 4, `max active ${proxy.stats.maxActive}`);
    assert.ok(proxy.stats.maxActive >= 2);
  } finally {
    proxy.setRules([]);
    await store.close();
  }
});

test('chaos: under random store and commit failures, the log is exactly the acked appends', async () => {
  proxy.setRules([
    { method: 'PUT', rate: 0.25, action: 'error', status: 503 },
    { method: 'PUT', rate: 0.1, action: 'after', status: 500 },
    { method: 'PUT', rate: 0.05, action: 'reset' },
    { method: 'GET', rate: 0.1, action: 'error', status: 503 },
  ]);
  // Two attempts per call: many cycles fail for real and exercise rollback.
  const store = viaProxy({ maxAttempts: 2 });
  try {
    const meta = new FakeMetadata();
    const P = 4;
    meta.addTopic('t', P, { agentId: 'a', epoch: 1 });
    const writer = new SegmentWriter({ objectStore: store, metadata: meta, agentId: 'a', flushMs: 3, commitRetryDelayMs: 1 });
    for (let p = 0; p < P; p++) writer.openPartition('t', p, { leaseEpoch: 1, highWatermark: 0 });
    const acked = new Map<string, { p: number; offset: number }>();
    let failures = 0;
    let fenced = 0;
    const producer = async (id: number) => {
      for (let i = 0; i < 25; i++) {
        const p = (id + i) % P;
        const b = makeBatch({ records: 1 + (i % 3) });
        const tag = producerView(b).toString('base64');
        for (let attempt = 0; attempt < 50; attempt++) {
          if (Math.random() < 0.05) meta.faults.commitThrows++;
          if (Math.random() < 0.03) meta.faults.commitThrowsAfterApply++;
          try {
            const r = await writer.append('t', p, b);
            acked.set(tag, { p, offset: r.baseOffset });
            break;
          } catch (err) {
            assert.ok(err instanceof KafkaError && err.retriable, String(err));
            if (err.code === ErrorCode.NOT_LEADER_OR_FOLLOWER) fenced++;
            failures++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, id) => producer(id)));
    meta.faults.commitThrows = 0;
    meta.faults.commitThrowsAfterApply = 0;
    assert.equal(fenced, 0);
    assert.ok(failures > 0, 'the chaos actually failed some produces');
    proxy.setRules([{ method: 'GET', rate: 0.2, action: 'error', status: 503 }]);
    const reader = new SegmentReader({ objectStore: store, metadata: meta, tailCacheBytes: 0 });
    let seen = 0;
    for (let p = 0; p < P; p++) {
      const hw = writer.highWatermark('t', p)!;
      assert.equal(hw, (await meta.getPartition('t', p))!.highWatermark);
      let batches: Buffer[] = [];
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          batches = await reader.read('t', p, 0, 1 << 30, hw);
          break;
        } catch {
          // retriable read error under GET faults: retry like a consumer
        }
      }
      for (const b of batches) {
        const tag = producerView(b).toString('base64');
        const a = acked.get(tag);
        assert.ok(a !== undefined, 'every stored batch was acked');
        assert.deepEqual(a, { p, offset: readBatchHeader(b).baseOffset }, 'at the acked offset');
        seen++;
      }
    }
    assert.equal(seen, acked.size, 'every acked batch is stored exactly once');
    assert.equal(acked.size, 6 * 25);
    await writer.close();
  } finally {
    proxy.setRules([]);
    await store.close();
  }
});
