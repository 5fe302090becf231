// Consumer groups with kafkajs against the real agent, on both configurations: three consumers share a
// 12-partition topic (every partition assigned exactly once), one leaves and the other two take over all
// 12, every produced record is consumed; after a clean stop and an agent restart the committed offsets
// are there (OffsetFetch, DescribeGroups) and restarted consumers read nothing twice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { decodeAssignment } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 12;

interface Seen {
  member: string;
  partition: number;
  offset: number;
  value: string;
}

interface Member {
  name: string;
  consumer: kafkajs.Consumer;
  memberId: string | undefined;
  assigned: number[];
  joins: number;
  /** Disconnects for good (no restart after this). */
  stop(): Promise<void>;
}

for (const backendName of BACKENDS) {
  describe(`consumer groups with kafkajs (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      kafka = new Kafka({ clientId: 'groups-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    // kafkajs gives up on a consumer whose coordinator lookup meets a refused connection (the only
    // broker restarting): restartOnFailure covers retriable crashes, and for the non-retriable
    // "Failed to find group coordinator" we do what applications do — start the consumer again.
    const startMember = async (name: string, groupId: string, topic: string, seen: Seen[]): Promise<Member> => {
      const m = { name, memberId: undefined, assigned: [], joins: 0 } as unknown as Member; // consumer and stop set below
      let stopped = false;
      const launch = async (): Promise<void> => {
        const consumer = kafka.consumer({
          groupId,
          sessionTimeout: 10_000,
          rebalanceTimeout: 20_000,
          heartbeatInterval: 300,
          maxWaitTimeInMs: 200,
          retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000, restartOnFailure: async () => true },
        });
        m.consumer = consumer;
        consumer.on(consumer.events.GROUP_JOIN, (e) => {
          m.memberId = e.payload.memberId;
          m.assigned = [...((e.payload.memberAssignment as Record<string, number[]>)[topic] ?? [])].sort((a, b) => a - b);
          m.joins++;
        });
        consumer.on(consumer.events.CRASH, (e) => {
          if (e.payload.restart || stopped || m.consumer !== consumer) return;
          setTimeout(() => void launch().catch(() => undefined), 500);
        });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen.push({ member: name, partition, offset: Number(message.offset), value: message.value!.toString() });
          },
        });
      };
      await launch();
      m.stop = async () => {
        stopped = true;
        await m.consumer.disconnect();
      };
      return m;
    };

    /** DescribeGroups until Stable with exactly these members, each assignment known to its consumer. */
    const waitStable = async (admin: kafkajs.Admin, groupId: string, topic: string, members: Member[]) =>
      waitFor(`group ${groupId} stable with ${members.map((m) => m.name)}`, async () => {
        const { groups } = await admin.describeGroups([groupId]);
        const g = groups[0];
        if (g.state !== 'Stable' || g.members.length !== members.length) return undefined;
        const byId = new Map(g.members.map((d) => [d.memberId, decodeAssignment(d.memberAssignment).assignment]));
        const owned: number[][] = [];
        for (const m of members) {
          const a = m.memberId === undefined ? undefined : byId.get(m.memberId);
          if (a === undefined) return undefined;
          const parts = a.assignedPartitions.filter((tp) => tp.topic === topic).flatMap((tp) => tp.partitions).sort((x, y) => x - y);
          if (JSON.stringify(parts) !== JSON.stringify(m.assigned)) return undefined;
          owned.push(parts);
        }
        return { group: g, owned };
      });

    const produce = async (topic: string, from: number, count: number) => {
      const producer = kafka.producer();
      await producer.connect();
      try {
        const messages = Array.from({ length: count }, (_, k) => ({ partition: (from + k) % PARTITIONS, value: `v-${from + k}` }));
        for (let i = 0; i < messages.length; i += 200) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 200) });
      } finally {
        await producer.disconnect();
      }
    };

    const values = (from: number, count: number) => Array.from({ length: count }, (_, k) => `v-${from + k}`);

    test('three members share 12 partitions; one leaves; all records consumed; offsets survive consumer and agent restarts', async () => {
      const topic = `kjs-group-${backendName.replace(/\W/g, '')}`;
      const groupId = `kjs-${backendName.replace(/\W/g, '')}`;
      const admin = kafka.admin();
      await admin.connect();
      const seen: Seen[] = [];
      const members: Member[] = [];
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
        for (const name of ['a', 'b', 'c']) members.push(await startMember(name, groupId, topic, seen));
        const [a, b, c] = members;

        const three = await waitStable(admin, groupId, topic, [a, b, c]);
        const all = three.owned.flat().sort((x, y) => x - y);
        assert.deepEqual(all, Array.from({ length: PARTITIONS }, (_, i) => i), 'every partition exactly once');
        assert.ok(three.owned.every((o) => o.length === 4), `4 partitions each: ${JSON.stringify(three.owned)}`);
        assert.equal(three.group.protocolType, 'consumer');
        assert.equal(three.group.protocol, 'RoundRobinAssigner');

        await produce(topic, 0, 1200);
        await waitFor('the first 1200 records', () => new Set(seen.map((s) => s.value)).size >= 1200 || undefined);

        // b leaves cleanly (LeaveGroup): a and c take over all 12 partitions.
        await b.stop();
        const two = await waitStable(admin, groupId, topic, [a, c]);
        assert.deepEqual(two.owned.flat().sort((x, y) => x - y), Array.from({ length: PARTITIONS }, (_, i) => i));
        const bSeen = seen.filter((s) => s.member === 'b').length;
        await produce(topic, 1200, 1200);
        const expected = new Set(values(0, 2400));
        await waitFor('all 2400 records', () => [...expected].every((v) => seen.some((s) => s.value === v)) || undefined);
        assert.equal(seen.filter((s) => s.member === 'b').length, bSeen, 'b consumed nothing after it left');
        assert.ok(seen.filter((s) => s.member !== 'b' && Number(s.value.slice(2)) >= 1200).length >= 1200);

        // Clean stop: the last positions are committed.
        await a.stop();
        await c.stop();
        const committed = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.map((p) => Number(p.offset)).sort((x, y) => x - y);
        assert.deepEqual(await committed(), Array(PARTITIONS).fill(200));

        // Agent restart: offsets and the group (Empty, last protocol type) are still there.
        await admin.disconnect();
        agent = await agent.restart();
        await admin.connect();
        assert.deepEqual(await waitFor('offsets after the restart', () => committed()), Array(PARTITIONS).fill(200));
        const described = (await admin.describeGroups([groupId])).groups[0];
        assert.deepEqual([described.state, described.protocolType, described.members.length], ['Empty', 'consumer', 0]);
        const listed = await admin.listGroups();
        assert.ok(listed.groups.some((g) => g.groupId === groupId && g.protocolType === 'consumer'), JSON.stringify(listed));

        // New members resume from the committed offsets: only new records, none twice.
        const after: Seen[] = [];
        const d = await startMember('d', groupId, topic, after);
        const e = await startMember('e', groupId, topic, after);
        members.push(d, e);
        await waitStable(admin, groupId, topic, [d, e]);
        await produce(topic, 2400, 240);
        await waitFor('the 240 new records', () => after.length >= 240 || undefined);
        await new Promise((r) => setTimeout(r, 1000));
        assert.deepEqual(after.map((s) => s.value).sort(), values(2400, 240).sort(), 'exactly the new records, once each');
        assert.ok(after.every((s) => s.offset >= 200));
      } finally {
        for (const m of members) await m.stop().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      }
    });

    test('members that stay connected through an agent restart rejoin and keep consuming', async () => {
      const topic = `kjs-live-${backendName.replace(/\W/g, '')}`;
      const groupId = `kjs-live-${backendName.replace(/\W/g, '')}`;
      const admin = kafka.admin();
      await admin.connect();
      const seen: Seen[] = [];
      const members: Member[] = [];
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
        members.push(await startMember('x', groupId, topic, seen), await startMember('y', groupId, topic, seen));
        await waitStable(admin, groupId, topic, members);
        await produce(topic, 0, 120);
        await waitFor('120 records', () => new Set(seen.map((s) => s.value)).size >= 120 || undefined);
        await admin.disconnect();
        agent = await agent.restart();
        await admin.connect();
        await produce(topic, 120, 120);
        await waitFor('records produced after the restart', () => values(120, 120).every((v) => seen.some((s) => s.value === v)) || undefined, 90_000);
        const joinsBefore = members.map((m) => m.joins);
        const stable = await waitStable(admin, groupId, topic, members);
        assert.deepEqual(stable.owned.flat().sort((p, q) => p - q), Array.from({ length: PARTITIONS }, (_, i) => i));
        assert.ok(members.every((m, i) => m.joins >= joinsBefore[i]));
      } finally {
        for (const m of members) await m.stop().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      }
    });
  });
}
