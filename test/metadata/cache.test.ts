// The read-through cache: what it serves from memory, what invalidates it, and that a read racing a
// change never installs stale data. Runs on PostgreSQL with an instrumented inner store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openMetadataStore } from '../../metadata/index.js';
import { CachedMetadataStore } from '../../metadata/cache.js';
import type { MetadataStore } from '../../metadata/types.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { flushEntry, unique } from './contract.js';

let server: PostgresServer;
let db: MetadataStore;
let other: MetadataStore; // "another agent" on the same database

before(async () => {
  server = await startPostgres();
  const databaseUrl = await server.createDatabase();
  [db, other] = await Promise.all([openMetadataStore({ databaseUrl, dataDir: '' }), openMetadataStore({ databaseUrl, dataDir: '' })]);
});
after(async () => {
  await Promise.all([db?.close(), other?.close()]);
  await server?.stop();
});

/** Wraps a store, counting calls per method; `gate(method)` holds the next call of it until released. */
function instrument(inner: MetadataStore) {
  const calls = new Map<string, number>();
  const gates = new Map<string, { entered: () => void; release: Promise<void> }>();
  const proxy = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return async (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const gate = gates.get(prop);
        if (gate) {
          gates.delete(prop);
          gate.entered();
          await gate.release;
        }
        return result;
      };
    },
  });
  return {
    store: proxy,
    count: (method: string) => calls.get(method) ?? 0,
    reset: () => calls.clear(),
    /** The next call of `method` reads from the database, then waits until `release()`. */
    gate(method: string) {
      let release!: () => void;
      let entered!: () => void;
      const hasEntered = new Promise<void>((r) => (entered = r));
      gates.set(method, { entered, release: new Promise<void>((r) => (release = r)) });
      return { hasEntered, release };
    },
  };
}

describe('CachedMetadataStore', () => {
  it('serves topics and partitions from memory after the first read', async () => {
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store);
    const name = unique('cached');
    const t = await cache.createTopic({ name, partitionCount: 8 });
    inner.reset();
    for (let i = 0; i < 100; i++) {
      assert.equal((await cache.getTopic(name))!.topicId, t.topicId);
      assert.equal((await cache.getTopicById(t.topicId))!.name, name);
      assert.equal((await cache.getPartitions(name)).length, 8);
      assert.equal((await cache.getPartition(name, 3))!.partitionId, 3);
    }
    assert.equal(inner.count('getTopic'), 0, 'installed by createTopic');
    assert.equal(inner.count('getTopicById'), 0);
    assert.equal(inner.count('getPartitions'), 1);
    // Cached records are frozen: a caller cannot corrupt the cache by accident.
    const rec = (await cache.getTopic(name))!;
    assert.throws(() => {
      (rec as { partitionCount: number }).partitionCount = 1;
    }, TypeError);
    assert.throws(() => {
      (rec.config as Record<string, string>).x = 'y';
    }, TypeError);
  });

  it('concurrent reads of the partitions of a topic share one query; a read after an invalidation does not join an older one', async () => {
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store);
    const name = unique('shared-read');
    await db.createTopic({ name, partitionCount: 50 });
    inner.reset();
    // An agent that has just taken 50 leases asks for each partition at once.
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.getPartition(name, i)));
    assert.deepEqual(got.map((p) => p!.partitionId), Array.from({ length: 50 }, (_, i) => i));
    assert.equal(inner.count('getPartitions'), 1);
    const gate = inner.gate('getPartitions');
    cache.invalidateTopic(name);
    const before = cache.getPartitions(name);
    await gate.hasEntered;
    await other.addPartitions(name, 60);
    cache.invalidateTopic(name);
    const after = cache.getPartitions(name);
    gate.release();
    assert.equal((await after).length, 60, 'the read started after the invalidation sees the new partitions');
    await before;
    assert.equal(inner.count('getPartitions'), 3);
  });

  it('a partition forgotten while a shared read is in flight (a new lease) is read again, not answered missing', async () => {
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store);
    const name = unique('forgotten');
    await db.createTopic({ name, partitionCount: 2 });
    const gate = inner.gate('getPartitions');
    const first = cache.getPartition(name, 0);
    await gate.hasEntered;
    assert.ok(await cache.acquirePartitionLease(name, 1, unique('agent'), 60_000));
    const second = cache.getPartition(name, 1); // joins the read in flight, which the lease patched
    gate.release();
    assert.equal((await first)!.partitionId, 0);
    assert.equal((await second)?.partitionId, 1);
  });

  it('changes made through it are visible at once; changes by others after invalidateTopic', async () => {
    const cache = new CachedMetadataStore(db);
    const name = unique('inval');
    await cache.createTopic({ name, partitionCount: 2 });
    assert.equal((await cache.getPartitions(name)).length, 2);
    await cache.addPartitions(name, 4);
    assert.equal((await cache.getTopic(name))!.partitionCount, 4);
    assert.equal((await cache.getPartitions(name)).length, 4);
    await cache.updateTopicConfig(name, { a: 'b' });
    assert.deepEqual((await cache.getTopic(name))!.config, { a: 'b' });
    // Another agent grows the topic: stale until told.
    await other.addPartitions(name, 6);
    assert.equal((await cache.getTopic(name))!.partitionCount, 4);
    cache.invalidateTopic(name);
    assert.equal((await cache.getTopic(name))!.partitionCount, 6);
    assert.equal((await cache.getPartitions(name)).length, 6);
    // Another agent deletes it.
    await other.deleteTopic(name);
    cache.invalidateTopic(name);
    assert.equal(await cache.getTopic(name), undefined);
    assert.deepEqual(await cache.getPartitions(name), []);
    // Deleting through the cache.
    const gone = unique('gone');
    await cache.createTopic({ name: gone, partitionCount: 1 });
    assert.equal(await cache.deleteTopic(gone), true);
    assert.equal(await cache.getTopic(gone), undefined);
  });

  it('announces its own topic changes once committed; forgetTopic also forgets which partitions we lead', async () => {
    const cache = new CachedMetadataStore(db);
    const seen: string[] = [];
    cache.onTopicChange((t) => seen.push(`${t}:${cache.ledPartitions().length}`));
    const name = unique('announce');
    await cache.createTopic({ name, partitionCount: 1 });
    await cache.addPartitions(name, 2);
    await cache.updateTopicConfig(name, { 'retention.ms': '1000' });
    const lease = await cache.acquirePartitionLease(name, 0, 'agent-x', 60_000);
    assert.ok(lease);
    assert.equal(cache.ledPartitions().length, 1);
    // Deleted elsewhere and re-created: forgetTopic drops it all, led partitions included.
    await other.deleteTopic(name);
    const recreated = await other.createTopic({ name, partitionCount: 1 });
    cache.forgetTopic(name);
    assert.deepEqual(cache.ledPartitions(), []);
    assert.equal((await cache.getTopic(name))?.topicId, recreated.topicId);
    await cache.deleteTopic(name);
    await cache.deleteTopic(name); // nothing deleted: nothing announced
    assert.deepEqual(seen, [`${name}:0`, `${name}:0`, `${name}:0`, `${name}:0`], 'create, grow, reconfigure, delete');
  });

  it('entries expire after ttlMs', async () => {
    let now = 1_000;
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store, { ttlMs: 500, now: () => now });
    const name = unique('ttl');
    await db.createTopic({ name, partitionCount: 1 });
    await cache.getTopic(name);
    await cache.getTopic(name);
    assert.equal(inner.count('getTopic'), 1);
    now += 499;
    await cache.getTopic(name);
    assert.equal(inner.count('getTopic'), 1);
    now += 2;
    await cache.getTopic(name);
    assert.equal(inner.count('getTopic'), 2);
  });

  it('serves the segment index of led partitions from memory, and the high watermark as the end', async () => {
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store, { maxSegmentsPerPartition: 6 });
    const name = unique('led');
    const agent = unique('agent');
    await cache.createTopic({ name, partitionCount: 2 });
    const lease = (await cache.acquirePartitionLease(name, 0, agent, 60_000))!;
    let hw = 0;
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await cache.commitFlush(agent, [flushEntry(name, 0, lease.epoch, hw, 10)]), { committed: true });
      hw += 10;
    }
    inner.reset();
    assert.equal((await cache.findSegmentForOffset(name, 0, 0))!.baseOffset, 0); // first lookup loads the index
    const loads = inner.count('listSegments') + inner.count('findSegmentForOffset') + inner.count('getPartitions');
    for (let round = 0; round < 3; round++) {
      for (let offset = hw - 50; offset < hw; offset += 7) {
        const s = (await cache.findSegmentForOffset(name, 0, offset))!;
        assert.ok(s.baseOffset <= offset && offset <= s.endOffset);
      }
      assert.equal(await cache.findSegmentForOffset(name, 0, hw), undefined, 'tail: nothing at the high watermark');
      // New flushes are appended to the index as they commit.
      assert.deepEqual(await cache.commitFlush(agent, [flushEntry(name, 0, lease.epoch, hw, 10)]), { committed: true });
      assert.equal((await cache.findSegmentForOffset(name, 0, hw + 3))!.baseOffset, hw);
      hw += 10;
      assert.equal((await cache.getPartition(name, 0))!.highWatermark, hw);
    }
    assert.equal(inner.count('listSegments') + inner.count('findSegmentForOffset') + inner.count('getPartitions'), loads, 'no further reads');
    // The index keeps the newest segments; older offsets go to the database.
    inner.reset();
    assert.equal((await cache.findSegmentForOffset(name, 0, 0))!.baseOffset, 0);
    assert.equal(inner.count('listSegments'), 1);
    // Partitions we do not lead are always read from the database.
    inner.reset();
    await cache.findSegmentForOffset(name, 1, 0);
    await cache.findSegmentForOffset(name, 1, 0);
    assert.equal(inner.count('findSegmentForOffset'), 2);
  });

  it('forgets leadership when fenced, when renewal fails and when released', async () => {
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store);
    const name = unique('fenced');
    const agent = unique('agent');
    await cache.createTopic({ name, partitionCount: 1 });
    const lease = (await cache.acquirePartitionLease(name, 0, agent, 60_000))!;
    await cache.commitFlush(agent, [flushEntry(name, 0, lease.epoch, 0, 5)]);
    await cache.findSegmentForOffset(name, 0, 0);
    assert.deepEqual(cache.ledPartitions(), [{ topic: name, partitionId: 0, epoch: lease.epoch }]);
    // Another agent takes over (our lease was released behind our back).
    await db.releasePartitionLease(name, 0, agent);
    const theirs = (await other.acquirePartitionLease(name, 0, 'someone-else', 60_000))!;
    await other.commitFlush('someone-else', [flushEntry(name, 0, theirs.epoch, 5, 5)]);
    const result = await cache.commitFlush(agent, [flushEntry(name, 0, lease.epoch, 5, 5)]);
    assert.equal(result.committed, false);
    assert.deepEqual(cache.ledPartitions(), []);
    inner.reset();
    assert.equal((await cache.findSegmentForOffset(name, 0, 7))!.baseOffset, 5, 'read from the database now');
    assert.equal(inner.count('findSegmentForOffset'), 1);
    assert.equal((await cache.getPartition(name, 0))!.highWatermark, 10);
    // Renewal refused → forgotten; release → forgotten.
    const t2 = unique('renew');
    await cache.createTopic({ name: t2, partitionCount: 2 });
    const l0 = (await cache.acquirePartitionLease(t2, 0, agent, 60_000))!;
    await cache.acquirePartitionLease(t2, 1, agent, 60_000);
    assert.equal(cache.ledPartitions().length, 2);
    assert.equal(await cache.renewPartitionLease(t2, 0, agent, l0.epoch + 1, 60_000), undefined);
    await cache.releasePartitionLease(t2, 1, agent);
    assert.deepEqual(cache.ledPartitions(), []);
  });

  it('a partition read racing a flush commit does not install the older high watermark', async () => {
    const inner = instrument(db);
    const cache = new CachedMetadataStore(inner.store);
    const name = unique('race');
    const agent = unique('agent');
    await db.createTopic({ name, partitionCount: 1 });
    const lease = (await cache.acquirePartitionLease(name, 0, agent, 60_000))!;
    const gate = inner.gate('getPartitions');
    const read = cache.getPartition(name, 0); // reads HW 0, then waits
    await gate.hasEntered;
    assert.deepEqual(await cache.commitFlush(agent, [flushEntry(name, 0, lease.epoch, 0, 10)]), { committed: true });
    gate.release();
    await read;
    assert.equal((await cache.getPartition(name, 0))!.highWatermark, 10);
    // A structural change during a read cancels what the read would install.
    const gate2 = inner.gate('getPartitions');
    cache.invalidateTopic(name);
    const read2 = cache.getPartitions(name);
    await gate2.hasEntered;
    await cache.addPartitions(name, 3);
    gate2.release();
    await read2;
    assert.equal((await cache.getPartitions(name)).length, 3);
  });
});
