// The admin CLI with two agents on PostgreSQL + S3: partitions led by both, so broker mode asks each
// leader for its offsets and every broker for its groups; the database view agrees with the Kafka view.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type kafkajs from 'kafkajs';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';
import { Kafka, cli, json, logLevel, ok, row } from './admin-cli.js';

describe('admin CLI (two agents on PostgreSQL + S3)', () => {
  const SPREAD = 'spread';
  const PARTITIONS = 6;
  const REPORTS = 'reports';
  let backend: Backend;
  const agents: AgentHandle[] = [];
  let kafka: kafkajs.Kafka;

  before(async () => {
    backend = await startBackend('postgres+s3');
    agents.push(await startAgent({ env: backend.env }));
    agents.push(await startAgent({ env: backend.env }));
    kafka = new Kafka({ clientId: 'admin-e2e-2', brokers: agents.map((a) => a.bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: SPREAD, numPartitions: PARTITIONS }] });
    // Placement gives each agent three of the six partitions once both are live.
    await waitFor('leaders on both agents', async () => {
      const md = await admin.fetchTopicMetadata({ topics: [SPREAD] });
      const leaders = md.topics[0]!.partitions.map((p) => p.leader);
      return [0, 1].every((n) => leaders.filter((l) => l === n).length === PARTITIONS / 2);
    });
    const producer = kafka.producer();
    await producer.connect();
    for (let p = 0; p < PARTITIONS; p++) {
      await producer.send({ topic: SPREAD, acks: -1, messages: Array.from({ length: p + 1 }, (_, i) => ({ partition: p, value: `r${i}` })) });
    }
    await producer.disconnect();
    // A group with offsets and no members: offset 1 everywhere, so partition p lags by p.
    await admin.setOffsets({ groupId: REPORTS, topic: SPREAD, partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, offset: '1' })) });
    await admin.disconnect();
  });

  after(async () => {
    for (const a of agents) await a.stop();
    await backend?.stop();
  });

  test('broker mode asks every leader and coordinator; the database agrees', async () => {
    const bootstrap = ['--bootstrap-server', agents[1]!.bootstrap];
    const database = ['--database-url', backend.env.DATABASE_URL];

    const viaBroker = await json('topics', 'describe', SPREAD, ...bootstrap);
    assert.deepEqual(viaBroker.partitions.map((p: any) => [p.highWatermark, p.records]), Array.from({ length: PARTITIONS }, (_, p) => [p + 1, p + 1]));
    const viaDb = await json('topics', 'describe', SPREAD, ...database);
    assert.deepEqual(viaDb.partitions.map((p: any) => [p.leader, p.leaderEpoch, p.highWatermark]), viaBroker.partitions.map((p: any) => [p.leader, p.leaderEpoch, p.highWatermark]));
    assert.deepEqual(new Set(viaBroker.partitions.map((p: any) => p.leader)), new Set([0, 1]));

    const brokerAgents = await json('agents', ...bootstrap);
    assert.deepEqual(brokerAgents.agents.map((a: any) => [a.nodeId, a.port, a.partitionLeases]), [[0, agents[0]!.port, 3], [1, agents[1]!.port, 3]]);
    const dbAgents = await json('agents', ...database);
    assert.deepEqual(dbAgents.agents.map((a: any) => [a.nodeId, a.port, a.live]), [[0, agents[0]!.port, true], [1, agents[1]!.port, true]]);
    assert.equal(dbAgents.agents.reduce((n: number, a: any) => n + a.coordinatorShards, 0), 50, 'every shard held by one of them');

    for (const target of [bootstrap, database]) {
      const lag = await json('lag', '--group', REPORTS, ...target);
      assert.deepEqual(lag.groups[0].partitions.map((p: any) => [p.partition, p.committedOffset, p.highWatermark, p.lag]), Array.from({ length: PARTITIONS }, (_, p) => [p, 1, p + 1, p]));
      assert.equal(lag.groups[0].totalLag, 15);
      const table = await ok('lag', ...target);
      assert.deepEqual(row(table, REPORTS, SPREAD, '5').slice(3), ['1', '6', '5']);
    }
    const [g1, g2] = [await json('groups', ...bootstrap), await json('groups', ...database)];
    const [b, d] = [g1.groups.find((g: any) => g.groupId === REPORTS), g2.groups.find((g: any) => g.groupId === REPORTS)];
    assert.equal(b.state, 'Empty');
    assert.equal(b.members, 0);
    assert.equal(d.coordinator, b.coordinator, 'the coordinator ListGroups names holds the group\'s shard lease');
  });

  test('a leader that does not answer: its partitions print "-", a warning names it, the rest is shown', async () => {
    const frozen = agents[0]!;
    process.kill(frozen.pid, 'SIGSTOP'); // its leases stay valid for the lease TTL (10 s): Metadata still names it
    try {
      const r = await cli('topics', 'describe', SPREAD, '--json', '--timeout-ms', '1500', '--bootstrap-server', agents[1]!.bootstrap);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^streamhouse: warning: offsets of the partitions led by broker 0 are unknown: broker 127\.0\.0\.1:\d+ did not answer/m);
      const d = JSON.parse(r.stdout);
      for (const p of d.partitions) {
        if (p.leader === 0) assert.equal(p.highWatermark, null);
        else assert.equal(p.highWatermark, p.partition + 1);
      }
      assert.ok(d.partitions.some((p: any) => p.leader === 0) && d.partitions.some((p: any) => p.leader === 1));

      // Its heartbeat lapses: the database view calls it dead once the liveness window (6 s) has passed.
      const database = ['--database-url', backend.env.DATABASE_URL];
      const dead = await waitFor('the frozen agent to read as dead', async () => {
        const list = await json('agents', ...database);
        const a = list.agents.find((x: any) => x.nodeId === 0);
        return a?.status === 'dead' ? a : undefined;
      }, 30_000);
      assert.equal(dead.live, false);
      assert.ok(row(await ok('agents', ...database), dead.agentId).includes('dead'));
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
    }
  });
});
