// Log compaction of transactional data end to end on both configurations: a kafkajs transactional
// producer writes committed and aborted transactions with repeated keys and a tombstone to a compacted
// topic; once cleaned, read_uncommitted and read_committed readers (kafkajs and kcat) read exactly the
// newest committed value per key with its original timestamp (batches with a delete horizon carry it
// in their base timestamp), no aborted record, no tombstoned key after delete.retention.ms, offsets
// with gaps; and the transactional producer goes on producing afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;

const ARGS = ['--compaction-interval-ms', '200'];

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

    test('committed transactions compacted, aborted ones gone, tombstones gone after the horizon; the producer goes on', async () => {
      const topic = 'compacted-txn';
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.ms', value: '1' },
          { name: 'min.compaction.lag.ms', value: '0' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'delete.retention.ms', value: '2000' },
        ] }],
      });
      await admin.disconnect();

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
      assert.deepEqual(view(await kafkajsRead(topic, false, count)), newest(), 'kafkajs read_committed');
      assert.deepEqual(view(await kafkajsRead(topic, true, count)), newest(), 'kafkajs read_uncommitted');
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
  });
}
