// The partition log and topic identity: a changed topic is looked up again; the same topic id keeps
// everything (leadership, open writer, producer state), a topic deleted and re-created under its name
// (another id, and the same lease epoch as before: the dangerous case) loses it all, and requests
// wait for the check instead of racing it. Real writer and reader on a local directory, the storage
// tests' fake metadata behind them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { readBatchHeader } from '../../protocol/record-batch.js';
import type { LeaseRecord, TopicRecord } from '../../metadata/types.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { Leadership, type LeaseGrant, type LeaseStore } from '../../src/cluster/leases.js';
import { silentLogger } from '../../src/logger.js';
import { AgentPartitionLog } from '../../src/partition-log.js';
import { makeBatch } from '../storage/batches.js';
import { FakeMetadata } from '../storage/fake-metadata.js';

const AGENT = 'agent-a';

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'streamhouse-partition-log-'));
  const objects = new LocalObjectStore({ kind: 'local', dir, fsync: false });
  const meta = new FakeMetadata();
  const ids = new Map<string, string>();
  let gate: Promise<void> | undefined;
  const create = (id: string) => {
    meta.addTopic('t', 1, { agentId: AGENT, epoch: 1 });
    ids.set('t', id);
  };
  const metadata = Object.assign(Object.create(meta) as FakeMetadata, {
    async getTopic(name: string): Promise<TopicRecord | undefined> {
      if (gate !== undefined) await gate;
      const id = ids.get(name);
      return id === undefined ? undefined : { name, topicId: id, partitionCount: 1, retentionMs: null, config: {}, createdAt: 0, updatedAt: 0 };
    },
    async setLogStartOffset(): Promise<number> {
      return 0;
    },
    async acquirePartitionLease(topic: string, partitionId: number, agentId: string): Promise<LeaseRecord | undefined> {
      const p = await meta.getPartition(topic, partitionId);
      if (p === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      return { topic, partitionId, leaderAgentId: agentId, leaseExpiresAt: Date.now() + 60_000, epoch: p.leaderEpoch };
    },
    async renewPartitionLease(): Promise<LeaseRecord | undefined> {
      return undefined;
    },
    async releasePartitionLease(): Promise<void> {},
    getPartition: meta.getPartition.bind(meta),
  });
  const writer = new SegmentWriter({ objectStore: objects, metadata: meta, agentId: AGENT, flushMs: 2 });
  const reader = new SegmentReader({ objectStore: objects, metadata: meta });
  const log = new AgentPartitionLog(metadata, writer, reader);
  // The fake's single-partition acquisition behind the lease state machine; renewal is not started.
  const store: LeaseStore = {
    async acquire(holder, refs) {
      const out: LeaseGrant[] = [];
      for (const r of refs) {
        const l = await metadata.acquirePartitionLease(r.topic, r.partitionId, holder);
        if (l) out.push({ topic: l.topic, partitionId: l.partitionId, holder: l.leaderAgentId, epoch: l.epoch });
      }
      return out;
    },
    async renew() {
      return [];
    },
    async release() {},
  };
  const leadership = new Leadership({ store, agentId: AGENT, ttlMs: 60_000, log: silentLogger(), listener: log });
  log.attach(leadership);
  create('id-1');
  return {
    meta,
    writer,
    log,
    leadership,
    /** Deletes the topic and creates it again under the same name with `id` (same lease epoch, 1). */
    recreate(id: string | undefined) {
      meta.deleteTopic('t');
      ids.delete('t');
      if (id !== undefined) create(id);
    },
    hold() {
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      return () => {
        gate = undefined;
        open();
      };
    },
    async produce(values: number) {
      await log.lead('t', 0);
      return log.append('t', 0, makeBatch({ records: values, valueSize: 20 }));
    },
    async offsets() {
      const batches = await log.read('t', 0, 0, 1 << 20);
      return batches.map((b) => readBatchHeader(b).baseOffset);
    },
    async cleanup() {
      log.stop();
      await writer.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('a change that keeps the topic id keeps leadership and the open log', async () => {
  const s = await setup();
  try {
    assert.equal((await s.produce(2)).baseOffset, 0);
    assert.equal((await s.produce(2)).baseOffset, 2);
    s.log.topicChanged('t'); // e.g. a config change announced by another agent
    await s.log.settled('t');
    assert.equal(s.leadership.state('t', 0).kind, 'leading');
    assert.equal(s.writer.isOpen('t', 0), true);
    assert.deepEqual(await s.offsets(), [0, 2]);
    assert.equal((await s.produce(1)).baseOffset, 4);
  } finally {
    await s.cleanup();
  }
});

test('a topic re-created under its name (same lease epoch) loses every trace of the old one', async () => {
  const s = await setup();
  try {
    await s.produce(3);
    await s.produce(3);
    assert.deepEqual(await s.offsets(), [0, 3]);
    s.recreate('id-2');
    s.log.topicChanged('t');
    await s.log.settled('t');
    assert.equal(s.leadership.state('t', 0).kind, 'unowned');
    assert.equal(s.writer.isOpen('t', 0), false);
    assert.deepEqual(await s.offsets(), [], 'the new partition is empty');
    assert.equal((await s.produce(1)).baseOffset, 0);
    assert.deepEqual(await s.offsets(), [0]);
  } finally {
    await s.cleanup();
  }
});

test('deleted: requests wait for the check and then find the topic gone; missed changes check every topic', async () => {
  const s = await setup();
  try {
    await s.produce(2);
    const release = s.hold();
    s.recreate(undefined);
    s.log.topicChanged(undefined); // reconnected: anything may have changed
    let settled = false;
    const reading = s.log.read('t', 0, 0, 1 << 20).then(
      (r) => ({ ok: r.length }),
      (err: unknown) => ({ code: (err as KafkaError).code }),
    );
    void reading.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(settled, false, 'the read waits for the topic check');
    assert.equal(s.leadership.state('t', 0).kind, 'leading', 'still leading until the check answers');
    release();
    assert.deepEqual(await reading, { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    assert.equal(s.leadership.state('t', 0).kind, 'unowned');
  } finally {
    await s.cleanup();
  }
});
