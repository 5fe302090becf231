// test-file-timeout-ms: 900000
// Exactly-once under kill -9 (issue 16). A confluent-kafka (Debian's librdkafka) consume-transform-
// produce loop — read_committed consumer, transactional producer, offsets sent in each transaction —
// copies every record of an input topic to an output topic while agents are killed with SIGKILL
// mid-transaction: on PostgreSQL + S3, three agents, the agent coordinating the transactional id and
// then the leaders of output partitions, each restarted on its data directory; on the embedded
// configuration, the one agent, restarted. At the end a read_committed reader of the output sees every
// input record exactly once (aborted attempts and fenced producers' writes are invisible), and the
// group's committed offsets are at the end of the input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { RawClient } from '../helpers/raw-client.js';
import { spawnTracked } from '../helpers/reaper.js';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 3;
const RECORDS = 900;
const TXN_ID = 'eos-chaos';

/**
 * The exactly-once processor: transactions of up to 10 records; an abortable error aborts the
 * transaction and rewinds the consumer to the committed offsets; a fatal one (fenced) makes a new
 * consumer and producer (same transactional id: the new instance fences the old). Stops once the
 * committed offsets reach the input's end. Prints one JSON line per event.
 */
const PROCESSOR_PY = `
import json, sys, time
from confluent_kafka import Consumer, Producer, KafkaException, TopicPartition
brokers, src, dst, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def say(**kw): print(json.dumps(kw), flush=True)
def make():
    c = Consumer({"bootstrap.servers": brokers, "group.id": "eos", "isolation.level": "read_committed",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
    c.assign([TopicPartition(src, p) for p in range(${PARTITIONS})])
    p = Producer({"bootstrap.servers": brokers, "transactional.id": "${TXN_ID}", "transaction.timeout.ms": 60000,
                  "linger.ms": 5, "message.timeout.ms": 60000})
    p.init_transactions(60)
    return c, p
def committed_total(c):
    got = c.committed([TopicPartition(src, p) for p in range(${PARTITIONS})], timeout=30)
    return sum(max(tp.offset, 0) for tp in got)
def rewind(c):
    for tp in c.committed([TopicPartition(src, p) for p in range(${PARTITIONS})], timeout=30):
        c.seek(TopicPartition(src, tp.partition, max(tp.offset, 0)))
c, p = make()
commits = aborts = restarts = 0
deadline = time.time() + 600
while time.time() < deadline:
    try:
        if committed_total(c) >= total: break
        msgs = [m for m in c.consume(10, 1.0) if m.error() is None]
        if not msgs: continue
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, value=b"out-" + m.value(), partition=m.partition())
        # Paced, so the kills land in the middle of transactions (records sent, not yet committed).
        p.flush(30)
        time.sleep(0.1)
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        p.commit_transaction(60)
        commits += 1
    except KafkaException as e:
        err = e.args[0]
        say(error=err.str(), fatal=err.fatal(), abortable=err.txn_requires_abort(), retriable=err.retriable())
        try:
            if err.fatal():
                raise err
            p.abort_transaction(60)
            aborts += 1
            rewind(c)
        except Exception as e2:
            say(restart=str(e2))
            try: c.close()
            except Exception: pass
            while True:
                try:
                    c, p = make()
                    break
                except Exception as e3:
                    say(make_failed=str(e3)); time.sleep(1)
            restarts += 1
say(done=True, commits=commits, aborts=aborts, restarts=restarts, committed=committed_total(c))
c.close()
`;

for (const backendName of BACKENDS) {
  describe(`exactly-once under kill -9 (${backendName})`, { timeout: 12 * 60_000 }, () => {
    let backend: Backend;
    const agents: AgentHandle[] = [];
    const dirs: string[] = [];
    const logs: Array<{ name: string; output: () => string }> = [];
    let passed = false;
    const count = backendName === 'embedded' ? 1 : 3;

    before(async () => {
      backend = await startBackend(backendName);
      for (let i = 0; i < count; i++) {
        dirs.push(mkdtempSync(join(tmpdir(), 'streamhouse-txn-chaos-')));
        agents.push(await startAgent({ env: backend.env, args: ['--node-id', String(i)], dataDir: dirs[i], cleanup: false }));
        logs.push({ name: `agent-${i}-0`, output: agents[i]!.output });
      }
      const c = await RawClient.connect(agents[0]!.port);
      for (const name of ['eos-in', 'eos-out']) {
        const r = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false });
        assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
      }
      c.close();
    });

    after(async () => {
      await Promise.all(agents.map((a) => a.stop('SIGKILL').catch(() => undefined)));
      if (!passed && logs.length > 0) {
        const dir = mkdtempSync(join(tmpdir(), 'streamhouse-txn-chaos-logs-'));
        for (const l of logs) writeFileSync(join(dir, `${l.name}.log`), l.output());
        console.log(`# txn chaos: agent logs in ${dir}`);
      }
      await backend?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    /** The node id coordinating the transactional id, as FindCoordinator answers it. */
    const coordinatorNode = async (): Promise<number> => {
      for (const a of agents) {
        try {
          const c = await RawClient.connect(a.port);
          try {
            const r = await c.request(ApiKey.FindCoordinator, 3, { key: TXN_ID, keyType: 1 });
            if (r.errorCode === ErrorCode.NONE && r.nodeId! >= 0) return r.nodeId!;
          } finally {
            c.close();
          }
        } catch {
          // that agent is down: ask another
        }
      }
      return 0;
    };

    test('every input record exactly once in the read_committed output; offsets at the input end', async () => {
      const brokers = agents.map((a) => a.bootstrap).join(',');
      const kafka = new Kafka({ clientId: 'txn-chaos', brokers: agents.map((a) => a.bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 } });
      const seed = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await seed.connect();
      for (let i = 0; i < RECORDS; i += 100) {
        await seed.send({ topic: 'eos-in', acks: -1, messages: Array.from({ length: 100 }, (_, j) => ({ value: `in-${i + j}`, partition: (i + j) % PARTITIONS })) });
      }
      await seed.disconnect();

      let out = '';
      let err = '';
      const proc = spawnTracked('/usr/bin/python3', ['-c', PROCESSOR_PY, brokers, 'eos-in', 'eos-out', String(RECORDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));

      // Mid-transaction kills: the coordinator of the transactional id, then (on the cluster) other
      // agents, which lead output partitions; each comes back after a second.
      const kills: string[] = [];
      let running = true;
      void exited.then(() => (running = false));
      for (let k = 0; k < 4 && running; k++) {
        await new Promise((r) => setTimeout(r, 2500));
        if (!running) break;
        const node = k % 2 === 0 ? await coordinatorNode() : (k % count);
        const i = Math.min(Math.max(node, 0), count - 1);
        kills.push(`agent ${i}${k % 2 === 0 ? ' (coordinator)' : ''}`);
        await agents[i]!.stop('SIGKILL');
        await new Promise((r) => setTimeout(r, 1000));
        agents[i] = await agents[i]!.restart('SIGKILL');
        logs.push({ name: `agent-${i}-${k + 1}`, output: agents[i]!.output });
      }
      const code = await exited;
      const events = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const done = events.find((e) => e.done === true);
      console.log(`# txn chaos (${backendName}): kills: ${kills.join(', ')}; processor: ${JSON.stringify(done)}; errors: ${events.filter((e) => e.error).length}`);
      assert.equal(code, 0, err.slice(-2000));
      assert.ok(done !== undefined, out.slice(-2000));
      assert.equal(done.committed, RECORDS);

      const r = await kcat(['-b', brokers, '-C', '-t', 'eos-out', '-o', 'beginning', '-e', '-J', '-X', 'isolation.level=read_committed'], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      const values = parseJsonLines(r.stdout).map((m) => m.payload as string);
      const counts = new Map<string, number>();
      for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
      const dupes = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
      assert.deepEqual(dupes, [], 'no output record twice');
      const expected = Array.from({ length: RECORDS }, (_, i) => `out-in-${i}`).sort();
      assert.deepEqual(values.sort(), expected);
      passed = true;
    });
  });
}

describe('a decided transaction survives its coordinator (2 agents, PostgreSQL + S3)', { timeout: 5 * 60_000 }, () => {
  let backend: Backend;
  const agents: AgentHandle[] = [];
  const dirs: string[] = [];

  before(async () => {
    backend = await startBackend('postgres+s3');
    for (let i = 0; i < 2; i++) {
      dirs.push(mkdtempSync(join(tmpdir(), 'streamhouse-txn-fo-')));
      agents.push(await startAgent({ env: backend.env, args: ['--node-id', String(i)], dataDir: dirs[i], cleanup: false }));
    }
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL').catch(() => undefined)));
    await backend?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('PrepareCommit stored, coordinator killed before any marker: the next owner writes the markers', async () => {
    const kafka = new Kafka({ clientId: 'txn-fo', brokers: agents.map((a) => a.bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'fo', numPartitions: 2 }] });
    await admin.disconnect();
    const producer = kafka.producer({ transactionalId: 'fo-txn', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic: 'fo', messages: [{ value: 'fo-0', partition: 0 }, { value: 'fo-1', partition: 1 }] });
    // The coordinator dies right after storing its decision: kill it, then store the decision as
    // EndTxn would have (the row under the shard lease it held).
    let coordinator = -1;
    for (let i = 0; i < agents.length && coordinator < 0; i++) {
      const c = await RawClient.connect(agents[i]!.port);
      const r = await c.request(ApiKey.FindCoordinator, 3, { key: 'fo-txn', keyType: 1 });
      c.close();
      if (r.errorCode === ErrorCode.NONE) coordinator = r.nodeId!;
    }
    assert.ok(coordinator === 0 || coordinator === 1);
    await agents[coordinator]!.stop('SIGKILL');
    await producer.disconnect().catch(() => {});
    const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
    await db.connect();
    try {
      const u = await db.query(`UPDATE transactions SET state = 'PrepareCommit' WHERE transactional_id = 'fo-txn' AND state = 'Ongoing'`);
      assert.equal(u.rowCount, 1);
      agents[coordinator] = await agents[coordinator]!.restart('SIGKILL');
      // Whichever agent owns the shard now finds the decided transaction and writes its markers.
      let state = '';
      for (let i = 0; i < 600 && state !== 'CompleteCommit'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = (await db.query(`SELECT state FROM transactions WHERE transactional_id = 'fo-txn'`)).rows[0]?.state as string;
      }
      assert.equal(state, 'CompleteCommit');
    } finally {
      await db.end();
    }
    const r = await kcat(['-b', agents.map((a) => a.bootstrap).join(','), '-C', '-t', 'fo', '-o', 'beginning', '-e', '-J', '-X', 'isolation.level=read_committed']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseJsonLines(r.stdout).map((m) => m.payload).sort(), ['fo-0', 'fo-1']);
  });
});
