// Log compaction of transactional data end to end on both configurations: a kafkajs transactional
// producer writes committed and aborted transactions with repeated keys and a tombstone to a compacted
// topic; once cleaned, read_uncommitted and read_committed readers (kafkajs and kcat) read exactly the
// newest committed value per key with its original timestamp (batches with a delete horizon carry it
// in their base timestamp), no aborted record, no tombstoned key after delete.retention.ms, offsets
// with gaps; and the transactional producer goes on producing afterwards. The same with a librdkafka
// transactional producer (python3-confluent-kafka), which treats sequence or epoch errors as fatal,
// across a kill -9 of the agent between cleaning and its next transactions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { waitFor } from '../helpers/wait.js';
import { spawnTracked } from '../helpers/reaper.js';

const { Kafka, logLevel } = kafkajs;

const ARGS = ['--compaction-interval-ms', '200'];

// A librdkafka transactional producer: phase 1, then (after a line on stdin) phase 2 with the same
// producer id, epoch and sequence numbers.
const RD_PRODUCER_PY = `
import json, sys, time
from confluent_kafka import Producer
brokers, topic = sys.argv[1], sys.argv[2]
def say(**kw): print(json.dumps(kw), flush=True)
p = Producer({"bootstrap.servers": brokers, "transactional.id": "compact-rd", "linger.ms": 5, "message.timeout.ms": 30000})
def txn(commit, entries):
    p.begin_transaction()
    for k, v in entries:
        p.produce(topic, key=k, value=v, partition=0)
    if commit: p.commit_transaction(30)
    else: p.abort_transaction(30)
try:
    p.init_transactions(30)
    txn(True, [("r0", "c1-0"), ("r1", "c1-1"), ("r2", "c1-2"), ("r3", "c1-3")])
    txn(False, [("r0", "ab-0"), ("r1", "ab-1"), ("r9", "ab-9")])
    txn(True, [("r0", "c3-0"), ("r1", None)])
    txn(True, [("r4", "c4-4")])
    say(phase=1)
    sys.stdin.readline()
    txn(True, [("r2", "after-2")])
    txn(False, [("r3", "ab-after")])
    time.sleep(0.05)
    txn(True, [("rlast", "active-2")])
    say(phase=2)
except Exception as e:
    say(error=str(e))
    sys.exit(1)
`;

for (const backendName of BACKENDS) {
  describe(`compaction of transactions (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: InstanceType<typeof Kafka>;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env, args: ARGS });
      kafka = new Kafka({ clientId: 'compact-txn-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
    });
    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    type Read = { key: string; value: string | null; offset: number; ts: number };
    const kcatRead = async (topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<Read[]> => {
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-Z', '-X', `isolation.level=${isolation}`]);
      assert.equal(r.code, 0, r.stderr);
      return parseJsonLines(r.stdout).map((m) => ({ key: m.key as string, value: m.payload as string | null, offset: m.offset as number, ts: m.ts as number }));
    };
    const kafkajsRead = async (topic: string, readUncommitted: boolean, count: number): Promise<Read[]> => {
      const consumer = kafka.consumer({ groupId: `reader-${readUncommitted}-${Date.now()}`, readUncommitted });
      const seen: Read[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push({ key: message.key!.toString(), value: message.value?.toString() ?? null, offset: Number(message.offset), ts: Number(message.timestamp) });
            if (seen.length >= count && timer === undefined) timer = setTimeout(resolve, 1000);
          },
        });
      });
      await consumer.disconnect();
      return seen;
    };
    const view = (rs: Read[]) => rs.map((r) => `${r.key}=${r.value}@${r.ts}`).sort();
    /** One partition, cleaned as soon as possible: every row rolled, no lag, tombstones kept 1 s. */
    const createCompactedTopic = async (topic: string) => {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.ms', value: '1' },
          { name: 'min.compaction.lag.ms', value: '0' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'delete.retention.ms', value: '1000' },
        ] }],
      });
      await admin.disconnect();
    };

    test('committed transactions compacted, aborted ones gone, tombstones gone after the horizon; the producer goes on', async () => {
      const topic = 'compacted-txn';
      await createCompactedTopic(topic);

      const producer = kafka.producer({ transactionalId: 'compact-txn-1', maxInFlightRequests: 1, idempotent: true });
      await producer.connect();
      const T0 = Date.now() - 60_000;
      let n = 0;
      const expected = new Map<string, { value: string | null; ts: number }>();
      const txn = async (commit: boolean, entries: Array<[string, string | null]>) => {
        const t = await producer.transaction();
        const messages = entries.map(([key, value]) => ({ key, value, timestamp: String(T0 + ++n) }));
        await t.send({ topic, messages });
        if (commit) {
          await t.commit();
          for (const m of messages) expected.set(m.key, { value: m.value, ts: Number(m.timestamp) });
        } else await t.abort();
      };
      await txn(true, [['k0', 'c1-0'], ['k1', 'c1-1'], ['k2', 'c1-2'], ['k3', 'c1-3'], ['k4', 'c1-4']]);
      await txn(false, [['k0', 'ab-0'], ['k1', 'ab-1'], ['k9', 'ab-9']]);
      await txn(true, [['k0', 'c3-0'], ['k1', null], ['k2', 'c3-2']]);
      await txn(false, [['k3', 'ab-3']]);
      await txn(true, [['k4', 'c5-4'], ['k4', 'c5-4b']]);
      // The newest row is the active segment and is never cleaned: end with a key of its own.
      await new Promise((res) => setTimeout(res, 50));
      await txn(true, [['last', 'active']]);
      const newest = () => view([...expected].filter(([, v]) => v.value !== null).map(([key, v]) => ({ key, value: v.value, offset: 0, ts: v.ts })));

      // Cleaned: no aborted record even read_uncommitted, one record per key, the tombstone gone.
      let last: Read[] = [];
      const cleaned = await waitFor('aborted records, superseded ones and the tombstone gone', async () => {
        const got = (last = await kcatRead(topic, 'read_uncommitted'));
        const keys = got.map((m) => m.key);
        if (got.some((m) => m.value?.startsWith('ab-'))) return false;
        if (new Set(keys).size !== keys.length) return false;
        if (got.some((m) => m.value === null)) return false;
        return got;
      }, 30_000).catch((err: unknown) => {
        console.error('last read:', JSON.stringify(last), '\nagent log:', agent.output().split('\n').filter((l) => /compact|producer|warn|error/i.test(l)).slice(-30).join('\n'));
        throw err;
      });
      assert.deepEqual(view(cleaned), newest(), 'kcat read_uncommitted: the newest committed value per key, original timestamps');
      assert.deepEqual(view(await kcatRead(topic, 'read_committed')), newest(), 'kcat read_committed: the same');
      for (let i = 1; i < cleaned.length; i++) assert.ok(cleaned[i]!.offset > cleaned[i - 1]!.offset, 'offsets ascend');
      assert.ok(cleaned.some((m, i) => i > 0 && m.offset > cleaned[i - 1]!.offset + 1), 'offsets keep their gaps');
      const count = newest().length;
      const [committedRead, uncommittedRead] = await Promise.all([kafkajsRead(topic, false, count), kafkajsRead(topic, true, count)]);
      assert.deepEqual(view(committedRead), newest(), 'kafkajs read_committed');
      assert.deepEqual(view(uncommittedRead), newest(), 'kafkajs read_uncommitted');
      assert.match(agent.output(), /"msg":"compacted"/);

      // The same transactional producer goes on (its sequence numbers and epoch still check out).
      await txn(true, [['k3', 'after-3']]);
      await txn(false, [['k2', 'ab-after']]);
      await txn(true, [['k5', 'after-5']]);
      await new Promise((res) => setTimeout(res, 50));
      await txn(true, [['last', 'active-2']]);
      await producer.disconnect();
      const again = await waitFor('cleaned once more', async () => {
        const got = await kcatRead(topic, 'read_uncommitted');
        const keys = got.map((m) => m.key);
        if (got.some((m) => m.value?.startsWith('ab-')) || new Set(keys).size !== keys.length) return false;
        return got;
      }, 60_000);
      assert.deepEqual(view(again), newest());
      assert.deepEqual(view(await kafkajsRead(topic, false, newest().length)), newest());
      assert.doesNotMatch(agent.output(), /OUT_OF_ORDER_SEQUENCE|INVALID_PRODUCER_EPOCH|compaction failed/);
    });

    test('a librdkafka transactional producer: cleaned between its transactions, it goes on without a sequence or epoch error', async () => {
      const topic = 'compacted-rd';
      await createCompactedTopic(topic);
      let out = '';
      let err = '';
      const proc = spawnTracked('/usr/bin/python3', ['-c', RD_PRODUCER_PY, agent.bootstrap, topic], { stdio: ['pipe', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
      const said = () => `stdout: ${out}\nstderr: ${err.slice(-2000)}`;
      await waitFor('phase 1 produced', () => out.includes('"phase": 1') || out.includes('"error"'), 60_000);
      assert.ok(out.includes('"phase": 1'), said());
      // Another producer (kcat) supersedes the transactional producer's last batch, so the cleaner
      // empties it (and must keep it), then writes the active row.
      for (const line of ['r4:kcat-4', 'rlast:active']) {
        const r = await kcat(['-b', agent.bootstrap, '-P', '-t', topic, '-p', '0', '-K', ':'], { input: line + '\n' });
        assert.equal(r.code, 0, r.stderr);
      }
      const values = (rs: Read[]) => rs.map((r) => `${r.key}=${r.value}`).sort();
      const clean = (rs: Read[]) => !rs.some((m) => m.value?.startsWith('ab-') || m.value === null) && new Set(rs.map((m) => m.key)).size === rs.length;
      const first = await waitFor('cleaned', async () => {
        const got = await kcatRead(topic, 'read_uncommitted');
        return clean(got) && got;
      }, 60_000);
      const expected1 = ['r0=c3-0', 'r2=c1-2', 'r3=c1-3', 'r4=kcat-4', 'rlast=active'];
      assert.deepEqual(values(first), expected1);
      assert.deepEqual(values(await kcatRead(topic, 'read_committed')), expected1);

      // kill -9: the next leader rebuilds the producer's state from its snapshot and the cleaned log (the
      // producer's last batch was kept), and the producer's next sequence numbers must follow it.
      agent = await agent.restart('SIGKILL');
      proc.stdin!.write('go\n');
      const code = await exited;
      assert.equal(code, 0, said());
      assert.ok(out.includes('"phase": 2'), said());
      const expected2 = ['r0=c3-0', 'r2=after-2', 'r3=c1-3', 'r4=kcat-4', 'rlast=active-2'];
      const second = await waitFor('cleaned again', async () => {
        const got = await kcatRead(topic, 'read_uncommitted');
        return clean(got) && values(got).join() === expected2.join() && got;
      }, 60_000);
      assert.deepEqual(values(second), expected2);
      assert.deepEqual(values(await kcatRead(topic, 'read_committed')), expected2);
      assert.deepEqual(values(await kafkajsRead(topic, false, expected2.length)), expected2, 'kafkajs read_committed');
    });
  });
}
