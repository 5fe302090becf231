import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ApiKey } from '../../../protocol/index.js';
import type { ObjectInfo, ObjectStore } from '../../../storage/types.js';
import type { MetadataStore } from '../../../metadata/types.js';
import { AgentMetrics, InstrumentedObjectStore, S3_STANDARD_US_EAST_1, consumerLag, countingLeaseListener, instrumentMetadataStore } from '../../../src/metrics/index.js';
import { parsePrometheus, value } from '../../helpers/metrics.js';

async function samples(m: AgentMetrics) {
  return parsePrometheus((await m.scrape()).body);
}

test('each agent has its own registry: two in one process count separately', async () => {
  const a = new AgentMetrics(S3_STANDARD_US_EAST_1);
  const b = new AgentMetrics(S3_STANDARD_US_EAST_1);
  a.requestDone(ApiKey.Produce, 9, performance.now());
  a.requestDone(ApiKey.Produce, 9, performance.now());
  b.requestDone(ApiKey.Fetch, 12, performance.now());
  const sa = await samples(a);
  const sb = await samples(b);
  assert.equal(value(sa, 'kafka_network_requestmetrics_requests_total', { request: 'Produce', version: '9' }), 2);
  assert.equal(value(sa, 'kafka_network_requestmetrics_requests_total', { request: 'Fetch' }), 0);
  assert.equal(value(sb, 'kafka_network_requestmetrics_requests_total', { request: 'Fetch', version: '12' }), 1);
  assert.equal(value(sb, 'kafka_network_requestmetrics_totaltime_seconds_count', { request: 'Fetch' }), 1);
  assert.ok(value(sa, 'process_resident_memory_bytes') > 0, 'default metrics in each registry');
});

test('bytes and messages in/out per topic and in total (topic="")', async () => {
  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  m.produced('a', 100, 3, performance.now());
  m.produced('b', 50, 1, performance.now());
  m.produced('a', 10, 1, performance.now());
  m.fetched('a', 110);
  const s = await samples(m);
  assert.equal(value(s, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: 'a' }), 110);
  assert.equal(value(s, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: '' }), 160);
  assert.equal(value(s, 'kafka_server_brokertopicmetrics_messagesin_total', { topic: '' }), 5);
  assert.equal(value(s, 'kafka_server_brokertopicmetrics_bytesout_total', { topic: 'a' }), 110);
  assert.equal(value(s, 'kafka_server_brokertopicmetrics_bytesout_total', { topic: 'b' }), 0);
  assert.equal(value(s, 'streamhouse_produce_ack_latency_seconds_count'), 3);
});

class FakeStore implements ObjectStore {
  readonly kind = 'local' as const;
  readonly bucket = '/tmp/x';
  readonly objects = new Map<string, Buffer>();
  async put(key: string, body: Buffer | Buffer[]) {
    this.objects.set(key, Buffer.concat(Array.isArray(body) ? body : [body]));
  }
  async get(key: string) {
    const b = this.objects.get(key);
    if (!b) throw new Error('not found');
    return b;
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects].filter(([k]) => k.startsWith(prefix)).map(([key, b]) => ({ key, size: b.length, lastModified: 0 }));
  }
  async close() {}
}

test('the instrumented object store counts requests, bytes, errors and estimated cost per operation', async () => {
  const m = new AgentMetrics({ putPer1000: 5, getPer1000: 0.4, storageGbMonth: 23 });
  const store = new InstrumentedObjectStore(new FakeStore(), m);
  await store.put('segments/a', [Buffer.alloc(600), Buffer.alloc(400)]);
  await store.put('segments/b', Buffer.alloc(1000));
  await store.get('segments/a');
  await assert.rejects(store.get('segments/missing'));
  await store.delete('segments/b');
  const listed = await store.list('segments/');
  assert.equal(listed.length, 1);
  const s = await samples(m);
  const v = (name: string, op: string) => value(s, name, { op });
  assert.deepEqual(['put', 'get', 'delete', 'list'].map((op) => v('streamhouse_object_store_requests_total', op)), [2, 2, 1, 1]);
  assert.equal(v('streamhouse_object_store_errors_total', 'get'), 1);
  assert.equal(v('streamhouse_object_store_bytes_total', 'put'), 2000);
  assert.equal(v('streamhouse_object_store_bytes_total', 'get'), 1000);
  assert.equal(v('streamhouse_object_store_request_duration_seconds_count', 'put'), 2);
  assert.ok(Math.abs(v('streamhouse_object_store_estimated_cost_usd_total', 'put') - 0.01) < 1e-12);
  assert.ok(Math.abs(v('streamhouse_object_store_estimated_cost_usd_total', 'get') - 0.0008) < 1e-12);
  assert.equal(v('streamhouse_object_store_estimated_cost_usd_total', 'delete'), 0);
  // $0.01 for 2,000 bytes → per GiB.
  assert.ok(Math.abs(value(s, 'streamhouse_object_store_cost_per_gib_written_usd') - 0.01 / (2000 / 1024 ** 3)) < 1e-6);
  // The listing of segments/ is what is stored: 1,000 bytes at $23 per GB-month.
  assert.equal(value(s, 'streamhouse_object_store_stored_bytes'), 1000);
  assert.ok(Math.abs(value(s, 'streamhouse_object_store_estimated_storage_cost_usd_per_month') - 23e-6) < 1e-12);
  assert.equal(value(s, 'streamhouse_object_store_price_usd', { item: 'put_per_1000' }), 5);
  assert.equal(store.kind, 'local');
});

test('the instrumented metadata store times each call by method name and passes properties through', async () => {
  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  const fake = {
    kind: 'pglite',
    calls: 0,
    async now() {
      this.calls++;
      return 42;
    },
    async getTopic(): Promise<undefined> {
      throw new Error('down');
    },
    async close() {},
  };
  const store = instrumentMetadataStore(fake as unknown as MetadataStore, m);
  assert.equal(store.kind, 'pglite');
  assert.equal(await store.now(), 42);
  assert.equal(await store.now(), 42);
  assert.equal(fake.calls, 2, 'called on the store itself');
  await assert.rejects(store.getTopic('x'), /down/);
  await store.close();
  const s = await samples(m);
  assert.equal(value(s, 'streamhouse_metadata_query_duration_seconds_count', { op: 'now' }), 2);
  assert.equal(value(s, 'streamhouse_metadata_errors_total', { op: 'getTopic' }), 1);
  assert.equal(value(s, 'streamhouse_metadata_query_duration_seconds_count', { op: 'close' }), 0);
});

test('consumer lag: high watermark minus committed offset, bounded, gone partitions skipped', async () => {
  const offsets: Record<string, Array<{ topic: string; partitionId: number; offset: number }>> = {
    g1: [{ topic: 't', partitionId: 0, offset: 5 }, { topic: 't', partitionId: 1, offset: 9 }, { topic: 'gone', partitionId: 0, offset: 1 }],
    g2: [{ topic: 't', partitionId: 0, offset: 10 }, { topic: 't', partitionId: 1, offset: -1 }],
  };
  let partitionQueries = 0;
  const store = {
    fetchOffsets: async (g: string) => offsets[g].map((o) => ({ ...o, groupId: g, leaderEpoch: -1, metadata: null, commitTimestamp: 0 })),
    getPartitions: async (topic: string) => {
      partitionQueries++;
      return topic === 't' ? [{ partitionId: 0, highWatermark: 10 }, { partitionId: 1, highWatermark: 9 }] as never : [];
    },
  };
  const { lags, truncated } = await consumerLag(['g2', 'g1'], store, 100);
  assert.equal(truncated, false);
  assert.deepEqual(lags.map((l) => `${l.group} ${l.topic}-${l.partition} ${l.lag}`), ['g1 t-0 5', 'g1 t-1 0', 'g2 t-0 0']);
  assert.equal(partitionQueries, 2, 'one partitions query per topic');
  const bounded = await consumerLag(['g1', 'g2'], store, 1);
  assert.equal(bounded.truncated, true);
  assert.equal(bounded.lags.length, 1);

  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  m.attach({ consumerLag: () => consumerLag(['g1'], store, 100), groupStates: () => ['Stable', 'Stable', 'Empty'] });
  m.groupTransition('PreparingRebalance');
  m.groupTransition('CompletingRebalance');
  const s = await samples(m);
  assert.equal(value(s, 'kafka_consumergroup_lag', { consumergroup: 'g1', topic: 't', partition: '0' }), 5);
  assert.equal(value(s, 'kafka_coordinator_group_groupmetadatamanager_numgroups', { state: 'Stable' }), 2);
  assert.equal(value(s, 'kafka_coordinator_group_groupmetadatamanager_numgroups', { state: 'Dead' }), 0);
  assert.equal(value(s, 'kafka_coordinator_group_rebalances_total'), 1);
});

test('lease events: acquired, handed_off after a handoff, lost otherwise', async () => {
  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  const calls: string[] = [];
  const listener = countingLeaseListener({
    onLeading: (r, e) => void calls.push(`leading ${r.topic}-${r.partitionId}@${e}`),
    onHandoff: async (r) => void calls.push(`handoff ${r.topic}-${r.partitionId}`),
    onLost: (r) => void calls.push(`lost ${r.topic}-${r.partitionId}`),
  }, m);
  const ref = { topic: 't', partitionId: 0 };
  await listener.onLeading(ref, 1);
  await listener.onHandoff(ref);
  listener.onLost(ref);
  await listener.onLeading(ref, 3);
  listener.onLost(ref);
  assert.deepEqual(calls, ['leading t-0@1', 'handoff t-0', 'lost t-0', 'leading t-0@3', 'lost t-0']);
  const s = await samples(m);
  assert.equal(value(s, 'streamhouse_lease_events_total', { event: 'acquired' }), 2);
  assert.equal(value(s, 'streamhouse_lease_events_total', { event: 'handed_off' }), 1);
  assert.equal(value(s, 'streamhouse_lease_events_total', { event: 'lost' }), 1);
});

test('flush cycles and writer totals', async () => {
  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  m.flushCycle({ durationMs: 12, bytes: 5000, partitions: 3, ok: true });
  m.flushCycle({ durationMs: 40, bytes: 5000, partitions: 2, ok: false });
  m.attach({ writerStats: () => ({ cycles: 2, puts: 2, putBytes: 10_000, committedBytes: 20_000, committedBatches: 4, failedCycles: 1, fencedPartitions: 0, encodeMs: 1000, putMs: 2000, commitMs: 500, maxCycleMs: 40 }) });
  const s = await samples(m);
  assert.equal(value(s, 'streamhouse_flush_cycles_total', { result: 'ok' }), 1);
  assert.equal(value(s, 'streamhouse_flush_cycles_total', { result: 'failed' }), 1);
  assert.equal(value(s, 'streamhouse_flush_cycle_partitions_sum'), 3);
  assert.equal(value(s, 'streamhouse_flush_cycle_duration_seconds_count'), 2);
  assert.equal(value(s, 'streamhouse_flush_committed_bytes_total'), 20_000);
  assert.equal(value(s, 'streamhouse_flush_phase_seconds_total', { phase: 'put' }), 2);
});

test('fast histograms: le is inclusive, buckets cumulative, +Inf holds everything; text format prom-client writes', async () => {
  const { Registry } = await import('prom-client');
  const { FastHistogram, FastCounter } = await import('../../../src/metrics/fast.js');
  const reg = new Registry();
  const h = new FastHistogram('x_seconds', 'help', ['op'], [0.1, 1, 10], reg);
  const c = new FastCounter('y_total', 'help', ['op'], reg);
  const put = h.labels('put');
  for (const v of [0.05, 0.1, 0.5, 1, 20]) put.observe(v);
  c.labels('a').value += 2;
  assert.equal(h.labels('put'), put, 'children are cached');
  const s = parsePrometheus(await reg.metrics());
  const bucket = (le: string) => value(s, 'x_seconds_bucket', { op: 'put', le });
  assert.deepEqual([bucket('0.1'), bucket('1'), bucket('10'), bucket('+Inf')], [2, 4, 4, 5]);
  assert.equal(value(s, 'x_seconds_count', { op: 'put' }), 5);
  assert.ok(Math.abs(value(s, 'x_seconds_sum', { op: 'put' }) - 21.65) < 1e-9);
  assert.equal(value(s, 'y_total', { op: 'a' }), 2);
  assert.match(await reg.metrics(), /# TYPE x_seconds histogram\n/);
  assert.match(await reg.metrics(), /# TYPE y_total counter\n/);
  assert.throws(() => h.labels(), /expected labels op/);
});

test('a scrape answers while the lag cannot be computed: the lag is left out and counted', async () => {
  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  m.attach({ consumerLag: async () => { throw new Error('database unavailable'); } });
  const s = await samples(m);
  assert.equal(s.filter((x) => x.name === 'kafka_consumergroup_lag').length, 0);
  // The counter is read while the lag is being computed: a failure shows in the next scrape.
  assert.equal(value(await samples(m), 'streamhouse_consumer_lag_failures_total'), 1);
  const store = { fetchOffsets: async () => [], getPartitions: async () => [] };
  const r = await consumerLag(['a', 'b', 'c'], store, 100, 2);
  assert.equal(r.truncated, true, 'at most maxGroups groups are queried');
});
