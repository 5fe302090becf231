// kafkajs (admin + producer with every codec) and @platformatic/kafka (flexible versions end to end)
// against the real agent, on both configurations; what they wrote is read back with kcat.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { Producer as PlatformaticProducer, stringSerializers } from '@platformatic/kafka';
import { codecFor, CompressionType, type CompressionTypeValue } from '../../protocol/compression.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';

const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = kafkajs;

// kafkajs ships gzip only; the others plug in through its codec registry. Ours are the broker's own
// codecs (xerial-framed snappy, LZ4 frames, zstd), so what kafkajs sends is what Java/librdkafka send.
function register(kafkajsType: number, ours: CompressionTypeValue): void {
  const codec = codecFor(ours);
  (CompressionCodecs as Record<number, () => unknown>)[kafkajsType] = () => ({
    compress: (encoder: { buffer: Buffer }) => codec.compress(encoder.buffer),
    decompress: (buf: Buffer) => codec.decompress(buf, 64 * 1024 * 1024),
  });
}
register(CompressionTypes.Snappy, CompressionType.snappy);
register(CompressionTypes.LZ4, CompressionType.lz4);
register(CompressionTypes.ZSTD, CompressionType.zstd);

for (const backendName of BACKENDS) {
  describe(`kafkajs and @platformatic/kafka (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      kafka = new Kafka({ clientId: 'e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    test('kafkajs admin: create, list, describe configs, add partitions, delete', async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        assert.equal(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }, { topic: 'admin-b' }] }), true);
        const listed = await admin.listTopics();
        assert.ok(listed.includes('admin-a') && listed.includes('admin-b'), String(listed));

        const md = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
        assert.equal(md.topics[0].partitions.length, 3);

        const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'admin-a' }], includeSynonyms: false });
        const entries = new Map(described.resources[0].configEntries.map((e) => [e.configName, e]));
        assert.equal(entries.get('retention.ms')?.configValue, '3600000');
        assert.equal(entries.get('retention.ms')?.isDefault, false);
        assert.equal(entries.get('cleanup.policy')?.configValue, 'delete');
        assert.equal(entries.get('max.message.bytes')?.configValue, '1048588');
        assert.equal(entries.get('message.timestamp.type')?.configValue, 'CreateTime');

        await admin.createPartitions({ topicPartitions: [{ topic: 'admin-a', count: 5 }] });
        const md2 = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
        assert.equal(md2.topics[0].partitions.length, 5);

        await assert.rejects(admin.createTopics({ topics: [{ topic: 'admin-a' }], validateOnly: false }).then((ok) => {
          if (!ok) throw new Error('not created');
        }));
        await admin.deleteTopics({ topics: ['admin-b'] });
        assert.ok(!(await admin.listTopics()).includes('admin-b'));
      } finally {
        await admin.disconnect();
      }
    });

    for (const [name, type] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy], ['lz4', CompressionTypes.LZ4], ['zstd', CompressionTypes.ZSTD]] as const) {
      test(`kafkajs producer with ${name} batches; kcat reads the same bytes`, async () => {
        const topic = `codec-${name}`;
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
        await admin.disconnect();
        const producer = kafka.producer();
        await producer.connect();
        const messages = Array.from({ length: 50 }, (_, i) => ({
          key: `k${i}`,
          value: JSON.stringify({ i, codec: name, pad: 'y'.repeat(i * 7) }),
          headers: { h: `v${i}` },
          partition: 0,
        }));
        const [meta] = await producer.send({ topic, compression: type, acks: -1, messages });
        assert.equal(meta.errorCode, 0);
        assert.equal(meta.baseOffset, '0');
        await producer.disconnect();

        const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-c', '50', '-e', '-J']);
        assert.equal(r.code, 0, r.stderr);
        const got = parseJsonLines(r.stdout);
        assert.deepEqual(
          got.map((m) => [m.offset, m.key, m.payload, m.headers]),
          messages.map((m, i) => [i, m.key, m.value, ['h', `v${i}`]]),
        );
      });
    }

    test('@platformatic/kafka producer (flexible versions) writes records kcat reads back', async () => {
      const topic = 'platformatic';
      const producer = new PlatformaticProducer({ clientId: 'e2e-platformatic', bootstrapBrokers: [agent.bootstrap], serializers: stringSerializers, autocreateTopics: true });
      try {
        const messages = Array.from({ length: 20 }, (_, i) => ({ topic, key: `pk${i}`, value: `platformatic value ${i}`, headers: { n: String(i) }, partition: 0 }));
        const result = await producer.send({ messages, acks: -1 });
        assert.ok(result.offsets === undefined || result.offsets.every((o) => o.topic === topic));
      } finally {
        await producer.close();
      }
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-c', '20', '-e', '-J']);
      assert.equal(r.code, 0, r.stderr);
      const got = parseJsonLines(r.stdout);
      assert.deepEqual(
        got.map((m) => [m.offset, m.key, m.payload, m.headers]),
        Array.from({ length: 20 }, (_, i) => [i, `pk${i}`, `platformatic value ${i}`, ['n', String(i)]]),
      );
    });
  });
}
