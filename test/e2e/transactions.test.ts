// Transactions end to end on both configurations (issue 16): kafkajs and @platformatic/kafka
// transactional producers commit and abort; read_committed consumers (kafkajs, kcat with
// isolation.level=read_committed) see exactly the committed records while read_uncommitted ones see
// the aborted ones too; offsets sent in a transaction become the group's only when it commits; a
// second producer with the same transactional id fences the first, which can then write nothing; a
// transaction left open past its timeout is aborted by the coordinator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { Producer as PlatformaticProducer, stringSerializers } from '@platformatic/kafka';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { RawClient } from '../helpers/raw-client.js';
import { ApiKey, ErrorCode } from '../../protocol/index.js';

const { Kafka, logLevel } = kafkajs;

for (const backendName of BACKENDS) {
  describe(`transactions (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: InstanceType<typeof Kafka>;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      kafka = new Kafka({ clientId: 'txn-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: ['txn-a', 'txn-b', 'txn-in', 'txn-out', 'txn-pl', 'txn-fence', 'txn-timeout'].map((topic) => ({ topic, numPartitions: 2 })) });
      await admin.disconnect();
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    /** Values of every record of a topic read by kcat at the given isolation level (both partitions). */
    const kcatValues = async (topic: string, isolation: 'read_committed' | 'read_uncommitted') => {
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-X', `isolation.level=${isolation}`]);
      assert.equal(r.code, 0, r.stderr);
      return parseJsonLines(r.stdout).map((m) => m.payload).sort();
    };

    /** What a kafkajs read_committed consumer reads from the start until it has `count` records (then a little longer). */
    const kafkajsValues = async (topic: string, count: number) => {
      const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}`, readUncommitted: false });
      const seen: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
            if (seen.length >= count && timer === undefined) timer = setTimeout(resolve, 1000);
          },
        });
      });
      await consumer.disconnect();
      return seen.sort();
    };

    /** ListOffsets latest of one partition at an isolation level (1: read_committed → the LSO). */
    const latest = async (topic: string, partition: number, isolationLevel: 0 | 1) => {
      const c = await RawClient.connect(agent.port);
      try {
        const r = await c.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1 }] }] });
        const p = r.topics[0]!.partitions[0]!;
        assert.equal(p.errorCode, ErrorCode.NONE);
        return Number(p.offset);
      } finally {
        c.close();
      }
    };

    const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

    test('kafkajs: committed transactions are seen, aborted ones only by read_uncommitted readers', async () => {
      const producer = kafka.producer({ transactionalId: 'kjs-1', maxInFlightRequests: 1, idempotent: true });
      await producer.connect();
      const send = async (prefix: string, commit: boolean) => {
        const txn = await producer.transaction();
        await txn.send({ topic: 'txn-a', messages: range(prefix, 10).map((value, i) => ({ value, partition: i % 2 })) });
        await txn.send({ topic: 'txn-b', messages: [{ value: `${prefix}-b`, partition: 0 }] });
        if (commit) await txn.commit();
        else await txn.abort();
      };
      await send('c1', true);
      await send('a1', false);
      await send('c2', true);
      await producer.disconnect();
      const committed = [...range('c1', 10), ...range('c2', 10)].sort();
      assert.deepEqual(await kcatValues('txn-a', 'read_committed'), committed);
      assert.deepEqual(await kcatValues('txn-b', 'read_committed'), ['c1-b', 'c2-b']);
      assert.deepEqual(await kcatValues('txn-a', 'read_uncommitted'), [...committed, ...range('a1', 10)].sort());
      assert.deepEqual(await kafkajsValues('txn-a', 20), committed);
    });

    test('an open transaction holds read_committed readers back at its first offset (LSO); ListOffsets honours the isolation level', async () => {
      const producer = kafka.producer({ transactionalId: 'kjs-lso', maxInFlightRequests: 1, idempotent: true });
      await producer.connect();
      const txn = await producer.transaction();
      await txn.send({ topic: 'txn-b', messages: [{ value: 'open-1', partition: 1 }] });
      try {
        assert.equal(await latest('txn-b', 1, 0), 1, 'read_uncommitted: the high watermark, past the open transaction');
        assert.equal(await latest('txn-b', 1, 1), 0, 'read_committed: the LSO, at the open transaction');
        assert.deepEqual(await kcatValues('txn-b', 'read_committed'), ['c1-b', 'c2-b']);
        await txn.commit();
        assert.equal(await latest('txn-b', 1, 1), 2, 'the LSO moved past the commit marker');
        assert.deepEqual(await kcatValues('txn-b', 'read_committed'), ['c1-b', 'c2-b', 'open-1']);
      } finally {
        await producer.disconnect();
      }
    });

    test('@platformatic/kafka: commit and abort', async () => {
      const producer = new PlatformaticProducer({
        clientId: 'txn-pl', bootstrapBrokers: [agent.bootstrap], idempotent: true, transactionalId: 'pl-1', serializers: stringSerializers, retries: 5,
      });
      try {
        for (const [prefix, commit] of [['p1', true], ['p2', false], ['p3', true]] as const) {
          const txn = await producer.beginTransaction();
          await txn.send({ messages: range(prefix, 5).map((value, i) => ({ topic: 'txn-pl', value, partition: i % 2 })) });
          if (commit) await txn.commit();
          else await txn.abort();
        }
      } finally {
        await producer.close();
      }
      assert.deepEqual(await kcatValues('txn-pl', 'read_committed'), [...range('p1', 5), ...range('p3', 5)].sort());
      assert.deepEqual(await kcatValues('txn-pl', 'read_uncommitted'), [...range('p1', 5), ...range('p2', 5), ...range('p3', 5)].sort());
    });

    test('kafkajs consume-transform-produce: output once per input, offsets committed with the transaction only', async () => {
      const seed = kafka.producer();
      await seed.connect();
      await seed.send({ topic: 'txn-in', messages: range('in', 20).map((value, i) => ({ value, partition: i % 2 })) });
      await seed.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      const producer = kafka.producer({ transactionalId: 'kjs-ctp', maxInFlightRequests: 1, idempotent: true });
      await producer.connect();
      try {
        // An aborted attempt first: its offsets must not become the group's.
        const aborted = await producer.transaction();
        await aborted.send({ topic: 'txn-out', messages: [{ value: 'never', partition: 0 }] });
        await aborted.sendOffsets({ consumerGroupId: 'ctp', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '5' }] }] });
        await aborted.abort();
        const afterAbort = await admin.fetchOffsets({ groupId: 'ctp', topics: ['txn-in'] });
        assert.deepEqual(afterAbort[0]!.partitions.map((p) => p.offset), ['-1', '-1']);

        const txn = await producer.transaction();
        await txn.send({ topic: 'txn-out', messages: range('in', 20).map((v, i) => ({ value: v.replace('in', 'out'), partition: i % 2 })) });
        await txn.sendOffsets({ consumerGroupId: 'ctp', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '10' }, { partition: 1, offset: '10' }] }] });
        const before = await admin.fetchOffsets({ groupId: 'ctp', topics: ['txn-in'] });
        assert.deepEqual(before[0]!.partitions.map((p) => p.offset), ['-1', '-1'], 'not visible before the commit');
        // KIP-447: a consumer asking for stable offsets is told to retry while the transaction is open.
        const raw = await RawClient.connect(agent.port);
        try {
          const stable = await raw.request(ApiKey.OffsetFetch, 7, { groupId: 'ctp', topics: [{ name: 'txn-in', partitionIndexes: [0, 1] }], requireStable: true });
          assert.deepEqual(stable.topics![0]!.partitions.map((p) => p.errorCode), [ErrorCode.UNSTABLE_OFFSET_COMMIT, ErrorCode.UNSTABLE_OFFSET_COMMIT]);
        } finally {
          raw.close();
        }
        await txn.commit();
        const committed = await admin.fetchOffsets({ groupId: 'ctp', topics: ['txn-in'] });
        assert.deepEqual(committed[0]!.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset), ['10', '10']);
      } finally {
        await producer.disconnect();
        await admin.disconnect();
      }
      assert.deepEqual(await kcatValues('txn-out', 'read_committed'), range('out', 20).sort());
    });

    test('a second producer with the same transactional id fences the first: the zombie writes nothing', async () => {
      const zombie = kafka.producer({ transactionalId: 'kjs-fence', maxInFlightRequests: 1, idempotent: true, retry: { retries: 1, initialRetryTime: 50 } });
      await zombie.connect();
      const zt = await zombie.transaction();
      await zt.send({ topic: 'txn-fence', messages: [{ value: 'zombie-1', partition: 0 }] });
      const fresh = kafka.producer({ transactionalId: 'kjs-fence', maxInFlightRequests: 1, idempotent: true });
      await fresh.connect(); // InitProducerId: aborts the zombie's transaction, bumps the epoch
      const ft = await fresh.transaction();
      await ft.send({ topic: 'txn-fence', messages: [{ value: 'fresh-1', partition: 0 }] });
      await ft.commit();
      await assert.rejects(zt.send({ topic: 'txn-fence', messages: [{ value: 'zombie-2', partition: 0 }] }));
      await assert.rejects(zt.commit());
      await zombie.disconnect().catch(() => {});
      await fresh.disconnect();
      assert.deepEqual(await kcatValues('txn-fence', 'read_committed'), ['fresh-1']);
      const all = await kcatValues('txn-fence', 'read_uncommitted');
      assert.ok(!all.includes('zombie-2'), `the fenced producer wrote: ${all.join(', ')}`);
    });

    test('DescribeTransactions and ListTransactions show the coordinator\'s state', async () => {
      const c = await RawClient.connect(agent.port);
      try {
        const d = await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['kjs-1', 'no-such-id'] });
        const [known, unknown] = d.transactionStates;
        assert.equal(known!.errorCode, ErrorCode.NONE);
        assert.equal(known!.transactionState, 'CompleteCommit');
        assert.ok(Number(known!.producerId) >= 0);
        assert.deepEqual(known!.topicPartitions, []);
        assert.equal(unknown!.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
        const l = await c.request(ApiKey.ListTransactions, 1, { stateFilters: ['CompleteCommit', 'Bogus'], producerIdFilters: [], durationFilter: -1 });
        assert.equal(l.errorCode, ErrorCode.NONE);
        assert.deepEqual(l.unknownStateFilters, ['Bogus']);
        const ids = l.transactionStates.map((t) => t.transactionalId);
        assert.ok(ids.includes('kjs-1') && ids.includes('pl-1'), ids.join(', '));
        assert.ok(l.transactionStates.every((t) => t.transactionState === 'CompleteCommit'));
      } finally {
        c.close();
      }
    });

    test('a transaction left open past transaction.timeout.ms is aborted by the coordinator', async () => {
      const producer = kafka.producer({ transactionalId: 'kjs-timeout', maxInFlightRequests: 1, idempotent: true, transactionTimeout: 1500, retry: { retries: 1, initialRetryTime: 50 } });
      await producer.connect();
      const txn = await producer.transaction();
      await txn.send({ topic: 'txn-timeout', messages: [{ value: 'late', partition: 0 }] });
      // Nothing to wait on but the coordinator's sweep: poll what a read_committed reader can read.
      assert.equal(await latest('txn-timeout', 0, 1), 0);
      let end = 0;
      for (let i = 0; i < 100 && end < 2; i++) {
        await new Promise((r) => setTimeout(r, 200));
        end = await latest('txn-timeout', 0, 1);
      }
      assert.equal(end, 2, 'the LSO moved past the abort marker');
      await assert.rejects(txn.commit());
      await producer.disconnect().catch(() => {});
      assert.deepEqual(await kcatValues('txn-timeout', 'read_committed'), []);
    });
  });
}
