// Storage that runs for months, end to end on both configurations: kcat and kafkajs produce to a
// compacted topic and read back exactly the newest value per key (tombstoned keys gone after
// delete.retention.ms); a kafkajs consumer group reads a merged topic, every record once; kill -9 of the
// agent while merges and cleaner passes run loses nothing, and afterwards every object in the store is
// referenced by a segment row once the registry's bounds have passed (none left behind forever).
// test-file-timeout-ms: 600000
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import type { MetadataStore } from '../../metadata/types.js';
import { createObjectStore } from '../../storage/object-store.js';
import type { ObjectStore } from '../../storage/types.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;

const ARGS = [
  '--compaction-interval-ms', '300',
  '--merge-interval-ms', '300',
  '--merge-target-bytes', '65536',
  '--merge-max-age-ms', '1000',
  // Slow merges (a few seconds each), so that the kill -9 below lands in the middle of one.
  '--merge-bytes-per-second', '65536',
  '--object-cleanup-interval-ms', '300',
  '--object-pending-timeout-ms', '2000',
  '--object-delete-grace-ms', '500',
];

for (const backendName of BACKENDS) {
  describe(`storage maintenance (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env, args: ARGS, cleanup: false });
      kafka = new Kafka({ clientId: 'storage-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    });
    after(async () => {
      await agent?.stop();
      if (agent) await rm(agent.dataDir, { recursive: true, force: true });
      await backend?.stop();
    });

    const kcatRead = async (topic: string) => {
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-Z']);
      assert.equal(r.code, 0, r.stderr);
      return parseJsonLines(r.stdout).map((m) => ({ key: m.key as string, value: m.payload as string | null, offset: m.offset as number }));
    };

    test('compacted topic: kcat and kafkajs produce; both read back the newest value per key; tombstones go after delete.retention.ms', async () => {
      const topic = 'compacted-e2e';
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.ms', value: '1' },
          { name: 'min.compaction.lag.ms', value: '0' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'delete.retention.ms', value: '3000' },
        ] }],
      });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const expected = new Map<string, string | null>();
      for (let round = 0; round < 5; round++) {
        const messages = Array.from({ length: 10 }, (_, k) => ({ key: `k${k}`, value: `js-${round}-${k}` }));
        await producer.send({ topic, messages });
        for (const m of messages) expected.set(m.key, m.value);
      }
      // kcat overwrites some keys and deletes others (-Z: an empty value is a null, a tombstone).
      const lines = ['k1:kcat-1', 'k2:kcat-2', 'k3:', 'k4:'];
      const r = await kcat(['-b', agent.bootstrap, '-P', '-t', topic, '-p', '0', '-K', ':', '-Z'], { input: lines.join('\n') + '\n' });
      assert.equal(r.code, 0, r.stderr);
      expected.set('k1', 'kcat-1').set('k2', 'kcat-2').set('k3', null).set('k4', null);
      await producer.send({ topic, messages: [{ key: 'k5', value: null }] });
      expected.set('k5', null);
      // The newest row is the active segment and is never cleaned: end with a key of its own.
      await new Promise((res) => setTimeout(res, 50));
      await producer.send({ topic, messages: [{ key: 'last', value: 'active' }] });
      expected.set('last', 'active');
      await producer.disconnect();

      const newest = [...expected].filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).sort();
      // First the superseded records go (tombstones may still be there), then the tombstones too.
      const live = await waitFor('the newest value per key, tombstones gone', async () => {
        const got = await kcatRead(topic);
        const keys = got.map((m) => m.key);
        if (new Set(keys).size !== keys.length) return false; // not cleaned yet
        if (got.some((m) => m.value === null)) return false; // tombstones not yet past delete.retention.ms
        return got;
      }, 60_000);
      assert.deepEqual(live.map((m) => `${m.key}=${m.value}`).sort(), newest);
      for (let i = 1; i < live.length; i++) assert.ok(live[i]!.offset > live[i - 1]!.offset, 'offsets ascend (with gaps)');
      assert.ok(live.some((m, i) => i > 0 && m.offset > live[i - 1]!.offset + 1), 'offsets keep their gaps');

      // kafkajs reads the same.
      const consumer = kafka.consumer({ groupId: 'compacted-reader' });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(`${message.key}=${message.value?.toString() ?? 'null'}`) });
      await waitFor('kafkajs read everything', () => seen.length >= newest.length, 30_000);
      await consumer.disconnect();
      assert.deepEqual(seen.sort(), newest);
      assert.match(agent.output(), /"msg":"compacted"/);
    });

    test('merged topic: a kafkajs consumer group reads every record once; kill -9 during merges and cleaning loses nothing and leaves no object behind', async () => {
      const topic = 'merged-e2e';
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const sent = new Set<string>();
      const produceRound = async (round: number) => {
        for (let i = 0; i < 20; i++) {
          const messages = Array.from({ length: 20 }, (_, j) => ({ key: `k${j}`, value: `${round}-${i}-${j}-${'x'.repeat(200)}` }));
          await producer.send({ topic, messages });
          for (const m of messages) sent.add(m.value);
        }
      };
      await produceRound(0);
      await waitFor('a merge', () => /merged small segments/.test(agent.output()), 30_000);
      // kill -9 while merges and cleaner passes keep running (every 300 ms), twice.
      for (let k = 1; k <= 2; k++) {
        await produceRound(k);
        agent = await agent.restart('SIGKILL');
        await producer.disconnect();
        kafka = new Kafka({ clientId: 'storage-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
        await producer.connect().catch(() => undefined);
      }
      const producer2 = kafka.producer();
      await producer2.connect();
      for (let i = 0; i < 5; i++) {
        const messages = Array.from({ length: 20 }, (_, j) => ({ key: `k${j}`, value: `after-${i}-${j}` }));
        await producer2.send({ topic, messages });
        for (const m of messages) sent.add(m.value);
      }
      await producer2.disconnect();
      await waitFor('merges after the restart', () => /merged small segments/.test(agent.output()), 30_000);

      const seen: string[] = [];
      const consumers = [0, 1].map(() => kafka.consumer({ groupId: 'merged-group', retry: { retries: 3 } }));
      for (const c of consumers) {
        await c.connect();
        await c.subscribe({ topic, fromBeginning: true });
        await c.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      }
      await waitFor('every record', () => seen.length >= sent.size, 60_000);
      await new Promise((res) => setTimeout(res, 1000));
      for (const c of consumers) await c.disconnect();
      assert.equal(seen.length, sent.size, 'each record once');
      assert.deepEqual(new Set(seen), sent);

      // After the bounds (pending 2 s, grace 0.5 s): every object in the store is referenced by a row.
      await new Promise((res) => setTimeout(res, 4000));
      const dataDir = agent.dataDir;
      await agent.stop();
      let md: MetadataStore | undefined;
      let store: ObjectStore | undefined;
      try {
        if (backend.postgres) {
          md = await openMetadataStore({ databaseUrl: backend.env.DATABASE_URL!, dataDir: '' });
          store = createObjectStore(backend.s3!.storeConfig() as never);
        } else {
          md = await openMetadataStore({ dataDir });
          store = createObjectStore({ kind: 'local', dir: join(dataDir, 'objects') });
        }
        const keys = (await store.list('segments/')).map((o) => o.key);
        const referenced = new Set(
          (await (md as SqlMetadataStore).driver.query<{ k: string }>({ name: 'e2e_refs', text: 'SELECT DISTINCT s3_key AS k FROM segments', idempotent: true })).map((r) => r.k),
        );
        const states = await (md as SqlMetadataStore).driver.query<{ key: string; state: string }>({ name: 'e2e_states', text: 'SELECT key, state FROM segment_objects', idempotent: true });
        const stateOf = new Map(states.map((s) => [s.key, s.state]));
        const stray = keys.filter((k) => !referenced.has(k) && stateOf.get(k) !== 'pending' && stateOf.get(k) !== 'unreferenced');
        assert.deepEqual(stray, [], 'every object is referenced, or registered and on its way out');
        for (const k of referenced) assert.ok(keys.includes(k), `referenced object ${k} exists`);
      } finally {
        await md?.close();
        await store?.close();
        agent = await startAgent({ env: backend.env, args: ARGS, dataDir, cleanup: false });
      }
    });
  });
}
