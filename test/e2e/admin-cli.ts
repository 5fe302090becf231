// The admin CLI suite, run by admin-cli-embedded.test.ts and admin-cli-postgres.test.ts (one file per
// configuration, so that each stays well within the per-file time limit): `node dist/src/cli.js
// topics|groups|lag|agents|leases|segments|configs` run as a child process against a real agent, with a topic written by kafkajs and a consumer
// group that committed offsets and then fell behind: the values a user checks (partitions, high
// watermarks, lag, group state, agent rows), in tables and in --json. Broker mode on both; the database
// directly on PostgreSQL while the agent runs, and on the embedded PGlite once the agent has stopped (while
// it runs, --data-dir is refused with a message pointing at --bootstrap-server).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { cliPath, startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend, type BackendName } from '../helpers/backends.js';
import { killGroup, spawnTracked } from '../helpers/reaper.js';
import { waitFor } from '../helpers/wait.js';

export const { Kafka, logLevel } = kafkajs;
const TOPIC = 'orders';
const EMPTY_TOPIC = 'quiet';
const GROUP = 'billing';
/** Records per partition before the group catches up, and after (the lag). */
const FIRST = [10, 20, 30];
const MORE = [1, 2, 3];
const HW = FIRST.map((n, i) => n + MORE[i]);

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(...args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // DATABASE_URL from the test's environment must not choose the target for us.
    const child = spawnTracked(process.execPath, [cliPath(), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DATABASE_URL: '', STREAMHOUSE_DATA_DIR: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => killGroup(child), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const describeRun = (r: CliRun) => `exit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;

export async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${describeRun(r)}`);
  assert.equal(r.stderr, '', `${args.join(' ')} printed on stderr: ${r.stderr}`);
  return r.stdout;
}

export async function json<T = any>(...args: string[]): Promise<T> {
  return JSON.parse(await ok(...args, '--json')) as T;
}

/** A failure: exit code, one line on stderr naming the problem, no stack trace. */
export async function fails(code: number, pattern: RegExp, ...args: string[]): Promise<void> {
  const r = await cli(...args);
  assert.equal(r.code, code, `${args.join(' ')}: ${describeRun(r)}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(r.stdout, '');
}

/** The table's rows as arrays of cells (split on runs of two or more spaces). */
export function rows(table: string): string[][] {
  return table
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));
}

/** The line of a table whose first cells are `prefix`. */
export function row(table: string, ...prefix: string[]): string[] {
  const found = rows(table).find((r) => prefix.every((p, i) => r[i] === p));
  assert.ok(found, `no row ${prefix.join(' ')} in:\n${table}`);
  return found;
}

/** The whole suite on one configuration (admin-cli-embedded.test.ts, admin-cli-postgres.test.ts). */
export function adminCliSuite(backendName: BackendName): void {
  describe(`admin CLI (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;
    let producer: kafkajs.Producer;
    let consumer: kafkajs.Consumer | undefined;
    let databaseArgs: string[];

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env, cleanup: false });
      databaseArgs = backendName === 'embedded' ? ['--data-dir', agent.dataDir] : ['--database-url', backend.env.DATABASE_URL];
      kafka = new Kafka({ clientId: 'admin-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: TOPIC, numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
          { topic: EMPTY_TOPIC, numPartitions: 2 },
        ],
      });
      producer = kafka.producer();
      await producer.connect();
      const send = (counts: number[], prefix: string) =>
        Promise.all(counts.map((n, partition) => producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ partition, value: `${prefix}-${partition}-${i}` })) })));
      await send(FIRST, 'first');

      // The group reads everything, commits, stays a member (Stable) but stops reading; then more arrives.
      let seen = 0;
      consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 30_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        autoCommitInterval: 100,
        eachMessage: async () => {
          seen++;
        },
      });
      await waitFor('the group to consume the first records', () => seen >= FIRST.reduce((a, b) => a + b));
      await waitFor('the group to commit them', async () => {
        const [t] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
        return t!.partitions.every((p) => Number(p.offset) === FIRST[p.partition]);
      });
      consumer.pause([{ topic: TOPIC }]);
      await send(MORE, 'more');
      await admin.disconnect();
    });

    after(async () => {
      await consumer?.disconnect().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      await agent?.stop();
      if (agent) rmSync(agent.dataDir, { recursive: true, force: true }); // kept past the agent's stop: read after it
      await backend?.stop();
    });

    const broker = () => ['--bootstrap-server', agent.bootstrap];

    test('broker mode: topics, topics describe', async () => {
      const list = await ok('topics', ...broker());
      assert.deepEqual(row(list, TOPIC).slice(0, 3), [TOPIC, '3', String(HW.reduce((a, b) => a + b))]);
      assert.deepEqual(row(list, EMPTY_TOPIC).slice(0, 3), [EMPTY_TOPIC, '2', '0']);
      const j = await json('topics', ...broker());
      assert.equal(j.source, 'broker');
      const t = j.topics.find((x: any) => x.name === TOPIC);
      assert.equal(t.partitions, 3);
      assert.equal(t.records, 66);
      assert.equal(t.sizeBytes, null, 'sizes are not Kafka-visible');

      const described = await ok('topics', 'describe', TOPIC, ...broker());
      assert.match(described, /^Topic:\s+orders$/m);
      assert.match(described, /^Partitions:\s+3$/m);
      for (let p = 0; p < 3; p++) {
        const [partition, leader, epoch, logStart, hw, records] = row(described, String(p));
        assert.deepEqual([partition, leader, logStart, hw, records], [String(p), '0', '0', String(HW[p]), String(HW[p])]);
        assert.ok(Number(epoch) >= 1, `lease epoch ${epoch}`);
      }
      const d = await json('topics', 'describe', TOPIC, ...broker());
      assert.deepEqual(
        d.partitions.map((p: any) => [p.partition, p.leader, p.logStartOffset, p.highWatermark]),
        HW.map((hw, i) => [i, 0, 0, hw]),
      );
      await fails(1, /^streamhouse: unknown topic "nope"\n$/, 'topics', 'describe', 'nope', ...broker());
      const after = await json('topics', ...broker());
      assert.ok(!after.topics.some((x: any) => x.name === 'nope'), 'describing an unknown topic does not create it');
    });

    test('broker mode: groups, groups describe, lag', async () => {
      const list = await ok('groups', ...broker());
      const [, state, protocolType, , coordinator, members] = row(list, GROUP);
      assert.deepEqual([state, protocolType, coordinator, members], ['Stable', 'consumer', '0', '1']);
      const d = await json('groups', 'describe', GROUP, ...broker());
      assert.equal(d.state, 'Stable');
      assert.equal(d.memberList.length, 1);
      assert.equal(d.memberList[0].clientId, 'admin-e2e');
      assert.deepEqual(d.memberList[0].assignment, [{ topic: TOPIC, partitions: [0, 1, 2] }]);
      assert.match(await ok('groups', 'describe', GROUP, ...broker()), /orders:0-2/);

      const lag = await ok('lag', ...broker());
      for (let p = 0; p < 3; p++) assert.deepEqual(row(lag, GROUP, TOPIC, String(p)).slice(3), [String(FIRST[p]), String(HW[p]), String(MORE[p])]);
      assert.deepEqual(row(lag, GROUP, 'Stable').slice(2), ['3', '6']);
      const j = await json('lag', '--group', GROUP, ...broker());
      assert.equal(j.groups.length, 1);
      assert.equal(j.groups[0].totalLag, 6);
      assert.deepEqual(
        j.groups[0].partitions.map((p: any) => [p.partition, p.committedOffset, p.highWatermark, p.lag]),
        [0, 1, 2].map((p) => [p, FIRST[p], HW[p], MORE[p]]),
      );
      await fails(1, /unknown group "nobody"/, 'groups', 'describe', 'nobody', ...broker());
    });

    test('broker mode: agents, configs; leases and segments need the database', async () => {
      const agents = await json('agents', ...broker());
      assert.deepEqual(agents.agents.map((a: any) => [a.nodeId, a.host, a.port, a.live, a.partitionLeases]), [[0, '127.0.0.1', agent.port, true, 5]]);
      assert.deepEqual(row(await ok('agents', ...broker()), '0').slice(0, 3), ['0', agent.bootstrap, '-']);

      const configs = await ok('configs', TOPIC, ...broker());
      assert.deepEqual(row(configs, 'retention.ms'), ['retention.ms', '3600000', 'topic']);
      assert.deepEqual(row(configs, 'cleanup.policy'), ['cleanup.policy', 'delete', 'default']);
      const overview = await json('configs', ...broker());
      assert.equal(overview.brokerNode, 0);
      assert.ok(overview.brokerConfigs.some((c: any) => c.name === 'num.partitions'));
      assert.deepEqual(overview.topicOverrides, [{ topic: TOPIC, name: 'retention.ms', value: '3600000' }]);

      await fails(2, /leases reads the metadata database.*--database-url/, 'leases', ...broker());
      await fails(2, /segments reads the metadata database/, 'segments', ...broker());
    });

    test('usage and connection errors: one line, no stack trace', async () => {
      await fails(2, /say where to read from: --bootstrap-server/, 'topics');
      await fails(2, /cannot be used together/, 'topics', ...broker(), '--data-dir', '/tmp');
      await fails(1, /cannot connect to broker 127\.0\.0\.1:1: connection refused/, 'topics', '--bootstrap-server', '127.0.0.1:1');
      await fails(1, /cannot read the metadata database at postgres:\/\/u@127\.0\.0\.1:1\/db/, 'agents', '--database-url', 'postgres://u:p@127.0.0.1:1/db');
      await fails(1, /no embedded metadata database in \/nonexistent/, 'topics', '--data-dir', '/nonexistent/dir');
      if (backend.postgres) {
        const empty = await backend.postgres.createDatabase();
        await fails(1, /has no StreamHouse metadata \(no agent has started on it yet/, 'topics', '--database-url', empty);
      }
    });

    if (backendName === 'embedded') {
      test('embedded: --data-dir while the agent runs is refused, naming --bootstrap-server', async () => {
        await fails(1, new RegExp(`locked by a running agent \\(process ${agent.pid}\\).*--bootstrap-server`), 'topics', ...databaseArgs);
      });
    }

    const databaseChecks = async (agentRunning: boolean) => {
      const topics = await json('topics', ...databaseArgs);
      assert.equal(topics.source, 'database');
      const t = topics.topics.find((x: any) => x.name === TOPIC);
      assert.deepEqual([t.partitions, t.records], [3, 66]);
      assert.ok(t.segments >= 3, `segments ${t.segments}`);
      assert.ok(t.sizeBytes > 0 && t.storedBytes > 0);
      assert.deepEqual(row(await ok('topics', ...databaseArgs), EMPTY_TOPIC).slice(0, 6), [EMPTY_TOPIC, '2', '0', '0 B', '0 B', '0']);

      const d = await json('topics', 'describe', TOPIC, ...databaseArgs);
      assert.deepEqual(d.configOverrides, { 'retention.ms': '3600000' });
      assert.deepEqual(
        d.partitions.map((p: any) => [p.partition, p.logStartOffset, p.highWatermark, p.records]),
        HW.map((hw, i) => [i, 0, hw, hw]),
      );
      for (const p of d.partitions) {
        assert.ok(p.segments >= 1 && p.leaderEpoch >= 1 && typeof p.leaseHolder === 'string');
        assert.equal(p.leader, agentRunning ? 0 : null, 'leader: the holder of an unexpired lease');
      }
      assert.match(await ok('topics', 'describe', TOPIC, ...databaseArgs), /^Config overrides: retention\.ms=3600000$/m);

      const groups = await ok('groups', ...databaseArgs);
      assert.equal(row(groups, GROUP)[2], 'consumer');
      const g = await json('groups', 'describe', GROUP, ...databaseArgs);
      assert.ok(g.generation >= 1);
      assert.equal(typeof g.shard, 'number');
      assert.equal(g.coordinator, agentRunning ? 0 : null, 'the node holding the shard lease');
      if (agentRunning) {
        assert.equal(g.state, 'Stable');
        assert.deepEqual(g.memberList.map((m: any) => m.assignment), [[{ topic: TOPIC, partitions: [0, 1, 2] }]]);
      }

      const lag = await ok('lag', '--group', GROUP, ...databaseArgs);
      for (let p = 0; p < 3; p++) assert.deepEqual(row(lag, GROUP, TOPIC, String(p)).slice(3), [String(FIRST[p]), String(HW[p]), String(MORE[p])]);
      const lj = await json('lag', ...databaseArgs);
      assert.equal(lj.groups.find((x: any) => x.groupId === GROUP).totalLag, 6);
      assert.equal((await json('lag', '--topic', EMPTY_TOPIC, ...databaseArgs)).groups.find((x: any) => x.groupId === GROUP).partitions.length, 0);

      const segs = await json('segments', '--topic', TOPIC, ...databaseArgs);
      assert.deepEqual(segs.partitions.map((p: any) => p.partition), [0, 1, 2]);
      for (const p of segs.partitions) {
        assert.equal(p.segments[0].baseOffset, 0);
        assert.equal(p.segments.at(-1).lastOffset, HW[p.partition] - 1);
        assert.equal(p.segments.reduce((a: number, s: any) => a + s.records, 0), HW[p.partition]);
        assert.ok(p.segments.every((s: any) => s.objectKey.length > 0 && s.storedBytes > 0));
      }
      const one = await ok('segments', '--topic', TOPIC, '--partition', '2', '--limit', '1', ...databaseArgs);
      assert.equal(rows(one).filter((r) => r[0] === TOPIC).length, 1);
      assert.match(one, /orders-2: 1 of \d+ segments listed/);
      await fails(1, /topic "orders" has no partition 7/, 'segments', '--topic', TOPIC, '--partition', '7', ...databaseArgs);

      const configs = await ok('configs', TOPIC, ...databaseArgs);
      assert.deepEqual(row(configs, 'retention.ms'), ['retention.ms', '3600000', 'topic']);
      assert.deepEqual((await json('configs', ...databaseArgs)).topicOverrides, [{ topic: TOPIC, name: 'retention.ms', value: '3600000' }]);

      await fails(1, /^streamhouse: unknown topic "nope"\n$/, 'topics', 'describe', 'nope', ...databaseArgs);
      await fails(1, /^streamhouse: unknown group "nobody"\n$/, 'lag', '--group', 'nobody', ...databaseArgs);
    };

    if (backendName === 'postgres+s3') {
      test('PostgreSQL: every command reads the database while the agent runs; agents and leases', async () => {
        await databaseChecks(true);
        const agents = await json('agents', ...databaseArgs);
        assert.equal(agents.agents.length, 1);
        const a = agents.agents[0];
        assert.deepEqual([a.nodeId, a.host, a.port, a.status, a.live, a.partitionLeases, a.coordinatorShards], [0, '127.0.0.1', agent.port, 'live', true, 5, 50]);
        assert.ok(agents.databaseTime - a.lastHeartbeat < 6000);
        const table = await ok('agents', ...databaseArgs);
        assert.deepEqual(row(table, a.agentId).slice(1, 5), ['0', agent.bootstrap, '-', 'live']);

        const leases = await json('leases', ...databaseArgs);
        const mine = leases.partitionLeases.filter((l: any) => l.topic === TOPIC);
        assert.deepEqual(mine.map((l: any) => [l.partition, l.holder, l.holderNode, l.valid]), [0, 1, 2].map((p) => [p, a.agentId, 0, true]));
        assert.ok(mine.every((l: any) => l.expiresAt > leases.databaseTime));
        assert.equal(leases.coordinatorLeases.filter((l: any) => l.kind === 'shard' && l.valid && l.holder === a.agentId).length, 50);
        const lt = await ok('leases', '--topic', TOPIC, ...databaseArgs);
        assert.deepEqual(row(lt, TOPIC, '0').slice(2, 6), [a.agentId, '0', String(mine[0].epoch), 'held']);
        assert.match(lt, /^Database clock: \d{4}-\d\d-\d\dT/m);
      });
    } else {
      test('embedded: with the agent stopped, every command reads the data directory', async () => {
        await consumer!.disconnect();
        consumer = undefined;
        await producer.disconnect();
        await agent.stop();
        await databaseChecks(false);
        assert.deepEqual((await json('agents', ...databaseArgs)).agents, [], 'a clean stop removes the agent row');
        const leases = await json('leases', ...databaseArgs);
        assert.ok(leases.partitionLeases.length >= 5 && leases.partitionLeases.every((l: any) => !l.valid), 'released on stop');
      });
    }
  });
}

