// kcat (librdkafka 2.0.2) against the real agent, on both configurations: keyed records with headers
// go in, and come back by partition with the same keys, values, headers, timestamps and offsets —
// also after an agent restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines, type KcatMessage } from '../helpers/kcat.js';

for (const backendName of BACKENDS) {
  describe(`kcat end to end (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: { ...backend.env, STREAMHOUSE_NUM_PARTITIONS: '3' } });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    const consume = async (topic: string, partition: number, count: number): Promise<KcatMessage[]> => {
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-c', String(count), '-e', '-J']);
      assert.equal(r.code, 0, r.stderr);
      return parseJsonLines(r.stdout);
    };

    test('keyed records with headers round-trip by partition, and survive a restart', async () => {
      const topic = `kcat-${backendName.replace(/\W/g, '')}`;
      const lines = Array.from({ length: 30 }, (_, i) => `key-${i}\tvalue-${i} ${'x'.repeat(i * 10)}`);
      const before = Date.now();
      for (const partition of [0, 1, 2]) {
        const part = lines.filter((_, i) => i % 3 === partition);
        const r = await kcat(
          ['-b', agent.bootstrap, '-P', '-t', topic, '-p', String(partition), '-K', '\t', '-H', 'source=kcat', '-H', `partition=${partition}`, '-X', 'linger.ms=0'],
          { input: part.join('\n') + '\n' },
        );
        assert.equal(r.code, 0, r.stderr);
      }
      const afterProduce = Date.now();

      const firstRead: KcatMessage[][] = [];
      for (const partition of [0, 1, 2]) {
        const msgs = await consume(topic, partition, 10);
        const expected = lines.filter((_, i) => i % 3 === partition);
        assert.equal(msgs.length, expected.length);
        msgs.forEach((m, j) => {
          const [key, value] = expected[j].split('\t');
          assert.equal(m.partition, partition);
          assert.equal(m.offset, j);
          assert.equal(m.key, key);
          assert.equal(m.payload, value);
          assert.deepEqual(m.headers, ['source', 'kcat', 'partition', String(partition)]);
          assert.equal(m.tstype, 'create');
          assert.ok(m.ts >= before - 1000 && m.ts <= afterProduce + 1000, `timestamp ${m.ts}`);
        });
        firstRead.push(msgs);
      }

      agent = await agent.restart();
      for (const partition of [0, 1, 2]) {
        const msgs = await consume(topic, partition, 10);
        assert.deepEqual(
          msgs.map((m) => ({ ...m, broker: 0 })),
          firstRead[partition].map((m) => ({ ...m, broker: 0 })),
        );
      }
    });

    test('acks=0: kcat gets no answers, and every record is written all the same', async () => {
      // The agent recycles Produce request memory once a request is handled (poisoned in tests):
      // acks=0 appends, which outlive their request, must not read it afterwards.
      const topic = 'kcat-acks0';
      const lines = Array.from({ length: 300 }, (_, i) => `v${i}-${'x'.repeat(i % 50)}`);
      const p = await kcat(['-b', agent.bootstrap, '-P', '-t', topic, '-p', '0', '-X', 'acks=0', '-X', 'linger.ms=0', '-X', 'batch.num.messages=7'], { input: lines.join('\n') + '\n' });
      assert.equal(p.code, 0, p.stderr);
      let msgs: KcatMessage[] = [];
      for (let attempt = 0; attempt < 50 && msgs.length < lines.length; attempt++) {
        msgs = await consume(topic, 0, lines.length);
        if (msgs.length < lines.length) await new Promise((r) => setTimeout(r, 100));
      }
      // Every record, whole (a recycled request read after its release would fail its CRC), in the
      // order sent: pipelined requests of one connection append in arrival order, even while the
      // first ones wait for the topic's auto-creation and its lease.
      assert.deepEqual(msgs.map((m) => m.payload as string), lines);
      assert.deepEqual(msgs.map((m) => m.offset), lines.map((_, i) => i));
    });

    test('metadata lists the agent as the only broker, leading every partition', async () => {
      const topic = 'kcat-metadata';
      const p = await kcat(['-b', agent.bootstrap, '-P', '-t', topic, '-p', '0'], { input: 'hello\n' });
      assert.equal(p.code, 0, p.stderr);
      const r = await kcat(['-b', agent.bootstrap, '-L', '-J', '-t', topic]);
      assert.equal(r.code, 0, r.stderr);
      const md = JSON.parse(r.stdout) as { brokers: Array<{ id: number; name: string }>; topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }> };
      assert.equal(md.brokers.length, 1);
      assert.equal(md.brokers[0].name, agent.bootstrap);
      const t = md.topics.find((x) => x.topic === topic)!;
      assert.equal(t.partitions.length, 3);
      for (const part of t.partitions) assert.equal(part.leader, md.brokers[0].id);
    });
  });
}
