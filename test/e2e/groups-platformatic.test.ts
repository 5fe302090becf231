// Consumer groups with @platformatic/kafka (flexible versions only: FindCoordinator v4+ batched keys,
// JoinGroup v6–9, SyncGroup v5, Heartbeat v4, LeaveGroup v5, OffsetCommit/OffsetFetch v8–9, ListGroups
// and DescribeGroups v5) against the real agent, on both configurations.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { Admin, Consumer, stringDeserializers } from '@platformatic/kafka';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 12;

for (const backendName of BACKENDS) {
  describe(`consumer groups with @platformatic/kafka (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      kafka = new Kafka({ clientId: 'groups-pk', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    const produce = async (topic: string, from: number, count: number) => {
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, k) => ({ partition: (from + k) % PARTITIONS, value: `v-${from + k}` })) });
      } finally {
        await producer.disconnect();
      }
    };

    test('two members share 12 partitions, one closes, the other takes over; a new member resumes from the commits', async () => {
      const topic = `pk-${backendName.replace(/\W/g, '')}`;
      const groupId = `pk-${backendName.replace(/\W/g, '')}`;
      const admin = new Admin({ clientId: 'pk-admin', bootstrapBrokers: [agent.bootstrap] });
      const consumers: Consumer<string, string, string, string>[] = [];
      const streams = new Map<Consumer<string, string, string, string>, { close(): Promise<void> }>();
      const seen: Array<{ who: string; partition: number; offset: bigint; value: string }> = [];
      const start = async (who: string) => {
        const c = new Consumer({ groupId, clientId: who, bootstrapBrokers: [agent.bootstrap], deserializers: stringDeserializers, sessionTimeout: 10_000, rebalanceTimeout: 20_000, heartbeatInterval: 300, maxWaitTime: 200 });
        consumers.push(c);
        const stream = await c.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
        stream.on('data', (m) => seen.push({ who, partition: m.partition, offset: m.offset, value: m.value }));
        streams.set(c, stream);
        return c;
      };
      /** A clean stop: the stream first (the client refuses to leave while one is open), then LeaveGroup. */
      const stop = async (c: Consumer<string, string, string, string>) => {
        await streams.get(c)!.close();
        await c.close();
      };
      /** DescribeGroups v5: Stable with exactly these client ids; their partitions of `topic`. */
      const stable = (clientIds: string[]) =>
        waitFor(`stable with ${clientIds}`, async () => {
          const g = (await admin.describeGroups({ groups: [groupId] })).get(groupId)!;
          if (g.state !== 'Stable' || g.members.size !== clientIds.length) return undefined;
          const owned = [...g.members.values()].map((m) => ({ clientId: m.clientId, partitions: m.assignments?.get(topic)?.partitions ?? [] }));
          if (!clientIds.every((c) => owned.some((o) => o.clientId === c))) return undefined;
          return { group: g, owned };
        });
      const all = Array.from({ length: PARTITIONS }, (_, i) => i);
      const values = (from: number, count: number) => Array.from({ length: count }, (_, k) => `v-${from + k}`);
      try {
        await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
        const a = await start('pk-a');
        const b = await start('pk-b');
        const two = await stable(['pk-a', 'pk-b']);
        assert.deepEqual(two.owned.flatMap((o) => o.partitions).sort((x, y) => x - y), all, 'every partition exactly once');
        assert.equal(two.group.protocolType, 'consumer');
        // The group is Stable once its leader has synced; a follower may still fetch its previous
        // assignment (all partitions) until its own SyncGroup answer lands, and a fetch it sent before
        // may still be waiting: produce once both clients hold their halves, and their old fetches ended.
        await waitFor('both members hold their assignment', () => {
          const held = [a, b].map((c) => (c.assignments ?? []).filter((x) => x.topic === topic).flatMap((x) => x.partitions));
          return (held.every((ps) => ps.length > 0) && held.flat().length === PARTITIONS) || undefined;
        });
        await new Promise((r) => setTimeout(r, 500));
        await produce(topic, 0, 240);
        await waitFor('240 records', () => values(0, 240).every((v) => seen.some((s) => s.value === v)) || undefined);
        assert.ok(seen.some((s) => s.who === 'pk-a') && seen.some((s) => s.who === 'pk-b'), 'both consumed');

        const listed = await admin.listGroups({ types: ['classic'] });
        assert.equal(listed.get(groupId)?.state, 'Stable');

        await stop(b);
        const one = await stable(['pk-a']);
        assert.deepEqual([...one.owned[0].partitions].sort((x, y) => x - y), all);
        await produce(topic, 240, 240);
        await waitFor('480 records', () => values(0, 480).every((v) => seen.some((s) => s.value === v)) || undefined);
        await new Promise((r) => setTimeout(r, 500));
        await stop(a);
        await waitFor('group empty', async () => (await admin.describeGroups({ groups: [groupId] })).get(groupId)!.state === 'Empty');

        const before = seen.length;
        await start('pk-c');
        await stable(['pk-c']);
        await produce(topic, 480, 120);
        await waitFor('120 new records', () => seen.length - before >= 120 || undefined);
        await new Promise((r) => setTimeout(r, 1000));
        assert.deepEqual(seen.slice(before).map((s) => s.value).sort(), values(480, 120).sort(), 'only the new records, once each');
      } finally {
        for (const c of consumers) await c.close(true).catch(() => undefined);
        await admin.close().catch(() => undefined);
      }
    });
  });
}
