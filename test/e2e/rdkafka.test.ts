// Current librdkafka (node-rdkafka 3.6.1, librdkafka 2.12.0) against the real agent, on both
// configurations: its all-topics Metadata v12 (three bytes after the body), plain and idempotent
// producers, full metadata, the admin client, offsetsForTimes, commits (with metadata through
// librdkafka's C API: node-rdkafka cannot pass it), pause/resume/seek and
// offset-out-of-range recovery. One agent per configuration; every test has its own topics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { ApiKey, decodeResponse, encodeRequest } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { RawClient } from '../helpers/raw-client.js';
import {
  Kafka,
  RdProducer,
  committed,
  connectConsumer,
  consumeRecords,
  createAdmin,
  createPartitions,
  createTopic,
  deleteTopic,
  disconnect,
  getMetadata,
  offsetsForTimes,
  seek,
  type KafkaConsumer,
} from '../helpers/rdkafka.js';
import { waitFor } from '../helpers/wait.js';

const { logLevel } = kafkajs;
const ERR = Kafka.CODES.ERRORS;
const PYTHON = '/usr/bin/python3';
// The librdkafka node-rdkafka runs on (its TopicPartition has no metadata field, so commits with
// metadata go through librdkafka's C API from Python's ctypes).
const LIBRDKAFKA = join(dirname(createRequire(import.meta.url).resolve('node-rdkafka/package.json')), 'build', 'deps', 'librdkafka.so.1');

// rd_kafka_commit (sync) of offsets 10, 11, … with the given metadata bytes (hex) on partitions 0, 1, …,
// then rd_kafka_committed: prints the error names, the commit's duration and what was read back.
// Mode "stored" commits as librdkafka's own store_offsets test does: assign the partitions, consume a
// record, rd_kafka_offsets_store the offsets with their metadata, then commit the stored offsets.
const COMMIT_METADATA_PY = `
import ctypes, json, sys, time
lib = ctypes.CDLL(sys.argv[1]); libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p
class TP(ctypes.Structure):
    _fields_ = [("topic", ctypes.c_char_p), ("partition", ctypes.c_int32), ("offset", ctypes.c_int64), ("metadata", ctypes.c_void_p),
                ("metadata_size", ctypes.c_size_t), ("opaque", ctypes.c_void_p), ("err", ctypes.c_int), ("_private", ctypes.c_void_p)]
class TPL(ctypes.Structure):
    _fields_ = [("cnt", ctypes.c_int), ("size", ctypes.c_int), ("elems", ctypes.POINTER(TP))]
V = ctypes.c_void_p
for n, r, a in [("rd_kafka_conf_new", V, []), ("rd_kafka_conf_set", ctypes.c_int, [V, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
                ("rd_kafka_new", V, [ctypes.c_int, V, ctypes.c_char_p, ctypes.c_size_t]), ("rd_kafka_topic_partition_list_new", ctypes.POINTER(TPL), [ctypes.c_int]),
                ("rd_kafka_topic_partition_list_add", ctypes.POINTER(TP), [ctypes.POINTER(TPL), ctypes.c_char_p, ctypes.c_int32]),
                ("rd_kafka_commit", ctypes.c_int, [V, ctypes.POINTER(TPL), ctypes.c_int]), ("rd_kafka_committed", ctypes.c_int, [V, ctypes.POINTER(TPL), ctypes.c_int]),
                ("rd_kafka_err2name", ctypes.c_char_p, [ctypes.c_int]), ("rd_kafka_consumer_close", ctypes.c_int, [V]), ("rd_kafka_destroy", None, [V]),
                ("rd_kafka_assign", ctypes.c_int, [V, ctypes.POINTER(TPL)]), ("rd_kafka_offsets_store", ctypes.c_int, [V, ctypes.POINTER(TPL)]),
                ("rd_kafka_consumer_poll", ctypes.POINTER(ctypes.c_int), [V, ctypes.c_int]), ("rd_kafka_message_destroy", None, [V]),
                ("rd_kafka_topic_partition_list_destroy", None, [ctypes.POINTER(TPL)])]:
    f = getattr(lib, n); f.restype = r; f.argtypes = a
conf, topic, metas = json.loads(sys.argv[2]), sys.argv[3].encode(), [bytes.fromhex(h) for h in json.loads(sys.argv[4])]
c = lib.rd_kafka_conf_new(); errstr = ctypes.create_string_buffer(512)
for k, v in conf.items():
    assert lib.rd_kafka_conf_set(c, k.encode(), str(v).encode(), errstr, 512) == 0, errstr.value
rk = lib.rd_kafka_new(1, c, errstr, 512); assert rk, errstr.value
name = lambda e: lib.rd_kafka_err2name(e).decode()
def plist():
    l = lib.rd_kafka_topic_partition_list_new(len(metas))
    return l, [lib.rd_kafka_topic_partition_list_add(l, topic, i) for i in range(len(metas))]
l, ps = plist()
for i, m in enumerate(metas):
    buf = libc.malloc(max(1, len(m))); ctypes.memmove(buf, m, len(m))
    ps[i].contents.offset = 10 + i; ps[i].contents.metadata = buf; ps[i].contents.metadata_size = len(m)
lists = [l]  # destroyed before closing: they hold partition references rd_kafka_destroy waits for
if sys.argv[5] == "stored":
    a, _ = plist(); lists.append(a); assert lib.rd_kafka_assign(rk, a) == 0
    deadline = time.time() + 30
    while time.time() < deadline:
        m = lib.rd_kafka_consumer_poll(rk, 200)
        if m:
            ok = m[0] == 0; lib.rd_kafka_message_destroy(m)
            if ok: break
    e = lib.rd_kafka_offsets_store(rk, l); assert e == 0, name(e)
t = time.time(); e = lib.rd_kafka_commit(rk, None if sys.argv[5] == "stored" else l, 0)
out = {"commit": name(e), "ms": int((time.time() - t) * 1000), "errors": [name(l.contents.elems[i].err) for i in range(len(metas))]}
l2, _ = plist(); out["committed"] = name(lib.rd_kafka_committed(rk, l2, 10000)); el = l2.contents.elems
out["read"] = [[el[i].offset, ctypes.string_at(el[i].metadata, el[i].metadata_size).hex() if el[i].metadata else None] for i in range(len(metas))]
print(json.dumps(out)); sys.stdout.flush()
for x in lists + [l2]: lib.rd_kafka_topic_partition_list_destroy(x)
lib.rd_kafka_consumer_close(rk); lib.rd_kafka_destroy(rk)
`;

interface MetadataCommit {
  commit: string;
  ms: number;
  errors: string[];
  committed: string;
  read: Array<[number, string | null]>;
}

async function commitWithMetadata(bootstrap: string, groupId: string, topic: string, metadata: Buffer[], mode: 'explicit' | 'stored' = 'explicit'): Promise<MetadataCommit> {
  const conf = { 'bootstrap.servers': bootstrap, 'group.id': groupId, 'enable.auto.commit': 'false', 'enable.auto.offset.store': 'false', 'auto.offset.reset': 'earliest' };
  const hex = JSON.stringify(metadata.map((m) => m.toString('hex')));
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', COMMIT_METADATA_PY, LIBRDKAFKA, JSON.stringify(conf), topic, hex, mode], { timeout: 120_000 });
  return JSON.parse(stdout) as MetadataCommit;
}

for (const backendName of BACKENDS) {
  describe(`node-rdkafka / librdkafka ${Kafka.librdkafkaVersion} (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;
    const consumers: KafkaConsumer[] = [];
    const tag = backendName.replace(/\W/g, '');

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      kafka = new kafkajs.Kafka({ clientId: 'e2e-rdkafka', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    });

    after(async () => {
      await Promise.all(consumers.map((c) => disconnect(c)));
      await agent?.stop();
      await backend?.stop();
    });

    const common = () => ({ 'bootstrap.servers': agent.bootstrap, 'client.id': `e2e-rdkafka-${tag}` });
    const consumer = async (conf: Record<string, string | number | boolean> = {}, topicConf: Record<string, string | number | boolean> = {}) => {
      const c = await connectConsumer({ ...common(), 'group.id': `rdk-${tag}-${consumers.length}`, 'enable.auto.commit': false, ...conf }, topicConf);
      c.setDefaultConsumeTimeout(100);
      consumers.push(c);
      return c;
    };
    const newTopic = async (topic: string, partitions: number) => {
      const admin = createAdmin(common());
      try {
        await createTopic(admin, { topic, num_partitions: partitions, replication_factor: 1 });
      } finally {
        admin.disconnect();
      }
    };
    const produceAll = async (topic: string, partition: number, values: string[], conf: Record<string, string | number | boolean> = {}) => {
      const p = await RdProducer.connect({ ...common(), ...conf });
      try {
        return await Promise.all(values.map((v) => p.produce(topic, partition, v, `k-${v}`)));
      } finally {
        await p.disconnect();
      }
    };

    test('an all-topics Metadata v12 with three bytes after its body is answered, and the connection serves the next request', async () => {
      const c = await RawClient.connect(agent.port);
      try {
        const body = { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false };
        const frame = Buffer.concat([...encodeRequest(ApiKey.Metadata, 12, 1000, 'rdkafka-like', body), Buffer.alloc(3)]);
        frame.writeInt32BE(frame.length - 4, 0);
        c.writeRaw(frame);
        const answer = await c.nextFrame();
        assert.ok(answer !== undefined, 'connection closed instead of answering');
        const { header, body: md } = decodeResponse(ApiKey.Metadata, 12, answer);
        assert.equal(header.correlationId, 1000);
        assert.equal(md.brokers.length, 1);
        assert.equal(md.brokers[0].port, agent.port);
        const second = await c.request(ApiKey.Metadata, 12, body);
        assert.equal(second.brokers[0].nodeId, md.brokers[0].nodeId);
        assert.equal(c.closed, false);
      } finally {
        c.close();
      }
    });

    for (const idempotent of [false, true]) {
      test(`${idempotent ? 'idempotent' : 'plain'} producer: delivery reports carry consecutive offsets, and the records read back`, async () => {
        const topic = `rdk-${idempotent ? 'idem' : 'plain'}-${tag}`;
        await newTopic(topic, 2);
        const values = Array.from({ length: 30 }, (_, i) => `value-${i}-${'x'.repeat(i)}`);
        const p = await RdProducer.connect({ ...common(), 'enable.idempotence': idempotent, acks: 'all' });
        let reports;
        try {
          reports = await Promise.all(values.map((v, i) => p.produce(topic, i % 2, v, `key-${i}`, [{ n: String(i) }])));
        } finally {
          await p.disconnect();
        }
        for (const partition of [0, 1]) {
          assert.deepEqual(
            reports.filter((r) => r.partition === partition).map((r) => r.offset),
            Array.from({ length: 15 }, (_, i) => i),
          );
        }
        const c = await consumer();
        c.assign([0, 1].map((partition) => ({ topic, partition, offset: 0 })));
        const got = await consumeRecords(c, 30);
        c.unassign();
        assert.equal(got.length, 30);
        const byValue = new Map(got.map((m) => [m.value!.toString(), m]));
        values.forEach((v, i) => {
          const m = byValue.get(v);
          assert.ok(m, `record ${i} missing`);
          assert.equal(m.key!.toString(), `key-${i}`);
          assert.equal(m.partition, i % 2);
          assert.equal(m.offset, Math.floor(i / 2));
          assert.deepEqual(m.headers?.map((h) => Object.fromEntries(Object.entries(h).map(([k, val]) => [k, val.toString()]))), [{ n: String(i) }]);
        });
      });
    }

    test('full metadata (no topic): every topic, the agent as the only broker, leading every partition', async () => {
      const topics = [`rdk-md-a-${tag}`, `rdk-md-b-${tag}`];
      await newTopic(topics[0], 3);
      await newTopic(topics[1], 1);
      const p = await RdProducer.connect(common());
      try {
        const md = await getMetadata(p.client);
        assert.equal(md.brokers.length, 1);
        assert.equal(`${md.brokers[0].host}:${md.brokers[0].port}`, agent.bootstrap);
        for (const [name, count] of [[topics[0], 3], [topics[1], 1]] as const) {
          const t = md.topics.find((x) => x.name === name);
          assert.ok(t, `${name} missing from ${md.topics.map((x) => x.name)}`);
          assert.deepEqual(t.partitions.map((x) => x.id).sort(), Array.from({ length: count }, (_, i) => i));
          for (const part of t.partitions) assert.equal(part.leader, md.brokers[0].id);
        }
      } finally {
        await p.disconnect();
      }
    });

    test('admin client: createTopic with configs, createPartitions, deleteTopic; an existing topic is refused', async () => {
      const topic = `rdk-admin-${tag}`;
      const admin = createAdmin(common());
      const kadmin = kafka.admin();
      await kadmin.connect();
      const p = await RdProducer.connect(common());
      try {
        await createTopic(admin, { topic, num_partitions: 2, replication_factor: 1, config: { 'retention.ms': '3600000', 'cleanup.policy': 'delete' } });
        const described = await kadmin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
        const retention = described.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
        assert.equal(retention?.configValue, '3600000');

        await assert.rejects(createTopic(admin, { topic, num_partitions: 2, replication_factor: 1 }), (err: { code: number }) => err.code === ERR.ERR_TOPIC_ALREADY_EXISTS);

        await createPartitions(admin, topic, 5);
        const md = await getMetadata(p.client, topic);
        assert.equal(md.topics.find((t) => t.name === topic)?.partitions.length, 5);

        await deleteTopic(admin, topic);
        assert.ok(!(await kadmin.listTopics()).includes(topic));
      } finally {
        admin.disconnect();
        await kadmin.disconnect();
        await p.disconnect();
      }
    });

    test('offsetsForTimes on partitions never led yet, an unknown partition and an unknown topic', async () => {
      // A fresh topic: Metadata names a leader epoch for partitions no agent leads yet, and current
      // librdkafka sends it back as ListOffsets' currentLeaderEpoch (one fenced partition fails the call).
      const topic = `rdk-times-${tag}`;
      await newTopic(topic, 4);
      const before = Date.now();
      await produceAll(topic, 0, ['a', 'b', 'c']);
      const c = await consumer();
      const t0 = Date.now();
      const result = await offsetsForTimes(c, [
        ...[0, 1, 2, 3].map((partition) => ({ topic, partition, offset: before - 1 })),
        { topic, partition: 9, offset: before },
      ]);
      assert.ok(Date.now() - t0 < 5000, `offsetsForTimes took ${Date.now() - t0} ms`);
      const byPartition = new Map(result.map((r) => [r.partition, r]));
      assert.equal(byPartition.get(0)?.offset, 0);
      // Empty partitions: no record at or after the timestamp, so the end (-1).
      for (const partition of [1, 2, 3]) assert.equal(byPartition.get(partition)?.offset, -1, `partition ${partition}`);
      // node-rdkafka puts a failed partition's error (message only) in its place in the result.
      const failed = (result as unknown[]).filter((r): r is Error => r instanceof Error);
      assert.deepEqual(failed.map((e) => e.message), ['Local: Unknown partition']);

      // A topic that does not exist: librdkafka finds no leader for it and fails the call itself.
      await assert.rejects(offsetsForTimes(c, [{ topic: `rdk-times-missing-${tag}`, partition: 0, offset: before }]), /Unknown partition/);
      // A later timestamp than every record: the end of the log.
      const [late] = await offsetsForTimes(c, [{ topic, partition: 0, offset: Date.now() + 60_000 }]);
      assert.equal(late.offset, -1);
    });

    test('pause, resume and seek', async () => {
      const topic = `rdk-pause-${tag}`;
      await newTopic(topic, 1);
      await produceAll(topic, 0, Array.from({ length: 10 }, (_, i) => `p${i}`));
      const c = await consumer({ 'fetch.wait.max.ms': 50 });
      c.assign([{ topic, partition: 0, offset: 0 }]);
      const first = await consumeRecords(c, 4);
      assert.deepEqual(first.map((m) => m.offset), [0, 1, 2, 3]);

      c.pause([{ topic, partition: 0 }]);
      await produceAll(topic, 0, ['p10']);
      // Records fetched before the pause may still be queued; none arrive while paused afterwards.
      await consumeRecords(c, 100, 1000);
      assert.equal((await consumeRecords(c, 1, 1500)).length, 0);

      c.resume([{ topic, partition: 0 }]);
      await seek(c, { topic, partition: 0, offset: 2 });
      const afterSeek = await consumeRecords(c, 9);
      assert.deepEqual(afterSeek.map((m) => m.offset), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(afterSeek.map((m) => m.value!.toString()), [2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => `p${i}`));
      c.unassign();
    });

    test('offset out of range after the log start moved: auto.offset.reset earliest and latest', async () => {
      const topic = `rdk-oor-${tag}`;
      await newTopic(topic, 1);
      await produceAll(topic, 0, Array.from({ length: 10 }, (_, i) => `r${i}`));
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs looks leaders up in its cache only
        await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '6' }] });
      } finally {
        await admin.disconnect();
      }
      // Both groups committed offset 3, now below the log start.
      const earliest = await consumer({}, { 'auto.offset.reset': 'earliest' });
      const latest = await consumer({ 'enable.partition.eof': true }, { 'auto.offset.reset': 'latest' });
      for (const c of [earliest, latest]) c.commitSync([{ topic, partition: 0, offset: 3 }]);

      earliest.assign([{ topic, partition: 0 }]);
      const fromStart = await consumeRecords(earliest, 4);
      assert.deepEqual(fromStart.map((m) => m.offset), [6, 7, 8, 9]);
      earliest.unassign();

      // Reset to the end: once it reports the end of the partition at 10, only new records come.
      let eofAt = -1;
      latest.on('partition.eof', (e) => (eofAt = e.offset));
      latest.assign([{ topic, partition: 0 }]);
      await waitFor('latest consumer at the end', async () => (await consumeRecords(latest, 1, 200)).length === 0 && eofAt === 10, 15_000);
      await produceAll(topic, 0, ['new']);
      const fresh = await consumeRecords(latest, 1);
      assert.deepEqual(fresh.map((m) => [m.offset, m.value!.toString()]), [[10, 'new']]);
      latest.unassign();
    });

    test('commits with metadata (librdkafka C API): text, UTF-8, empty and invalid UTF-8 come back as Kafka returns them', async () => {
      const topic = `rdk-meta-${tag}`;
      await newTopic(topic, 4);
      const metadata = [Buffer.from('consumer=a;gen=7 ' + 'm'.repeat(200)), Buffer.from('é ✓ 日本'), Buffer.alloc(0), Buffer.from([0x61, 0xff, 0x62])];
      const r = await commitWithMetadata(agent.bootstrap, `rdk-meta-${tag}`, topic, metadata);
      assert.equal(r.commit, 'NO_ERROR');
      assert.ok(r.ms < 5000, `commit took ${r.ms} ms`);
      assert.deepEqual(r.errors, ['NO_ERROR', 'NO_ERROR', 'NO_ERROR', 'NO_ERROR']);
      assert.equal(r.committed, 'NO_ERROR');
      assert.deepEqual(r.read, [
        [10, metadata[0].toString('hex')],
        [11, metadata[1].toString('hex')],
        [12, null], // librdkafka reads empty metadata as none
        // Metadata is a protocol string: bytes that are not UTF-8 are replaced, as Kafka's broker does.
        [13, Buffer.from('a\uFFFDb').toString('hex')],
      ]);
    });

    test('a commit of stored offsets whose metadata holds a NUL byte returns at once, never held as a coordinator outage', async () => {
      // librdkafka's store_offsets test stores "metadata" with sizeof, NUL included. Our store refused
      // it and answered COORDINATOR_NOT_AVAILABLE, on which librdkafka held the commit for up to
      // session.timeout.ms (45 s) waiting for the coordinator to come back.
      const topic = `rdk-meta-stored-${tag}`;
      await newTopic(topic, 1);
      await produceAll(topic, 0, ['r0', 'r1']);
      const metadata = [Buffer.from('metadata\u0000')];
      const r = await commitWithMetadata(agent.bootstrap, `rdk-meta-stored-${tag}`, topic, metadata, 'stored');
      assert.ok(r.ms < 5000, `commit took ${r.ms} ms`);
      assert.equal(r.commit, 'NO_ERROR');
      assert.deepEqual(r.read, [[10, metadata[0].toString('hex')]]);
    });

    test('commits with metadata holding NUL bytes round-trip', async () => {
      const topic = `rdk-meta-nul-${tag}`;
      await newTopic(topic, 1);
      const metadata = [Buffer.from('a\u0000b\u0000')];
      const r = await commitWithMetadata(agent.bootstrap, `rdk-meta-nul-${tag}`, topic, metadata);
      assert.equal(r.commit, 'NO_ERROR');
      assert.deepEqual(r.read, [[10, metadata[0].toString('hex')]]);
    });

    test('commits of partitions the consumer is not assigned return at once and are stored', async () => {
      const mine = `rdk-assigned-${tag}`;
      const other = `rdk-unassigned-${tag}`;
      await newTopic(mine, 1);
      await newTopic(other, 2);
      await produceAll(mine, 0, ['m0']);
      const c = await consumer();
      c.assign([{ topic: mine, partition: 0, offset: 0 }]);
      assert.equal((await consumeRecords(c, 1)).length, 1);
      const t0 = Date.now();
      c.commitSync([
        { topic: other, partition: 0, offset: 7 },
        { topic: other, partition: 1, offset: 9 },
      ]);
      assert.ok(Date.now() - t0 < 5000, `commit took ${Date.now() - t0} ms`);
      const got = await committed(c, [{ topic: other, partition: 0 }, { topic: other, partition: 1 }]);
      assert.deepEqual(got.map((x) => [x.partition, x.offset]).sort(), [[0, 7], [1, 9]]);
      c.unassign();
    });
  });
}
