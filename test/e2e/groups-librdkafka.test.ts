// Consumer groups with librdkafka 2.0.2 against the real agent, on both configurations: `kcat -G` and
// confluent-kafka Python consumers share a 12-partition topic; a member killed with SIGKILL is expired
// after its session timeout and the others take over; every record is consumed and committed offsets
// hold across a clean stop; static members (group.instance.id) restart without the others rebalancing,
// and a second instance with the same id fences the first; live members rejoin after an agent restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { spawnTracked } from '../helpers/reaper.js';
import kafkajs from 'kafkajs';
import { decodeAssignment } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 12;
const PYTHON = '/usr/bin/python3';

// One confluent-kafka consumer: JSON lines for assignments, revocations, errors and every record; a
// SIGTERM closes it cleanly (final commit, LeaveGroup unless static).
const CONSUMER_PY = `
import json, signal, sys
from confluent_kafka import Consumer
conf = json.loads(sys.argv[1])
topic = sys.argv[2]
def out(o):
    sys.stdout.write(json.dumps(o) + "\\n")
    sys.stdout.flush()
conf["error_cb"] = lambda err: out({"event": "error", "error": str(err), "fatal": err.fatal()})
c = Consumer(conf)
c.subscribe([topic],
    on_assign=lambda c, ps: out({"event": "assign", "partitions": sorted(p.partition for p in ps)}),
    on_revoke=lambda c, ps: out({"event": "revoke", "partitions": sorted(p.partition for p in ps)}))
running = [True]
signal.signal(signal.SIGTERM, lambda *a: running.__setitem__(0, False))
out({"event": "started"})
while running[0]:
    m = c.poll(0.1)
    if m is None:
        continue
    if m.error():
        out({"event": "error", "error": str(m.error()), "fatal": m.error().fatal()})
        continue
    out({"event": "record", "p": m.partition(), "o": m.offset(), "v": m.value().decode()})
c.close()
out({"event": "closed"})
`;

interface Record_ {
  partition: number;
  offset: number;
  value: string;
}

/** A consumer process (python or kcat) and what it reported. */
class ConsumerProcess {
  readonly records: Record_[] = [];
  readonly assigns: number[][] = [];
  readonly revokes: number[][] = [];
  readonly errors: string[] = [];
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(
    readonly clientId: string,
    private readonly child: ChildProcess,
    kind: 'python' | 'kcat',
  ) {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const o = JSON.parse(line) as Record<string, unknown>;
        if (kind === 'kcat') this.records.push({ partition: o.partition as number, offset: o.offset as number, value: o.payload as string });
        else if (o.event === 'record') this.records.push({ partition: o.p as number, offset: o.o as number, value: o.v as string });
        else if (o.event === 'assign') this.assigns.push(o.partitions as number[]);
        else if (o.event === 'revoke') this.revokes.push(o.partitions as number[]);
        else if (o.event === 'error') this.errors.push(String(o.error));
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static python(bootstrap: string, groupId: string, topic: string, clientId: string, extra: Record<string, string | number> = {}): ConsumerProcess {
    const conf = {
      'bootstrap.servers': bootstrap,
      'group.id': groupId,
      'client.id': clientId,
      'auto.offset.reset': 'earliest',
      'session.timeout.ms': 6000,
      'heartbeat.interval.ms': 300,
      'enable.auto.commit': true,
      'auto.commit.interval.ms': 200,
      ...extra,
    };
    const child = spawnTracked(PYTHON, ['-c', CONSUMER_PY, JSON.stringify(conf), topic], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new ConsumerProcess(clientId, child, 'python');
  }

  static kcat(bootstrap: string, groupId: string, topic: string, clientId: string): ConsumerProcess {
    const child = spawnTracked(
      'kcat',
      // No -o: kcat would apply it to every assignment instead of resuming from committed offsets. -u: a
      // pipe would otherwise hold the last few kB of records in kcat's stdio buffer.
      ['-b', bootstrap, '-G', groupId, '-J', '-q', '-u', '-X', 'auto.offset.reset=earliest', '-X', `client.id=${clientId}`, '-X', 'session.timeout.ms=6000', '-X', 'heartbeat.interval.ms=300', '-X', 'auto.commit.interval.ms=200', topic],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return new ConsumerProcess(clientId, child, 'kcat');
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The partitions it holds by its own account (its last assignment), python only. */
  get assigned(): number[] | undefined {
    return this.assigns.at(-1);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

for (const backendName of BACKENDS) {
  describe(`consumer groups with librdkafka (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;
    let admin: kafkajs.Admin;
    const procs: ConsumerProcess[] = [];
    const tag = backendName.replace(/\W/g, '');

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      kafka = new Kafka({ clientId: 'groups-rdk', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
      admin = kafka.admin();
      await admin.connect();
    });

    after(async () => {
      for (const p of procs) await p.stop('SIGKILL');
      await admin?.disconnect();
      await agent?.stop();
      await backend?.stop();
    });

    const python = (groupId: string, topic: string, clientId: string, extra?: Record<string, string | number>) => {
      const p = ConsumerProcess.python(agent.bootstrap, groupId, topic, clientId, extra);
      procs.push(p);
      return p;
    };

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

    /** The group as DescribeGroups shows it: Stable with these client ids, partitions by client id. */
    const stableWith = (groupId: string, topic: string, clientIds: string[], timeoutMs = 60_000) =>
      waitFor(`group ${groupId} stable with ${clientIds}`, async () => {
        const g = (await admin.describeGroups([groupId])).groups[0];
        if (g.state !== 'Stable' || g.members.length !== clientIds.length) return undefined;
        const byClient = new Map<string, { memberId: string; partitions: number[] }>();
        for (const m of g.members) {
          const parts = decodeAssignment(m.memberAssignment).assignment.assignedPartitions.filter((tp) => tp.topic === topic).flatMap((tp) => tp.partitions);
          byClient.set(m.clientId, { memberId: m.memberId, partitions: parts.sort((a, b) => a - b) });
        }
        if (!clientIds.every((c) => byClient.has(c))) return undefined;
        return byClient;
      }, timeoutMs);

    const allPartitions = Array.from({ length: PARTITIONS }, (_, i) => i);
    const union = (m: Map<string, { partitions: number[] }>) => [...m.values()].flatMap((x) => x.partitions).sort((a, b) => a - b);
    const values = (from: number, count: number) => Array.from({ length: count }, (_, k) => `v-${from + k}`);
    const consumedValues = (ps: ConsumerProcess[]) => new Set(ps.flatMap((p) => p.records.map((r) => r.value)));
    /** Waits until every value was consumed by one of `ps`; on timeout says which partitions lack records. */
    const waitConsumed = async (what: string, ps: ConsumerProcess[], expected: string[], timeoutMs = 60_000) => {
      try {
        await waitFor(what, () => expected.every((v) => consumedValues(ps).has(v)) || undefined, timeoutMs);
      } catch (err) {
        const got = consumedValues(ps);
        const missing = expected.filter((v) => !got.has(v)).map((v) => Number(v.slice(2)) % PARTITIONS);
        const report = ps.map((p) => `${p.clientId}: ${p.records.length} records, assigns ${JSON.stringify(p.assigns)}, errors ${JSON.stringify(p.errors.slice(-3))}, stderr ${p.stderr.slice(-500)}`);
        throw new Error(`${(err as Error).message}; missing partitions ${JSON.stringify([...new Set(missing)])}\n${report.join('\n')}`);
      }
    };

    test('kcat -G and two python consumers; SIGKILLed kcat expires after its session timeout; clean stop keeps offsets', async () => {
      const topic = `rdk-${tag}`;
      const groupId = `rdk-${tag}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
      const p1 = python(groupId, topic, 'py-1');
      const p2 = python(groupId, topic, 'py-2');
      const k = ConsumerProcess.kcat(agent.bootstrap, groupId, topic, 'kcat-1');
      procs.push(k);

      const three = await stableWith(groupId, topic, ['py-1', 'py-2', 'kcat-1']);
      assert.deepEqual(union(three), allPartitions, 'every partition exactly once');
      await waitFor('python consumers know their assignment', () => JSON.stringify(p1.assigned) === JSON.stringify(three.get('py-1')!.partitions) && JSON.stringify(p2.assigned) === JSON.stringify(three.get('py-2')!.partitions));
      await produce(topic, 0, 1200);
      await waitConsumed('1200 records', [p1, p2, k], values(0, 1200));
      assert.ok(k.records.length > 0, 'kcat consumed its share');

      // SIGKILL: no LeaveGroup. The member stays until its session times out (6 s), then the others own everything.
      const killedAt = Date.now();
      await k.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await admin.describeGroups([groupId])).groups[0].members.length, 3, 'still a member before its session timeout');
      const two = await stableWith(groupId, topic, ['py-1', 'py-2']);
      assert.ok(Date.now() - killedAt >= 5500, `expired after ${Date.now() - killedAt} ms`);
      assert.deepEqual(union(two), allPartitions);

      await produce(topic, 1200, 1200);
      await waitConsumed('all 2400 records', [p1, p2, k], values(0, 2400));

      // Clean stop: final commits, LeaveGroup.
      assert.equal(await p1.stop(), 0, p1.stderr);
      assert.equal(await p2.stop(), 0, p2.stderr);
      const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.map((p) => Number(p.offset));
      assert.deepEqual(committed, Array(PARTITIONS).fill(200));
      assert.equal((await admin.describeGroups([groupId])).groups[0].state, 'Empty');

      const p3 = python(groupId, topic, 'py-3');
      const p4 = python(groupId, topic, 'py-4');
      await stableWith(groupId, topic, ['py-3', 'py-4']);
      await produce(topic, 2400, 120);
      await waitFor('120 new records', () => p3.records.length + p4.records.length >= 120 || undefined);
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual([...p3.records, ...p4.records].map((r) => r.value).sort(), values(2400, 120).sort(), 'only the new records, once each');
      await p3.stop();
      await p4.stop();
    });

    test('static membership: a restarted member gets its partitions back without a rebalance; a duplicate instance is fenced', async () => {
      const topic = `rdk-static-${tag}`;
      const groupId = `rdk-static-${tag}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
      const staticConf = (i: number) => ({ 'group.instance.id': `instance-${i}`, 'session.timeout.ms': 10_000 });
      const s0 = python(groupId, topic, 's-0', staticConf(0));
      let s1 = python(groupId, topic, 's-1', staticConf(1));
      const s2 = python(groupId, topic, 's-2', staticConf(2));
      const before = await stableWith(groupId, topic, ['s-0', 's-1', 's-2']);
      assert.deepEqual(union(before), allPartitions);
      await waitFor('every member assigned', () => [s0, s1, s2].every((s, i) => JSON.stringify(s.assigned) === JSON.stringify(before.get(`s-${i}`)!.partitions)));
      await new Promise((r) => setTimeout(r, 1000));
      const events = () => [s0, s2].map((s) => s.assigns.length + s.revokes.length);
      const quiet = events();

      // Killed (no LeaveGroup either way for a static member) and started again with the same instance id.
      await s1.stop('SIGKILL');
      s1 = python(groupId, topic, 's-1', staticConf(1));
      await waitFor('the restarted member is assigned', () => s1.assigned !== undefined);
      assert.deepEqual(s1.assigned, before.get('s-1')!.partitions, 'its old partitions');
      const afterRestart = await stableWith(groupId, topic, ['s-0', 's-1', 's-2']);
      assert.notEqual(afterRestart.get('s-1')!.memberId, before.get('s-1')!.memberId, 'a new member id');
      for (const c of ['s-0', 's-1', 's-2']) assert.deepEqual(afterRestart.get(c)!.partitions, before.get(c)!.partitions);
      await produce(topic, 0, 120);
      await waitConsumed('120 records', [s0, s1, s2], values(0, 120));
      assert.deepEqual(events(), quiet, 'the other members were not rebalanced');

      // A second process with instance-1 while the first is alive: the first is fenced.
      const dup = python(groupId, topic, 's-1-dup', staticConf(1));
      await waitFor('the old instance is fenced', () => s1.errors.some((e) => /fenc/i.test(e)) || undefined, 30_000);
      await waitFor('the new instance is assigned', () => dup.assigned !== undefined);
      assert.deepEqual(dup.assigned, before.get('s-1')!.partitions);
      assert.deepEqual(events(), quiet, 'still no rebalance for the others');
      for (const p of [s0, s1, s2, dup]) await p.stop('SIGKILL');
    });

    test('live members rejoin after an agent restart and keep consuming', async () => {
      const topic = `rdk-live-${tag}`;
      const groupId = `rdk-live-${tag}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
      const a = python(groupId, topic, 'live-a');
      const b = python(groupId, topic, 'live-b');
      await stableWith(groupId, topic, ['live-a', 'live-b']);
      await produce(topic, 0, 120);
      await waitConsumed('120 records', [a, b], values(0, 120));
      await admin.disconnect();
      agent = await agent.restart();
      await admin.connect();
      await produce(topic, 120, 120);
      await waitConsumed('records produced after the restart', [a, b], values(120, 120), 90_000);
      const again = await stableWith(groupId, topic, ['live-a', 'live-b']);
      assert.deepEqual(union(again), allPartitions);
      await a.stop();
      await b.stop();
    });
  });
}
