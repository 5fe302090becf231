// Idempotent producers end to end, on both configurations: librdkafka (kcat and confluent-kafka),
// kafkajs and @platformatic/kafka with idempotence on get a producer id from InitProducerId, and
// every record lands once, in order, in batches that carry that id and consecutive sequences. Over
// the wire: a resent batch is answered with its original offsets and stored once, a sequence gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH, a transactional id gets its
// own producer id, and all of this still holds after the agent restarts (state read back from the log).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnTracked } from '../helpers/reaper.js';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { Producer as PlatformaticProducer, stringSerializers } from '@platformatic/kafka';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync, readBatchHeader, splitBatches } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { RawClient } from '../helpers/raw-client.js';
import { openMetadataStore } from '../../metadata/index.js';
import { CuttingProxy } from '../helpers/cutting-proxy.js';
import { freePort } from '../helpers/ports.js';

const { Kafka, logLevel } = kafkajs;

const PRODUCER_PY = `
import json, sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True, "linger.ms": 2, "batch.num.messages": 7})
errors = []
for i in range(int(sys.argv[3])):
    p.produce(sys.argv[2], value=("py-%d" % i).encode(), partition=0, on_delivery=lambda err, m: errors.append(str(err)) if err else None)
p.flush(30)
print(json.dumps({"errors": errors}))
`;

function python(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked('/usr/bin/python3', ['-c', PRODUCER_PY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

for (const backendName of BACKENDS) {
  describe(`idempotent producers (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let c: RawClient;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      c = await RawClient.connect(agent.port);
    });

    after(async () => {
      c?.close();
      await agent?.stop();
      await backend?.stop();
    });

    /** Every batch of partition 0 (raw Fetch), so tests can check producer ids and sequences. */
    const batchesOf = async (topic: string) => {
      const res = await c.request(ApiKey.Fetch, 12, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 50_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 50_000_000 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const p = res.responses[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.NONE);
      return p.records ? splitBatches(p.records).map(readBatchHeader) : [];
    };

    /** One producer id, sequences consecutive from 0 across the batches, offsets consecutive from 0. */
    const assertOneIdempotentProducer = (headers: ReturnType<typeof readBatchHeader>[], records: number) => {
      assert.ok(headers.length > 0);
      const ids = new Set(headers.map((h) => h.producerId));
      assert.equal(ids.size, 1, `one producer id, got ${[...ids].join(', ')}`);
      assert.ok(headers[0]!.producerId >= 0, 'batches carry the producer id InitProducerId gave');
      let seq = 0;
      let offset = 0;
      for (const h of headers) {
        assert.equal(h.baseSequence, seq);
        assert.equal(h.baseOffset, offset);
        seq += h.lastOffsetDelta + 1;
        offset += h.lastOffsetDelta + 1;
      }
      assert.equal(offset, records);
    };

    const consume = async (topic: string, count: number) => {
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-c', String(count), '-e', '-J']);
      assert.equal(r.code, 0, r.stderr);
      return parseJsonLines(r.stdout);
    };

    test('kcat (librdkafka) with enable.idempotence=true: every record once, in order', async () => {
      const topic = 'idem-kcat';
      const lines = Array.from({ length: 200 }, (_, i) => `k-${i}`);
      const p = await kcat(['-b', agent.bootstrap, '-P', '-t', topic, '-p', '0', '-X', 'enable.idempotence=true', '-X', 'linger.ms=1', '-X', 'batch.num.messages=9'], { input: lines.join('\n') + '\n' });
      assert.equal(p.code, 0, p.stderr);
      assert.doesNotMatch(p.stderr, /idempoten|fatal/i);
      assert.deepEqual((await consume(topic, 200)).map((m) => m.payload), lines);
      assertOneIdempotentProducer(await batchesOf(topic), 200);
    });

    test('confluent-kafka resends batches whose answers were lost: each record is stored once, in order', async () => {
      // A second agent (on the same back end) advertises the proxy's port, so every request of the
      // producer goes through the proxy; three Produce answers are lost after the agent wrote them,
      // the connection breaks, and librdkafka resends what it had in flight.
      const topic = 'idem-cut';
      const proxyPort = await freePort();
      const behind = await startAgent({ env: backend.env, args: ['--advertised-port', String(proxyPort)] });
      const proxy = await CuttingProxy.start(behind.port, proxyPort, [2, 5, 9]);
      try {
        const r = await python([`127.0.0.1:${proxyPort}`, topic, '300']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { errors: [] });
        assert.equal(proxy.cuts, 3, 'three answers were lost');
        const got = await kcat(['-b', `127.0.0.1:${behind.port}`, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-J']);
        assert.equal(got.code, 0, got.stderr);
        assert.deepEqual(parseJsonLines(got.stdout).map((m) => m.payload), Array.from({ length: 300 }, (_, i) => `py-${i}`));
      } finally {
        await proxy.stop();
        await behind.stop();
      }
    });

    test('confluent-kafka (Python) with enable.idempotence: every record once, in order', async () => {
      const topic = 'idem-python';
      const r = await python([agent.bootstrap, topic, '150']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { errors: [] });
      assert.deepEqual((await consume(topic, 150)).map((m) => m.payload), Array.from({ length: 150 }, (_, i) => `py-${i}`));
      assertOneIdempotentProducer(await batchesOf(topic), 150);
    });

    test('kafkajs idempotent producer: every record once, in order', async () => {
      const topic = 'idem-kafkajs';
      const kafka = new Kafka({ clientId: 'idem', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
      await producer.connect();
      try {
        for (let b = 0; b < 5; b++) {
          await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `js-${b * 10 + i}` })) });
        }
      } finally {
        await producer.disconnect();
      }
      assert.deepEqual((await consume(topic, 50)).map((m) => m.payload), Array.from({ length: 50 }, (_, i) => `js-${i}`));
      assertOneIdempotentProducer(await batchesOf(topic), 50);
    });

    test('@platformatic/kafka idempotent producer: every record once, in order', async () => {
      const topic = 'idem-platformatic';
      const producer = new PlatformaticProducer({ clientId: 'idem-pk', bootstrapBrokers: [agent.bootstrap], serializers: stringSerializers, autocreateTopics: true, idempotent: true });
      try {
        for (let b = 0; b < 3; b++) {
          await producer.send({ messages: Array.from({ length: 10 }, (_, i) => ({ topic, value: `pk-${b * 10 + i}`, partition: 0 })), acks: -1 });
        }
      } finally {
        await producer.close();
      }
      assert.deepEqual((await consume(topic, 30)).map((m) => m.payload), Array.from({ length: 30 }, (_, i) => `pk-${i}`));
      assertOneIdempotentProducer(await batchesOf(topic), 30);
    });

    test('over the wire: distinct producer ids; a resent batch keeps its offsets; gaps and old epochs are refused', async () => {
      const topic = 'idem-raw';
      const init = async (version: number) => {
        const r = await c.request(ApiKey.InitProducerId, version, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
        assert.equal(r.errorCode, ErrorCode.NONE);
        assert.equal(r.producerEpoch, 0);
        return r.producerId;
      };
      const ids = [await init(0), await init(2), await init(4), await init(5)];
      assert.equal(new Set(ids).size, 4, `distinct ids: ${ids.join(', ')}`);
      const transactional = await c.request(ApiKey.InitProducerId, 4, { transactionalId: 'txn-1', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
      // Transactions exist (issue 16): a transactional id gets its own producer id at epoch 0.
      assert.equal(transactional.errorCode, ErrorCode.NONE);
      assert.equal(transactional.producerEpoch, 0);
      assert.ok(!ids.includes(transactional.producerId));

      const pid = ids[0]!;
      const produce = async (producerEpoch: number, baseSequence: number, values: string[]) => {
        const records = buildRecordBatchSync({ producerId: pid, producerEpoch, baseSequence, records: values.map((value) => ({ value, timestamp: Date.now() })) });
        const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
        const p = res.responses[0].partitionResponses[0];
        return [p.errorCode, p.baseOffset];
      };
      await c.request(ApiKey.Metadata, 9, { topics: [{ name: topic }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.deepEqual(await produce(0, 0, ['a', 'b']), [ErrorCode.NONE, 0]);
      assert.deepEqual(await produce(0, 2, ['c']), [ErrorCode.NONE, 2]);
      assert.deepEqual(await produce(0, 0, ['a', 'b']), [ErrorCode.NONE, 0], 'resent: original offsets, not written again');
      assert.deepEqual(await produce(0, 2, ['c']), [ErrorCode.NONE, 2]);
      assert.deepEqual((await produce(0, 5, ['gap']))[0], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.deepEqual(await produce(1, 0, ['d']), [ErrorCode.NONE, 3], 'a new epoch starts at sequence 0');
      assert.deepEqual((await produce(0, 3, ['old']))[0], ErrorCode.INVALID_PRODUCER_EPOCH);
      assert.deepEqual((await consume(topic, 4)).map((m) => m.payload), ['a', 'b', 'c', 'd']);

      // The agent restarts (SIGTERM: it hands the partition off, saving its producers' state as of
      // the last offset; its next run starts from that instead of reading the log back), so a resend
      // across the restart is still recognised.
      c.close();
      agent = await agent.restart();
      if (backend.env.DATABASE_URL !== undefined) {
        const store = await openMetadataStore({ databaseUrl: backend.env.DATABASE_URL, dataDir: agent.dataDir });
        try {
          const snapshot = await store.loadProducerSnapshot(topic, 0);
          assert.equal(snapshot?.endOffset, 4, 'the producer state was saved as of the final high watermark');
          assert.ok(snapshot.state.length > 5, 'with the producer in it');
        } finally {
          await store.close();
        }
      }
      c = await RawClient.connect(agent.port);
      assert.deepEqual(await produce(1, 0, ['d']), [ErrorCode.NONE, 3], 'resent after the restart: original offset');
      assert.deepEqual((await produce(1, 2, ['gap']))[0], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.deepEqual((await produce(0, 3, ['old']))[0], ErrorCode.INVALID_PRODUCER_EPOCH);
      assert.deepEqual(await produce(1, 1, ['e']), [ErrorCode.NONE, 4]);
      assert.deepEqual((await consume(topic, 5)).map((m) => m.payload), ['a', 'b', 'c', 'd', 'e']);
    });
  });
}
