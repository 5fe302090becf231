// ACLs end to end, on both configurations. The agents run with --authorizer; nobody is a super user.
// Until SASL is merged every connection is User:ANONYMOUS, so the client host separates the two roles:
// the admin connects from 127.0.0.1 and is granted everything from that host (first on the cluster, by
// the CLI against the database, before any agent starts: the bootstrap case; the rest through
// CreateAcls from kafkajs's admin), the restricted client connects from 127.0.0.2 (another loopback
// address). For every API served, the restricted client is refused with Kafka's error, the admin adds
// the ACL it needs through CreateAcls on agent A, and the request then succeeds on agent B (a second
// agent on PostgreSQL; the same agent on the embedded configuration, which serves one agent).
// With SASL the same steps hold with User:<name> in place of ANONYMOUS@127.0.0.2.
// test-file-timeout-ms: 600000
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { Admin as PlatformaticAdmin } from '@platformatic/kafka';
import { ApiKey, ErrorCode, errorName } from '../../protocol/index.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { startAgent, cliPath, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend, type BackendName } from '../helpers/backends.js';
import { findPostgresBinaries } from '../helpers/postgres.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;
const run = promisify(execFile);

const ADMIN_HOST = '127.0.0.1';
const USER_HOST = '127.0.0.2';
const ANON = 'User:ANONYMOUS';
const TOPIC = 'orders';
const ZERO = '00000000-0000-0000-0000-000000000000';

type Grant = { type: 'topic' | 'group' | 'cluster'; name: string; op: keyof typeof AclOperationTypes; prefixed?: boolean };

function aclEntry(g: Grant) {
  return {
    resourceType: g.type === 'topic' ? AclResourceTypes.TOPIC : g.type === 'group' ? AclResourceTypes.GROUP : AclResourceTypes.CLUSTER,
    resourceName: g.name,
    resourcePatternType: g.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: ANON,
    host: USER_HOST,
    operation: AclOperationTypes[g.op],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

for (const name of BACKENDS) {
  const skip = name === 'postgres+s3' && findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false;
  describe(`ACLs (${name})`, { skip }, () => aclSuite(name));
}

function aclSuite(backendName: BackendName): void {
  let backend: Backend;
  let a: AgentHandle;
  let b: AgentHandle;
  let admin: kafkajs.Admin;
  let user: RawClient;
  let kafka: kafkajs.Kafka;
  const agents: AgentHandle[] = [];
  /** Seconds from a CreateAcls answer on A until B allowed the request, per step. */
  const seen: number[] = [];

  before(async () => {
    backend = await startBackend(backendName);
    const dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-acls-'));
    // The bootstrap: before any agent runs, the admin host gets everything, through the CLI.
    const where = backendName === 'embedded' ? ['--data-dir', dataDir] : ['--database-url', backend.env.DATABASE_URL!];
    for (const resource of [['--cluster'], ['--topic', '*'], ['--group', '*'], ['--transactional-id', '*']]) {
      const { stdout } = await run(process.execPath, [cliPath(), 'acls', 'add', ...where, '--allow-principal', ANON, '--allow-host', ADMIN_HOST, '--operation', 'all', ...resource]);
      assert.match(stdout, /1 ACL\(s\) added/);
    }
    const args = ['--authorizer', 'true'];
    a = await startAgent({ env: backend.env, args, dataDir: backendName === 'embedded' ? dataDir : undefined, cleanup: true });
    agents.push(a);
    b = backendName === 'embedded' ? a : await startAgent({ env: backend.env, args });
    if (b !== a) agents.push(b);
    kafka = new Kafka({ clientId: 'acl-admin', brokers: [`127.0.0.1:${a.port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }, { topic: 'other', numPartitions: 1 }] });
    user = await RawClient.connect(b.port, '127.0.0.1', USER_HOST);
  });

  after(async () => {
    await admin?.disconnect().catch(() => undefined);
    user?.close();
    for (const x of agents) await x.stop();
    await backend?.stop();
    if (seen.length > 0) console.log(`# ${backendName}: CreateAcls on A → allowed on B: max ${Math.max(...seen).toFixed(3)} s over ${seen.length} steps`);
  });

  /** A connection from the restricted host to the agent leading partition `p` of TOPIC (after DESCRIBE). */
  async function onLeader(p: number): Promise<RawClient> {
    const md = await user.request(ApiKey.Metadata, 12, { topics: [{ name: TOPIC, topicId: ZERO }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const leader = md.topics[0]!.partitions.find((x) => x.partitionIndex === p)!.leaderId;
    const port = md.brokers.find((x) => x.nodeId === leader)!.port;
    return RawClient.connect(port, '127.0.0.1', USER_HOST);
  }

  /** Grants through CreateAcls on A, then waits until `attempt` (on B) no longer answers `refused`. */
  async function grantThen(grants: Grant[], attempt: () => Promise<number>, refused: number, expected: number | number[] = ErrorCode.NONE): Promise<void> {
    assert.equal(errorName(await attempt()), errorName(refused), 'refused before the grant');
    await admin.createAcls({ acl: grants.map(aclEntry) });
    const granted = Date.now();
    const code = await waitFor('the grant to apply', async () => {
      const c = await attempt();
      return c === refused ? undefined : c;
    }, 15_000);
    seen.push((Date.now() - granted) / 1000);
    const ok = Array.isArray(expected) ? expected : [expected];
    assert.ok(ok.includes(code), `expected ${ok.map(errorName).join('/')}, got ${errorName(code)}`);
  }

  test('kafkajs admin: createAcls, describeAcls, deleteAcls', async () => {
    const entry = { ...aclEntry({ type: 'topic', name: 'kjs-', op: 'READ', prefixed: true }), principal: 'User:kafkajs' };
    await admin.createAcls({ acl: [entry] });
    const described = await admin.describeAcls({ resourceType: AclResourceTypes.TOPIC, resourceName: 'kjs-', resourcePatternType: ResourcePatternTypes.PREFIXED, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
    assert.deepEqual(described.resources.map((r) => [r.resourceName, r.acls.map((x) => [x.principal, x.host, x.operation, x.permissionType])]), [['kjs-', [['User:kafkajs', USER_HOST, AclOperationTypes.READ, AclPermissionTypes.ALLOW]]]]);
    const deleted = await admin.deleteAcls({ filters: [{ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal: 'User:kafkajs', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY }] });
    assert.equal(deleted.filterResponses[0]!.matchingAcls.length, 1);
    const after = await admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal: 'User:kafkajs', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
    assert.deepEqual(after.resources, []);
    // The bootstrap ACLs written by the CLI are there.
    const cluster = await admin.describeAcls({ resourceType: AclResourceTypes.CLUSTER, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
    assert.deepEqual(cluster.resources.map((r) => [r.resourceName, r.acls[0]!.host]), [['kafka-cluster', ADMIN_HOST]]);
  });

  test('@platformatic/kafka admin (CreateAcls/DescribeAcls/DeleteAcls v3, flexible): create, describe, delete', async () => {
    const pk = new PlatformaticAdmin({ clientId: 'pk-acls', bootstrapBrokers: [`127.0.0.1:${b.port}`] });
    try {
      const acl = { resourceType: 2 as const, resourceName: 'pk-', resourcePatternType: 4 as const, principal: 'User:pk', host: '*', operation: 4 as const, permissionType: 2 as const };
      await pk.createAcls({ creations: [acl] });
      const filter = { resourceType: 1 as const, resourceName: null, resourcePatternType: 1 as const, principal: 'User:pk', host: null, operation: 1 as const, permissionType: 1 as const };
      const described = await pk.describeAcls({ filter });
      assert.deepEqual(described.map((r) => [r.resourceType, r.resourceName, r.resourcePatternType, r.acls.map((x) => [x.principal, x.host, x.operation, x.permissionType])]), [[2, 'pk-', 4, [['User:pk', '*', 4, 2]]]]);
      const deleted = await pk.deleteAcls({ filters: [filter] });
      assert.equal(deleted.length, 1);
      assert.deepEqual(await pk.describeAcls({ filter }), []);
    } finally {
      await pk.close();
    }
  });

  test('streamhouse acls --bootstrap-server: add, list, remove through a running agent', async () => {
    const cli = async (...args: string[]) => (await run(process.execPath, [cliPath(), 'acls', ...args, '--bootstrap-server', `127.0.0.1:${a.port}`])).stdout;
    assert.match(await cli('add', '--allow-principal', 'User:cli', '--operation', 'read,describe', '--group', 'cli-'), /2 ACL\(s\) added/);
    const listed = await cli('list', '--principal', 'User:cli', '--json');
    assert.deepEqual((JSON.parse(listed) as { acls: Array<{ operation: string; resourceName: string }> }).acls.map((x) => [x.operation, x.resourceName]).sort(), [['describe', 'cli-'], ['read', 'cli-']]);
    assert.match(await cli('remove', '--principal', 'User:cli'), /2 ACL\(s\) removed/);
    assert.match(await cli('list', '--principal', 'User:cli'), /0 ACL\(s\)/);
  });

  test('the restricted client may not manage ACLs', async () => {
    const c = await user.request(ApiKey.CreateAcls, 3, { creations: [{ resourceType: 2, resourceName: 'x', resourcePatternType: 3, principal: ANON, host: '*', operation: 2, permissionType: 3 }] });
    assert.equal(c.results[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const d = await user.request(ApiKey.DescribeAcls, 3, { resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 });
    assert.equal(d.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const x = await user.request(ApiKey.DeleteAcls, 3, { filters: [{ resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }] });
    assert.equal(x.filterResults[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // DescribeCluster needs no ACL (as Kafka), but reports no authorized operation.
    const dc = await user.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    assert.equal(dc.errorCode, ErrorCode.NONE);
    assert.equal(dc.clusterAuthorizedOperations, 0);
  });

  test('topic DESCRIBE: Metadata, ListOffsets, OffsetForLeaderEpoch', async () => {
    const metadata = async () => (await user.request(ApiKey.Metadata, 12, { topics: [{ name: TOPIC, topicId: ZERO }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).topics[0]!.errorCode;
    const listOffsets = async () => (await user.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] })).topics[0]!.partitions[0]!.errorCode;
    const epoch = async () => (await user.request(ApiKey.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] })).topics[0]!.partitions[0]!.errorCode;
    assert.equal(await listOffsets(), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await epoch(), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    await grantThen([{ type: 'topic', name: TOPIC, op: 'DESCRIBE' }], metadata, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    // B may not lead the partition: past the check, it answers NOT_LEADER_OR_FOLLOWER; the leader answers.
    assert.ok([ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER].includes(await listOffsets() as never));
    assert.ok([ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER].includes(await epoch() as never));
    const leader = await onLeader(0);
    try {
      assert.equal((await leader.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] })).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    } finally {
      leader.close();
    }
    // Every-topic Metadata lists only what the client may describe.
    const all = await user.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(all.topics.map((t) => t.name), [TOPIC]);
  });

  test('Produce needs WRITE; InitProducerId needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic', async () => {
    const records = () => buildRecordBatchSync({ records: [{ value: 'v', timestamp: Date.now() }] });
    const produce = async (c = user) => (await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: records() }] }] })).responses[0]!.partitionResponses[0]!.errorCode;
    const init = async () => (await user.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })).errorCode;
    assert.equal(await init(), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    await grantThen([{ type: 'topic', name: TOPIC, op: 'WRITE' }], () => produce(), ErrorCode.TOPIC_AUTHORIZATION_FAILED, [ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    const leader = await onLeader(0);
    try {
      assert.equal(await produce(leader), ErrorCode.NONE);
    } finally {
      leader.close();
    }
    assert.equal(await init(), ErrorCode.NONE);
    // A transactional producer needs WRITE on its transactional id.
    const txn = await user.request(ApiKey.InitProducerId, 4, { transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    assert.equal(txn.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const find = await user.request(ApiKey.FindCoordinator, 4, { keyType: 1, coordinatorKeys: ['tx'] });
    assert.equal(find.coordinators![0]!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  });

  test('Fetch needs READ', async () => {
    const fetch = async (c = user) => (await c.request(ApiKey.Fetch, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1_000_000 }] }],
      forgottenTopicsData: [], rackId: '',
    })).responses[0]!.partitions[0]!.errorCode;
    await grantThen([{ type: 'topic', name: TOPIC, op: 'READ' }], () => fetch(), ErrorCode.TOPIC_AUTHORIZATION_FAILED, [ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    const leader = await onLeader(0);
    try {
      assert.equal(await fetch(leader), ErrorCode.NONE);
    } finally {
      leader.close();
    }
  });

  test('groups: FindCoordinator/DescribeGroups need DESCRIBE; Join/Sync/Heartbeat/Leave/OffsetCommit READ; ListGroups filters; DeleteGroups/OffsetDelete DELETE', async () => {
    const find = async (group: string, c: RawClient) => (await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [group] })).coordinators![0]!;
    await grantThen([{ type: 'group', name: 'g1', op: 'DESCRIBE' }], async () => (await find('g1', user)).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    // Group requests go to the group's coordinator, from the restricted host; once shards settled (the
    // admin's OffsetFetch of g1 answered by the agent FindCoordinator names).
    const coordinator = await waitFor('g1 coordinated', async () => {
      const c = await find('g1', user);
      if (c.errorCode !== ErrorCode.NONE) return undefined;
      const probe = await RawClient.connect(c.port);
      try {
        const r = await probe.request(ApiKey.OffsetFetch, 7, { groupId: 'g1', topics: null, requireStable: false });
        return r.errorCode === ErrorCode.NONE ? c : undefined;
      } finally {
        probe.close();
      }
    }, 30_000);
    const g = await RawClient.connect(coordinator.port, '127.0.0.1', USER_HOST);
    try {
      const commit = async () => (await g.request(ApiKey.OffsetCommit, 8, { groupId: 'g1', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] })).topics[0]!.partitions[0]!.errorCode;
      const join = async () => (await g.request(ApiKey.JoinGroup, 7, { groupId: 'g1', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })).errorCode;
      const heartbeat = async () => (await g.request(ApiKey.Heartbeat, 4, { groupId: 'g1', generationId: 1, memberId: 'nobody', groupInstanceId: null })).errorCode;
      const sync = async () => (await g.request(ApiKey.SyncGroup, 5, { groupId: 'g1', generationId: 1, memberId: 'nobody', groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] })).errorCode;
      const leave = async () => (await g.request(ApiKey.LeaveGroup, 5, { groupId: 'g1', members: [{ memberId: 'nobody', groupInstanceId: null, reason: null }] })).errorCode;
      const describeGroup = async (id: string) => (await g.request(ApiKey.DescribeGroups, 5, { groups: [id], includeAuthorizedOperations: true })).groups[0]!;
      assert.equal((await describeGroup('g1')).errorCode, ErrorCode.NONE);
      for (const attempt of [join, heartbeat, sync, leave]) assert.equal(await attempt(), ErrorCode.GROUP_AUTHORIZATION_FAILED);
      await grantThen([{ type: 'group', name: 'g1', op: 'READ' }], commit, ErrorCode.GROUP_AUTHORIZATION_FAILED);
      assert.equal(await join(), ErrorCode.MEMBER_ID_REQUIRED);
      assert.equal(await heartbeat(), ErrorCode.UNKNOWN_MEMBER_ID);
      assert.equal(await sync(), ErrorCode.UNKNOWN_MEMBER_ID);
      assert.equal(await leave(), ErrorCode.NONE); // v3+: per-member errors
      assert.equal((await describeGroup('g1')).authorizedOperations, (1 << 3) | (1 << 8)); // READ, DESCRIBE
      // OffsetFetch: DESCRIBE on the group and the topic; "all topics" leaves the others out.
      const fetched = await g.request(ApiKey.OffsetFetch, 7, { groupId: 'g1', topics: null, requireStable: false });
      assert.deepEqual(fetched.topics!.map((t) => t.name), [TOPIC]);
      // g2 only the admin may see: it joins g2 at g2's coordinator; ListGroups there lists g2 to the
      // admin, not to the restricted client (ListGroups lists the groups of the agent asked).
      const adminFind = await RawClient.connect(a.port);
      const g2 = await waitFor('g2 coordinated', async () => {
        const c = (await adminFind.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g2'] })).coordinators![0]!;
        const probe = await RawClient.connect(c.port);
        try {
          const r = await probe.request(ApiKey.JoinGroup, 7, { groupId: 'g2', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
          if (r.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) return undefined;
          const listed = await probe.request(ApiKey.ListGroups, 4, { statesFilter: [] });
          return listed.groups.some((x) => x.groupId === 'g2') ? c : undefined;
        } finally {
          probe.close();
        }
      }, 30_000);
      adminFind.close();
      const userAtG2 = await RawClient.connect(g2.port, '127.0.0.1', USER_HOST);
      try {
        const listed = await userAtG2.request(ApiKey.ListGroups, 4, { statesFilter: [] });
        assert.ok(!listed.groups.some((x) => x.groupId === 'g2'), JSON.stringify(listed.groups));
      } finally {
        userAtG2.close();
      }
      assert.equal((await describeGroup('g2')).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
      const offsetDelete = async () => {
        const r = await g.request(ApiKey.OffsetDelete, 0, { groupId: 'g1', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }] });
        return r.errorCode !== ErrorCode.NONE ? r.errorCode : r.topics[0]!.partitions[0]!.errorCode;
      };
      await grantThen([{ type: 'group', name: 'g1', op: 'DELETE' }], offsetDelete, ErrorCode.GROUP_AUTHORIZATION_FAILED);
      const deleteGroup = async () => (await g.request(ApiKey.DeleteGroups, 2, { groupsNames: ['g1'] })).results[0]!.errorCode;
      assert.equal(await deleteGroup(), ErrorCode.NONE);
      assert.equal((await g.request(ApiKey.DeleteGroups, 2, { groupsNames: ['g2'] })).results[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    } finally {
      g.close();
    }
  });

  test('CreateTopics needs CREATE; CreatePartitions ALTER; DeleteTopics and DeleteRecords DELETE', async () => {
    const create = async () => (await user.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'new-topic', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })).topics[0]!.errorCode;
    await grantThen([{ type: 'topic', name: 'new-', op: 'CREATE', prefixed: true }], create, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const grow = async () => (await user.request(ApiKey.CreatePartitions, 3, { topics: [{ name: TOPIC, count: 3, assignments: null }], timeoutMs: 10_000, validateOnly: true })).results[0]!.errorCode;
    await grantThen([{ type: 'topic', name: TOPIC, op: 'ALTER' }], grow, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const deleteRecords = async (c = user) => (await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, offset: 0 }] }], timeoutMs: 10_000 })).topics[0]!.partitions[0]!.errorCode;
    await grantThen([{ type: 'topic', name: TOPIC, op: 'DELETE' }], () => deleteRecords(), ErrorCode.TOPIC_AUTHORIZATION_FAILED, [ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    const leader = await onLeader(1);
    try {
      assert.equal(await deleteRecords(leader), ErrorCode.NONE);
    } finally {
      leader.close();
    }
    const deleteTopic = async () => (await user.request(ApiKey.DeleteTopics, 6, { topics: [{ name: 'new-topic', topicId: ZERO }], timeoutMs: 10_000 })).responses[0]!.errorCode;
    await grantThen([{ type: 'topic', name: 'new-', op: 'DELETE', prefixed: true }], deleteTopic, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  test('configs: DESCRIBE_CONFIGS and ALTER_CONFIGS on the topic, on the cluster for the broker', async () => {
    const describeTopic = async () => (await user.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: TOPIC, configurationKeys: ['retention.ms'] }], includeSynonyms: false, includeDocumentation: false })).results[0]!.errorCode;
    await grantThen([{ type: 'topic', name: TOPIC, op: 'DESCRIBE_CONFIGS' }], describeTopic, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const describeBroker = async () => (await user.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 4, resourceName: '', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })).results[0]!.errorCode;
    await grantThen([{ type: 'cluster', name: 'kafka-cluster', op: 'DESCRIBE_CONFIGS' }], describeBroker, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const alter = async () => (await user.request(ApiKey.AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName: TOPIC, configs: [{ name: 'retention.ms', value: '3600000' }] }], validateOnly: true })).responses[0]!.errorCode;
    const incremental = async () => (await user.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: TOPIC, configs: [{ name: 'retention.ms', configOperation: 0, value: '3600000' }] }], validateOnly: true })).responses[0]!.errorCode;
    assert.equal(await incremental(), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    await grantThen([{ type: 'topic', name: TOPIC, op: 'ALTER_CONFIGS' }], alter, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await incremental(), ErrorCode.NONE);
  });

  test('a deleted ACL is enforced again (kafkajs deleteAcls on A, refused on B)', async () => {
    await admin.deleteAcls({ filters: [{ resourceType: AclResourceTypes.TOPIC, resourceName: TOPIC, resourcePatternType: ResourcePatternTypes.LITERAL, principal: ANON, host: USER_HOST, operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.ALLOW }] });
    const records = buildRecordBatchSync({ records: [{ value: 'v', timestamp: Date.now() }] });
    await waitFor('the deletion to apply on B', async () => {
      const r = await user.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] });
      return r.responses[0]!.partitionResponses[0]!.errorCode === ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    }, 15_000);
  });
}
