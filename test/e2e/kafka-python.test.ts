// kafka-python 2.0.2 (Debian's python3-kafka, a pure-Python client with its own protocol code) against
// the real agent, on both configurations: KafkaAdminClient creates a topic with a config, adds a
// partition, alters and describes configs, lists groups and their offsets, and deletes the topic;
// KafkaProducer writes gzip batches with keys, headers and timestamps (acks=all); KafkaConsumer looks up
// beginning/end offsets and offsets by timestamp, consumes in a group, commits, and a second consumer
// of the group resumes from the commit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { describeRun, runClient } from '../helpers/run-client.js';

const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import json, sys, time
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
def out(event, **o):
    o["event"] = event
    print(json.dumps(o), flush=True)
def configs(admin):
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return {e[0]: e[1] for e in res[0].resources[0][4]}

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kp-admin")
admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "7200000"})])
admin.create_partitions({topic: NewPartitions(3)})
out("topics", topics=sorted(admin.list_topics()), retention=configs(admin).get("retention.ms"))
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "3600000"})])
out("altered", retention=configs(admin).get("retention.ms"))

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip", linger_ms=5)
t0 = int(time.time() * 1000)
futures = [producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 3, headers=[("h", b"x%d" % i)], timestamp_ms=t0 + i) for i in range(30)]
producer.flush()
out("produced", t0=t0, acks=[[f.get().partition, f.get().offset] for f in futures])

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=30000)
tps = [TopicPartition(topic, p) for p in range(3)]
out("offsets",
    beginning=[o for _, o in sorted(consumer.beginning_offsets(tps).items())],
    end=[o for _, o in sorted(consumer.end_offsets(tps).items())],
    by_time=[o.offset if o else None for _, o in sorted(consumer.offsets_for_times({tp: t0 + 15 for tp in tps}).items())])
consumer.subscribe([topic])
records = []
for m in consumer:
    records.append({"p": m.partition, "o": m.offset, "k": m.key.decode(), "v": m.value.decode(), "h": {k: v.decode() for k, v in m.headers}, "ts": m.timestamp})
    if len(records) == 30:
        break
consumer.commit()
out("consumed", records=records, committed=[consumer.committed(tp) for tp in tps])
consumer.close()

for p in range(3):
    producer.send(topic, value=b"late-%d" % p, partition=p)
producer.flush()
producer.close()
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=30000)
late = []
for m in consumer:
    late.append([m.partition, m.offset, m.value.decode()])
    if len(late) == 3:
        break
consumer.commit()
consumer.close()
out("resumed", records=late)

out("groups", groups=[g[0] for g in admin.list_consumer_groups()],
    offsets={str(tp.partition): o.offset for tp, o in admin.list_consumer_group_offsets(group).items()})
admin.delete_topics([topic])
out("deleted", topics=sorted(admin.list_topics()))
admin.close()
`;

for (const backendName of BACKENDS) {
  describe(`kafka-python (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    test('admin, gzip producer, offsets lookups and a committing consumer group', async () => {
      const topic = 'kafka-python-e2e';
      const run = await runClient(PYTHON, ['-c', SCRIPT, agent.bootstrap, topic, 'kp-group']);
      assert.equal(run.code, 0, describeRun(run));
      const ev = (name: string) => {
        const e = run.events.find((x) => x.event === name);
        assert.ok(e, `no "${name}" event\n${describeRun(run)}`);
        return e;
      };

      assert.deepEqual(ev('topics'), { event: 'topics', topics: [topic], retention: '7200000' });
      assert.equal(ev('altered').retention, '3600000');

      const produced = ev('produced');
      assert.deepEqual(produced.acks, Array.from({ length: 30 }, (_, i) => [i % 3, Math.floor(i / 3)]));
      const t0 = produced.t0 as number;

      // Partition p holds timestamps t0+p, t0+p+3, …: the first at or after t0+15 is its 6th record.
      assert.deepEqual(ev('offsets'), { event: 'offsets', beginning: [0, 0, 0], end: [10, 10, 10], by_time: [5, 5, 5] });

      const consumed = ev('consumed');
      const records = consumed.records as Array<{ p: number; o: number; k: string; v: string; h: Record<string, string>; ts: number }>;
      assert.equal(records.length, 30);
      for (const r of records) {
        const i = r.o * 3 + r.p;
        assert.deepEqual(r, { p: i % 3, o: Math.floor(i / 3), k: `k${i}`, v: `v${i}`, h: { h: `x${i}` }, ts: t0 + i });
      }
      assert.deepEqual(consumed.committed, [10, 10, 10]);

      assert.deepEqual(((ev('resumed').records as unknown[][]) ?? []).sort(), [[0, 10, 'late-0'], [1, 10, 'late-1'], [2, 10, 'late-2']]);
      assert.deepEqual(ev('groups'), { event: 'groups', groups: ['kp-group'], offsets: { '0': 11, '1': 11, '2': 11 } });
      assert.deepEqual(ev('deleted').topics, []);
    });
  });
}
