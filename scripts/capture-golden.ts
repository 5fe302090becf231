// Captures golden request frames from real clients: starts an agent (embedded defaults), puts a
// recording TCP proxy in front of it, and runs produce, consume-with-group and topic-admin flows with
// kafkajs, kcat (librdkafka) and @platformatic/kafka. The first frame of each (api key, version) per
// client is written to test/fixtures/golden/<client>/<key>-<Api>-v<version>.bin (the bytes after the
// size prefix), with the response frame next to it (.response.bin).
// Usage: npm run build && node dist/scripts/capture-golden.js
import '../test/helpers/node22-shims.js';
import { createServer, connect, type Socket } from 'node:net';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { Admin as PAdmin, Consumer as PConsumer, Producer as PProducer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { API_INFO, FrameDecoder, type ApiKeyValue } from '../protocol/index.js';
import { startAgent } from '../test/helpers/agent.js';
import { kcat } from '../test/helpers/kcat.js';
import { projectRoot } from '../test/helpers/paths.js';
import { freePort } from '../test/helpers/ports.js';

type Capture = Map<string, { request: Buffer; response?: Buffer }>;

/** A proxy that records request frames and the response frames that answer them, in order. */
async function recordingProxy(port: number, target: number, capture: Capture): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client: Socket) => {
    sockets.add(client);
    const upstream = connect(target, '127.0.0.1');
    const reqs = new FrameDecoder();
    const ress = new FrameDecoder();
    const pending: string[] = [];
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      for (const f of reqs.push(d)) {
        const apiKey = f.readInt16BE(0) as ApiKeyValue;
        const version = f.readInt16BE(2);
        const info = API_INFO[apiKey];
        const name = `${String(apiKey).padStart(2, '0')}-${info?.name ?? 'Unknown'}-v${version}`;
        if (!capture.has(name)) capture.set(name, { request: Buffer.from(f) });
        pending.push(name); // these flows never send acks=0, so every request is answered
      }
    });
    upstream.on('data', (d: Buffer) => {
      client.write(d);
      for (const f of ress.push(d)) {
        const name = pending.shift();
        const entry = name ? capture.get(name) : undefined;
        if (entry && entry.response === undefined) entry.response = Buffer.from(f);
      }
    });
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function kafkajsFlows(bootstrap: string): Promise<void> {
  const kafka = new kafkajs.Kafka({ clientId: 'golden-kafkajs', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'golden-kafkajs', numPartitions: 2 }] });
  await admin.createPartitions({ topicPartitions: [{ topic: 'golden-kafkajs', count: 3 }] });
  await admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: 'golden-kafkajs' }], includeSynonyms: false });
  await admin.alterConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: 'golden-kafkajs', configEntries: [{ name: 'retention.ms', value: '100000' }] }], validateOnly: false });
  await admin.fetchTopicOffsets('golden-kafkajs');
  await admin.fetchTopicOffsetsByTimestamp('golden-kafkajs', Date.now() - 1000);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'golden-kafkajs', compression: kafkajs.CompressionTypes.GZIP, messages: [{ key: 'k', value: 'v', headers: { h: '1' }, partition: 0 }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'golden-kafkajs-group' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'golden-kafkajs', fromBeginning: true });
  let got!: () => void;
  const received = new Promise<void>((r) => (got = r));
  await consumer.run({ eachMessage: async () => got() });
  await received;
  await consumer.commitOffsets([{ topic: 'golden-kafkajs', partition: 0, offset: '1' }]);
  await consumer.disconnect();
  await admin.fetchOffsets({ groupId: 'golden-kafkajs-group', topics: ['golden-kafkajs'] });
  await admin.listGroups();
  await admin.describeGroups(['golden-kafkajs-group']);
  await admin.deleteGroups(['golden-kafkajs-group']);
  await admin.deleteTopicRecords({ topic: 'golden-kafkajs', partitions: [{ partition: 0, offset: '0' }] });
  await admin.deleteTopics({ topics: ['golden-kafkajs'] });
  await admin.disconnect();
}

async function kcatFlows(bootstrap: string): Promise<void> {
  const run = async (args: string[], input?: string) => {
    const r = await kcat(['-b', bootstrap, ...args], { input, timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`kcat ${args.join(' ')}: ${r.stderr}`);
  };
  await run(['-P', '-t', 'golden-kcat', '-K', ':', '-H', 'h=1', '-z', 'lz4'], 'k1:v1\nk2:v2\n');
  await run(['-L', '-t', 'golden-kcat']);
  await run(['-C', '-t', 'golden-kcat', '-o', 'beginning', '-c', '2', '-e']);
  await run(['-Q', '-t', `golden-kcat:0:${Date.now() - 60_000}`]);
  await run(['-G', 'golden-kcat-group', '-X', 'auto.offset.reset=earliest', '-X', 'enable.auto.commit=true', '-X', 'auto.commit.interval.ms=100', '-c', '2', '-e', 'golden-kcat']);
}

async function platformaticFlows(bootstrap: string): Promise<void> {
  const admin = new PAdmin({ clientId: 'golden-platformatic', bootstrapBrokers: [bootstrap] });
  await admin.createTopics({ topics: ['golden-platformatic'], partitions: 2, replicas: 1 });
  await admin.metadata({ topics: ['golden-platformatic'] });
  const producer = new PProducer({ clientId: 'golden-platformatic', bootstrapBrokers: [bootstrap], serializers: stringSerializers });
  await producer.send({ messages: [{ topic: 'golden-platformatic', key: 'k', value: 'v', headers: { h: '1' }, partition: 0 }] });
  await producer.close();
  const consumer = new PConsumer({ groupId: 'golden-platformatic-group', clientId: 'golden-platformatic', bootstrapBrokers: [bootstrap], deserializers: stringDeserializers });
  const stream = await consumer.consume({ topics: ['golden-platformatic'], mode: 'earliest', autocommit: true, sessionTimeout: 10_000, heartbeatInterval: 500 });
  for await (const message of stream) {
    void message;
    break;
  }
  await stream.close();
  await consumer.close();
  await admin.listGroups();
  await admin.describeGroups({ groups: ['golden-platformatic-group'] });
  await admin.deleteTopics({ topics: ['golden-platformatic'] });
  await admin.close();
}

async function main(): Promise<void> {
  // Clients must come back through the proxy after Metadata: the agent advertises the proxy's port.
  const proxyPort = await freePort();
  const agent = await startAgent({ env: { STREAMHOUSE_LOG_LEVEL: 'warn' }, args: ['--advertised-port', String(proxyPort)] });
  const out = join(projectRoot(), 'test', 'fixtures', 'golden');
  try {
    for (const [client, flows] of [['kafkajs', kafkajsFlows], ['kcat', kcatFlows], ['platformatic', platformaticFlows]] as const) {
      const capture: Capture = new Map();
      const proxy = await recordingProxy(proxyPort, agent.port, capture);
      try {
        await flows(`127.0.0.1:${proxyPort}`);
      } finally {
        await proxy.close();
      }
      const dir = join(out, client);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      for (const [name, { request, response }] of capture) {
        writeFileSync(join(dir, `${name}.bin`), request);
        if (response) writeFileSync(join(dir, `${name}.response.bin`), response);
      }
      console.log(`${client}: ${[...capture.keys()].sort().join(', ')}`);
    }
  } finally {
    await agent.stop();
  }
}

await main();
