// The HTTP endpoint of a real agent: /metrics scraped during a kafkajs produce/consume run (counters
// move with the traffic; bytes in is exactly the record batch bytes appended, computed here the same
// way: the batches are stored byte for byte, so a Fetch of the whole topic returns them), /healthz,
// /readyz following PostgreSQL going away and coming back, and a clear error for a port in use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import kafkajs from 'kafkajs';
import { ApiKey } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { scrape, value, type Sample } from '../helpers/metrics.js';
import { freePort } from '../helpers/ports.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel, CompressionTypes } = kafkajs;

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Sum of the record bytes a Fetch of each partition from offset 0 returns (everything stored). */
async function storedBatchBytes(port: number, topic: string, partitions: number): Promise<number> {
  const c = await RawClient.connect(port);
  try {
    let total = 0;
    for (let p = 0; p < partitions; p++) {
      let offset = 0;
      for (;;) {
        const res = await c.request(ApiKey.Fetch, 12, {
          replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 50_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic, partitions: [{ partition: p, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 50_000_000 }] }],
          forgottenTopicsData: [], rackId: '',
        });
        const part = res.responses[0].partitions[0];
        const records = part.records as Buffer | null;
        if (records === null || records.length === 0) break;
        total += records.length;
        // Last batch's last offset: baseOffset (0..8) + lastOffsetDelta (23..27) of each batch in turn.
        let pos = 0;
        while (pos < records.length) {
          const len = records.readInt32BE(pos + 8);
          offset = Number(records.readBigInt64BE(pos)) + records.readInt32BE(pos + 23) + 1;
          pos += 12 + len;
        }
        if (offset >= Number(part.highWatermark)) break;
      }
    }
    return total;
  } finally {
    c.close();
  }
}

describe('metrics over HTTP during a kafkajs run (embedded)', () => {
  let agent: AgentHandle;
  let url: string;

  before(async () => {
    agent = await startAgent();
    url = agent.httpUrl!;
  });

  after(async () => {
    await agent?.stop();
  });

  test('/healthz answers 200 and /readyz 200 once the listener is open', async () => {
    assert.equal((await get(`${url}/healthz`)).status, 200);
    const ready = await get(`${url}/readyz`);
    assert.equal(ready.status, 200, ready.body);
    const body = JSON.parse(ready.body) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    assert.deepEqual(Object.keys(body.checks).sort(), ['kafkaListener', 'metadata', 'objectStore']);
    assert.equal((await get(`${url}/nothing-here`)).status, 404);
  });

  test('counters follow the traffic: requests per API, bytes and messages in and out, flushes, object-store puts, lag', async () => {
    const topic = 'metrics-e2e';
    const partitions = 3;
    const sends = 20;
    const perSend = 50;
    const kafka = new Kafka({ clientId: 'metrics-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
    await admin.disconnect();

    const s0 = await scrape(url);
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < sends; i++) {
      await producer.send({
        topic,
        acks: -1,
        compression: i % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP,
        messages: Array.from({ length: perSend }, (_, j) => ({ key: `k${j % 7}`, value: `value ${i}-${j} `.padEnd(200, 'x') })),
      });
    }
    await producer.disconnect();

    const s1 = await scrape(url);
    const delta = (name: string, labels: Record<string, string> = {}, from: Sample[] = s0, to: Sample[] = s1) => value(to, name, labels) - value(from, name, labels);
    assert.equal(delta('kafka_server_brokertopicmetrics_messagesin_total', { topic }), sends * perSend);
    assert.equal(delta('kafka_server_brokertopicmetrics_messagesin_total', { topic: '' }), sends * perSend, 'topic="" is the total');
    assert.ok(delta('kafka_network_requestmetrics_requests_total', { request: 'Produce' }) >= sends, 'one Produce request per send at least');
    assert.ok(delta('kafka_network_requestmetrics_totaltime_seconds_count', { request: 'Produce' }) >= sends);
    assert.ok(value(s1, 'kafka_network_requestmetrics_requests_total', { request: 'CreateTopics' }) >= 1);
    assert.ok(delta('streamhouse_object_store_requests_total', { op: 'put' }) > 0, 'segment objects were written');
    assert.ok(delta('streamhouse_object_store_bytes_total', { op: 'put' }) > 0);
    assert.ok(delta('streamhouse_object_store_estimated_cost_usd_total', { op: 'put' }) > 0);
    assert.ok(delta('streamhouse_flush_cycles_total', { result: 'ok' }) > 0);
    assert.ok(delta('streamhouse_produce_ack_latency_seconds_count') >= sends);
    assert.ok(delta('streamhouse_metadata_query_duration_seconds_count', { op: 'commitFlush' }) > 0);
    assert.equal(value(s1, 'kafka_server_replicamanager_leadercount'), partitions);
    assert.ok(value(s1, 'nodejs_eventloop_lag_p99_seconds') > 0, 'event-loop delay from the default metrics');
    assert.ok(value(s1, 'process_resident_memory_bytes') > 0);

    const consumer = kafka.consumer({ groupId: 'metrics-e2e-group', retry: { retries: 10 } });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let consumed = 0;
    await consumer.run({ eachMessage: async () => void consumed++ });
    await waitFor('every record consumed', () => consumed >= sends * perSend, 60_000);
    // Committed offsets reach the high watermarks: lag 0 on every partition of the group.
    const s2 = await waitFor('consumer lag 0 on every partition', async () => {
      const s = await scrape(url);
      const lags = s.filter((x) => x.name === 'kafka_consumergroup_lag' && x.labels.consumergroup === 'metrics-e2e-group');
      return lags.length === partitions && lags.every((l) => l.value === 0) ? s : undefined;
    }, 60_000);
    assert.equal(value(s2, 'kafka_coordinator_group_groupmetadatamanager_numgroups', { state: 'Stable' }), 1);
    assert.ok(value(s2, 'kafka_coordinator_group_rebalances_total') >= 1);
    assert.ok(delta('kafka_network_requestmetrics_requests_total', { request: 'JoinGroup' }, s1, s2) >= 1);
    assert.ok(delta('kafka_network_requestmetrics_requests_total', { request: 'OffsetCommit' }, s1, s2) >= 1);
    assert.ok(delta('kafka_network_requestmetrics_requests_total', { request: 'Fetch' }, s1, s2) >= 1);
    assert.ok(value(s2, 'kafka_server_socketservermetrics_connection_count') >= 1);
    await consumer.disconnect();

    // Bytes in: the record batches as sent, which are stored byte for byte (offsets rewritten in
    // place): a Fetch of the whole topic returns the same bytes.
    const bytesIn = delta('kafka_server_brokertopicmetrics_bytesin_total', { topic }, s0, s2);
    const bytesOut = delta('kafka_server_brokertopicmetrics_bytesout_total', { topic }, s0, s2);
    const expected = await storedBatchBytes(agent.port, topic, partitions);
    assert.ok(expected > sends * perSend * 50, `stored ${expected} bytes`);
    assert.ok(Math.abs(bytesIn - expected) <= expected * 0.01, `bytes in ${bytesIn}, expected ${expected}`);
    assert.equal(bytesIn, expected, 'exact, in fact');
    assert.ok(bytesOut >= expected, `the consumer read every batch at least once: out ${bytesOut}, stored ${expected}`);
    const s3 = await scrape(url);
    assert.equal(value(s3, 'kafka_server_brokertopicmetrics_bytesout_total', { topic }) - value(s2, 'kafka_server_brokertopicmetrics_bytesout_total', { topic }), expected, 'our own Fetch of everything counts exactly its bytes');
  });
});

describe('readiness follows PostgreSQL (postgres+s3)', () => {
  let backend: Backend;
  let agent: AgentHandle;

  before(async () => {
    backend = await startBackend('postgres+s3');
    agent = await startAgent({ env: backend.env });
  });

  after(async () => {
    await agent?.stop();
    await backend?.stop();
  });

  test('/readyz is 503 naming the metadata check while PostgreSQL is down, 200 again once it is back; /healthz stays 200', async () => {
    const url = agent.httpUrl!;
    const kafka = new Kafka({ clientId: 'metrics-readyz', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'metrics-s3', acks: -1, messages: [{ value: 'one' }, { value: 'two' }] });
    await producer.disconnect();
    const s = await scrape(url);
    assert.ok(value(s, 'streamhouse_object_store_requests_total', { op: 'put' }) > 0, 'PUTs to the S3 server');
    assert.ok(value(s, 'streamhouse_metadata_pool_connections', { state: 'total' }) > 0, 'the PostgreSQL pool is reported');
    assert.equal(value(s, 'streamhouse_metadata_pool_connections', { state: 'max' }), 20);
    assert.equal((await get(`${url}/readyz`)).status, 200);

    await backend.postgres!.kill();
    const down = await waitFor('/readyz 503', async () => {
      const r = await get(`${url}/readyz`);
      return r.status === 503 ? r : undefined;
    }, 30_000);
    const body = JSON.parse(down.body) as { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> };
    assert.equal(body.ready, false);
    assert.equal(body.checks.metadata.ok, false, down.body);
    assert.ok(body.checks.metadata.error, 'the failed check says why');
    assert.equal(body.checks.objectStore.ok, true, down.body);
    assert.equal((await get(`${url}/healthz`)).status, 200, 'the process is still up');

    await backend.postgres!.restart();
    await waitFor('/readyz 200 again', async () => (await get(`${url}/readyz`)).status === 200, 60_000);
  });
});

describe('HTTP port in use', () => {
  test('the agent refuses to start with a message naming the setting', async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await assert.rejects(startAgent({ args: ['--http-port', String(port)], startTimeoutMs: 30_000 }), /HTTP port \d+ on 127\.0\.0\.1 is already in use.*--http-port/s);
    } finally {
      blocker.close();
    }
  });
});
