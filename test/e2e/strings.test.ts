// Issue 12, on both configurations: strings with NUL (and other characters a database might refuse)
// from real clients are stored and read back exactly, and a value the broker refuses gets a
// non-retriable answer at once. kafkajs consumes in a group whose id, client id and assignor name hold
// NUL and commits metadata holding NUL; a raw OffsetFetch reads the metadata back (admin.fetchOffsets
// does not return it); a raw OffsetCommit of 4097 characters of metadata is OFFSET_METADATA_TOO_LARGE
// for that partition while the others commit; a config value with NUL is INVALID_CONFIG; invalid UTF-8
// is decoded with replacement, as Kafka does; a group id too long for the store is INVALID_GROUP_ID.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode, decodeResponse, encodeRequest } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel, PartitionAssigners, ConfigResourceTypes } = kafkajs;

const TOPIC = 'odd-strings';
const GROUP = 'group\u0000with NUL 😀';
const CLIENT_ID = 'client\u0000id';
const ASSIGNOR = 'round\u0000robin';
const METADATA = ['meta\u0000data', '\u0000', '\u0001\u00000 é 😀 \\u0000'];

/** kafkajs's round-robin assignor under a name holding NUL (the group's protocol name). */
const nulAssignor: kafkajs.PartitionAssigner = (config) => ({ ...PartitionAssigners.roundRobin(config), name: ASSIGNOR });

/** What a KafkaJS error (each error of an aggregate, the cause of a wrapper) says its Kafka error type is. */
const typesOf = (err: unknown): string[] => {
  const e = err as { type?: string; errors?: unknown[]; cause?: unknown };
  if (e.errors) return e.errors.flatMap(typesOf);
  return e.type === undefined && e.cause !== undefined ? typesOf(e.cause) : [String(e.type)];
};

async function rawFetchOffsets(c: RawClient, groupId: string): Promise<Array<[number, number, string | null, number]>> {
  const r = await c.request(ApiKey.OffsetFetch, 5, { groupId, topics: [{ name: TOPIC, partitionIndexes: [0, 1, 2] }] });
  assert.equal(r.errorCode, ErrorCode.NONE);
  return r.topics![0]!.partitions.map((p) => [p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode]);
}

for (const backendName of BACKENDS) {
  describe(`client strings with NUL (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;
    let raw: RawClient;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env, args: ['--group-initial-rebalance-delay-ms', '0'] });
      kafka = new Kafka({ clientId: CLIENT_ID, brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
      raw = await RawClient.connect(agent.port);
    });

    after(async () => {
      raw?.close();
      await agent?.stop();
      await backend?.stop();
    });

    test('a group whose id, client id and assignor hold NUL commits metadata with NUL and reads it back', async () => {
      const admin = kafka.admin();
      await admin.connect();
      const consumer = kafka.consumer({ groupId: GROUP, partitionAssigners: [nulAssignor], sessionTimeout: 30_000, heartbeatInterval: 500 });
      try {
        await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }] });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic: TOPIC, acks: -1, messages: [0, 1, 2].map((partition) => ({ value: `v${partition}`, partition })) });
        await producer.disconnect();

        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        const seen: string[] = [];
        await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
        await waitFor('the consumer to read the three records', () => seen.length >= 3);
        await consumer.commitOffsets(METADATA.map((metadata, partition) => ({ topic: TOPIC, partition, offset: '1', metadata })));

        assert.deepEqual(await rawFetchOffsets(raw, GROUP), METADATA.map((m, p) => [p, 1, m, ErrorCode.NONE]));
        assert.deepEqual((await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }))[0]!.partitions.map((p) => p.offset), ['1', '1', '1']);
        assert.ok((await admin.listGroups()).groups.some((g) => g.groupId === GROUP));
        const [described] = (await admin.describeGroups([GROUP])).groups;
        assert.equal(described!.protocol, ASSIGNOR);
        assert.equal(described!.state, 'Stable');
        assert.equal(described!.members[0]!.clientId, CLIENT_ID);
        assert.ok(described!.members[0]!.memberId.startsWith(CLIENT_ID), described!.members[0]!.memberId);

        // kafkajs hears OFFSET_METADATA_TOO_LARGE (non-retriable) at once instead of retrying.
        await assert.rejects(consumer.commitOffsets([{ topic: TOPIC, partition: 0, offset: '2', metadata: 'x'.repeat(4097) }]), (err: unknown) => {
          assert.deepEqual(typesOf(err), ['OFFSET_METADATA_TOO_LARGE']);
          assert.equal((err as { retriable?: boolean }).retriable, false);
          return true;
        });
      } finally {
        await consumer.disconnect();
        await admin.disconnect();
      }
      // The group is stored, not only held in memory: after a restart it is there with its offsets.
      raw.close();
      agent = await agent.restart();
      raw = await RawClient.connect(agent.port);
      assert.deepEqual(await rawFetchOffsets(raw, GROUP), METADATA.map((m, p) => [p, 1, m, ErrorCode.NONE]));
      const d = await raw.request(ApiKey.DescribeGroups, 5, { groups: [GROUP], includeAuthorizedOperations: false });
      assert.deepEqual([d.groups[0]!.errorCode, d.groups[0]!.groupState], [ErrorCode.NONE, 'Empty']);
    });

    test('4097 characters of metadata: OFFSET_METADATA_TOO_LARGE for that partition, the others commit', async () => {
      const group = 'simple\u0000consumer';
      const commit = await raw.request(ApiKey.OffsetCommit, 8, {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [{ name: TOPIC, partitions: [
          { partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(4097) },
          { partitionIndex: 1, committedOffset: 6, committedLeaderEpoch: -1, committedMetadata: '\u0000'.repeat(4096) },
          { partitionIndex: 2, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null },
        ] }],
      });
      assert.deepEqual(commit.topics[0]!.partitions.map((p) => p.errorCode), [ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE, ErrorCode.NONE]);
      assert.deepEqual(await rawFetchOffsets(raw, group), [[0, -1, '', ErrorCode.NONE], [1, 6, '\u0000'.repeat(4096), ErrorCode.NONE], [2, 7, '', ErrorCode.NONE]]);
    });

    test('invalid UTF-8 in a group id and in metadata is read with replacement characters, as Kafka does, and stored', async () => {
      // Strings are encoded from JS (always valid UTF-8), so the bytes are patched into the frame.
      const frame = Buffer.concat(encodeRequest(ApiKey.OffsetCommit, 2, 1, 'raw', {
        groupId: 'utf8-GGGG',
        generationIdOrMemberEpoch: -1,
        memberId: '',
        retentionTimeMs: -1,
        topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 3, committedMetadata: 'MMMMM' }] }],
      }));
      Buffer.from([0xc3, 0x28, 0x00, 0xed]).copy(frame, frame.indexOf('GGGG'));
      Buffer.from([0xff, 0xfe, 0x00, 0xf0, 0x9f]).copy(frame, frame.indexOf('MMMMM'));
      const c = await RawClient.connect(agent.port);
      try {
        c.writeRaw(frame);
        const res = decodeResponse(ApiKey.OffsetCommit, 2, (await c.nextFrame())!).body;
        assert.equal(res.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
      } finally {
        c.close();
      }
      assert.deepEqual((await rawFetchOffsets(raw, 'utf8-\ufffd(\u0000\ufffd'))[0], [0, 3, '\ufffd\ufffd\u0000\ufffd', ErrorCode.NONE]);
    });

    test('a group id too long for the store is INVALID_GROUP_ID, not a retriable error', async () => {
      const group = 'g'.repeat(2000);
      const commit = await raw.request(ApiKey.OffsetCommit, 8, {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
      });
      assert.equal(commit.topics[0]!.partitions[0]!.errorCode, ErrorCode.INVALID_GROUP_ID);
      const fetched = await raw.request(ApiKey.OffsetFetch, 5, { groupId: group, topics: [{ name: TOPIC, partitionIndexes: [0] }] });
      assert.equal(fetched.errorCode, ErrorCode.INVALID_GROUP_ID);
    });

    test('a config value or name with NUL is INVALID_CONFIG, at once, in CreateTopics, AlterConfigs and IncrementalAlterConfigs', async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await assert.rejects(admin.createTopics({ topics: [{ topic: 'nul-config', configEntries: [{ name: 'retention.ms', value: '1000\u0000' }] }] }), (err: unknown) => {
          assert.deepEqual(typesOf(err), ['INVALID_CONFIG']);
          return true;
        });
        assert.ok(!(await admin.listTopics()).includes('nul-config'));
        for (const configEntries of [[{ name: 'retention.ms', value: '\u0000' }], [{ name: 'retention.ms\u0000', value: '1000' }]]) {
          await assert.rejects(admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC, configEntries }] }), (err: unknown) => {
            assert.deepEqual(typesOf(err), ['INVALID_CONFIG']);
            return true;
          });
        }
        const inc = await raw.request(ApiKey.IncrementalAlterConfigs, 1, {
          validateOnly: false,
          resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: TOPIC, configs: [{ name: 'cleanup.policy', configOperation: 0, value: 'delete\u0000' }] }],
        });
        assert.equal(inc.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
        // The topic's config is untouched.
        const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC, configNames: ['retention.ms', 'cleanup.policy'] }] });
        assert.deepEqual(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue, e.isDefault]), [['cleanup.policy', 'delete', true], ['retention.ms', '604800000', true]]);
      } finally {
        await admin.disconnect();
      }
    });
  });
}
