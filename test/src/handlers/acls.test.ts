// CreateAcls / DescribeAcls / DeleteAcls at every version against a real (PGlite) store, and the checks
// other handlers make, driven as the dispatcher drives them (request and response over the wire).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/index.js';
import type { MetadataStore } from '../../../metadata/types.js';
import { handler as createAcls } from '../../../src/handlers/30-create-acls.js';
import { handler as describeAcls } from '../../../src/handlers/29-describe-acls.js';
import { handler as deleteAcls } from '../../../src/handlers/31-delete-acls.js';
import { handler as createTopics } from '../../../src/handlers/19-create-topics.js';
import { handler as metadata } from '../../../src/handlers/03-metadata.js';
import { handler as describeConfigs } from '../../../src/handlers/32-describe-configs.js';
import { AclOperation as Op, AclPermission, PatternType, ResourceType as R } from '../../../src/security/acl.js';
import { Authorizer } from '../../../src/security/authorizer.js';
import { call, fakeBroker, versionsOf, withPgliteStore, MemoryTopicStore } from './admin-fixtures.js';

const ANON = 'User:ANONYMOUS';

function authorized(store: MetadataStore, authorizer: Authorizer | undefined, extra: Parameters<typeof fakeBroker>[0] = {}) {
  return { ...fakeBroker({ store, ...extra }), authorizer, aclsChanged: async () => authorizer?.load(await store.listAcls()) };
}

const creation = (p: Partial<{ resourceType: number; resourceName: string; resourcePatternType: number; principal: string; host: string; operation: number; permissionType: number }> = {}) => ({
  resourceType: R.TOPIC, resourceName: 'orders', resourcePatternType: PatternType.LITERAL, principal: ANON, host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW, ...p,
});
const anyFilter = { resourceTypeFilter: R.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY };

test('authorizer off: SECURITY_DISABLED, as Kafka without an authorizer', async () => {
  await withPgliteStore(async (store) => {
    const broker = authorized(store, undefined);
    for (const v of versionsOf(createAcls)) {
      const r = await call(createAcls, v, { creations: [creation()] }, broker);
      assert.equal(r.results[0]!.errorCode, ErrorCode.SECURITY_DISABLED, `v${v}`);
    }
    for (const v of versionsOf(describeAcls)) {
      const r = await call(describeAcls, v, { ...anyFilter, patternTypeFilter: PatternType.LITERAL }, broker);
      assert.equal(r.errorCode, ErrorCode.SECURITY_DISABLED, `v${v}`);
    }
    for (const v of versionsOf(deleteAcls)) {
      const r = await call(deleteAcls, v, { filters: [{ ...anyFilter, patternTypeFilter: PatternType.LITERAL }] }, broker);
      assert.equal(r.filterResults[0]!.errorCode, ErrorCode.SECURITY_DISABLED, `v${v}`);
    }
    assert.deepEqual(await store.listAcls(), []);
  });
});

test('without ALTER / DESCRIBE on the cluster: CLUSTER_AUTHORIZATION_FAILED; a super user may', async () => {
  await withPgliteStore(async (store) => {
    const broker = authorized(store, new Authorizer());
    assert.equal((await call(createAcls, 3, { creations: [creation()] }, broker)).results[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    assert.equal((await call(describeAcls, 3, anyFilter, broker)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    assert.equal((await call(deleteAcls, 3, { filters: [anyFilter] }, broker)).filterResults[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const su = authorized(store, new Authorizer({ superUsers: [ANON] }));
    assert.equal((await call(createAcls, 3, { creations: [creation()] }, su)).results[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await store.listAcls()).length, 1);
  });
});

test('create, describe (filters, MATCH), delete at every version; invalid bindings answered INVALID_REQUEST each', async () => {
  await withPgliteStore(async (store) => {
    const authorizer = new Authorizer({ superUsers: [ANON] });
    const broker = authorized(store, authorizer);
    for (const v of versionsOf(createAcls)) {
      const name = `t${v}`;
      const creations = [
        creation({ resourceName: name }),
        creation({ resourceName: name, resourceType: R.CLUSTER }),
        creation({ resourceName: name, principal: 'nocolon' }),
        creation({ resourceName: name, operation: Op.ANY }),
      ];
      if (v >= 1) creations.push(creation({ resourceName: `${name}-`, resourcePatternType: PatternType.PREFIXED, permissionType: AclPermission.DENY, operation: Op.WRITE }));
      const r = await call(createAcls, v, { creations }, broker);
      assert.deepEqual(r.results.map((x) => x.errorCode), [0, 42, 42, 42, ...(v >= 1 ? [0] : [])], `v${v}`);
      assert.match(r.results[1]!.errorMessage!, /kafka-cluster/);
    }
    assert.equal(authorizer.acls().length, 7, 'this agent sees its own change before the answer');
    for (const v of versionsOf(describeAcls)) {
      const literal = await call(describeAcls, v, { ...anyFilter, resourceTypeFilter: R.TOPIC, resourceNameFilter: 't3', patternTypeFilter: PatternType.LITERAL }, broker);
      assert.equal(literal.errorCode, ErrorCode.NONE);
      assert.deepEqual(literal.resources.map((x) => [x.resourceName, x.acls.length]), [['t3', 1]], `v${v}`);
      if (v >= 1) {
        const match = await call(describeAcls, v, { ...anyFilter, resourceTypeFilter: R.TOPIC, resourceNameFilter: 't3-x', patternTypeFilter: PatternType.MATCH }, broker);
        assert.deepEqual(match.resources.map((x) => [x.resourceName, x.patternType]), [['t3-', PatternType.PREFIXED]], `v${v}`);
      }
    }
    const unknown = await call(describeAcls, 3, { ...anyFilter, operation: Op.UNKNOWN }, broker);
    assert.equal(unknown.errorCode, ErrorCode.INVALID_REQUEST);
    for (const v of versionsOf(deleteAcls)) {
      const r = await call(deleteAcls, v, { filters: [{ ...anyFilter, resourceTypeFilter: R.TOPIC, resourceNameFilter: `t${v}`, patternTypeFilter: PatternType.LITERAL }, { ...anyFilter, permissionType: AclPermission.UNKNOWN }] }, broker);
      assert.deepEqual(r.filterResults.map((f) => f.errorCode), [0, 42]);
      assert.deepEqual(r.filterResults[0]!.matchingAcls.map((m) => [m.resourceName, m.operation, m.principal]), [[`t${v}`, Op.READ, ANON]], `v${v}`);
    }
    assert.deepEqual(authorizer.acls().map((b) => b.resourceName).sort(), ['t1-', 't2-', 't3-']);
  });
});

test('CreateTopics: CREATE on the cluster or the topic; configs only with DESCRIBE_CONFIGS', async () => {
  const store = new MemoryTopicStore() as unknown as MetadataStore;
  const authorizer = new Authorizer();
  const broker = authorized(store, authorizer);
  const topic = (name: string) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] });
  let r = await call(createTopics, 7, { topics: [topic('a')], timeoutMs: 1000, validateOnly: false }, broker);
  assert.equal(r.topics[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  authorizer.load([{ resourceType: R.TOPIC, resourceName: 'a', patternType: PatternType.LITERAL, principal: ANON, host: '*', operation: Op.CREATE, permissionType: AclPermission.ALLOW }]);
  r = await call(createTopics, 7, { topics: [topic('a'), topic('b')], timeoutMs: 1000, validateOnly: false }, broker);
  assert.deepEqual(r.topics.map((t) => [t.name, t.errorCode, t.topicConfigErrorCode]), [['a', 0, ErrorCode.TOPIC_AUTHORIZATION_FAILED], ['b', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0]]);
  authorizer.load([{ resourceType: R.CLUSTER, resourceName: 'kafka-cluster', patternType: PatternType.LITERAL, principal: 'User:*', host: '*', operation: Op.CREATE, permissionType: AclPermission.ALLOW }]);
  r = await call(createTopics, 7, { topics: [topic('b')], timeoutMs: 1000, validateOnly: false }, broker);
  assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
});

test('Metadata hides topics without DESCRIBE, refuses named ones, auto-creates only with CREATE', async () => {
  const memory = new MemoryTopicStore();
  const store = memory as unknown as MetadataStore;
  await memory.createTopic({ name: 'visible', partitionCount: 1 });
  await memory.createTopic({ name: 'hidden', partitionCount: 1 });
  const authorizer = new Authorizer();
  authorizer.load([{ resourceType: R.TOPIC, resourceName: 'vis', patternType: PatternType.PREFIXED, principal: ANON, host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW }]);
  const broker = authorized(store, authorizer);
  const all = await call(metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true }, broker);
  assert.deepEqual(all.topics.map((t) => t.name), ['visible']);
  assert.equal(all.topics[0]!.topicAuthorizedOperations, (1 << Op.READ) | (1 << Op.DESCRIBE));
  const named = await call(metadata, 12, { topics: [{ name: 'hidden', topicId: '00000000-0000-0000-0000-000000000000' }, { name: 'visible-new', topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }, broker);
  assert.deepEqual(named.topics.map((t) => [t.name, t.errorCode]), [['hidden', ErrorCode.TOPIC_AUTHORIZATION_FAILED], ['visible-new', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
  assert.equal(memory.creates, 2, 'no auto-creation without CREATE');
});

test('DescribeConfigs: DESCRIBE_CONFIGS on the topic (ALTER_CONFIGS implies it), on the cluster for a broker', async () => {
  const memory = new MemoryTopicStore();
  await memory.createTopic({ name: 't', partitionCount: 1 });
  const authorizer = new Authorizer();
  authorizer.load([{ resourceType: R.TOPIC, resourceName: 't', patternType: PatternType.LITERAL, principal: ANON, host: '*', operation: Op.ALTER_CONFIGS, permissionType: AclPermission.ALLOW }]);
  const broker = authorized(memory as unknown as MetadataStore, authorizer);
  const r = await call(describeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 't', configurationKeys: null }, { resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }, broker);
  assert.deepEqual(r.results.map((x) => x.errorCode), [ErrorCode.NONE, ErrorCode.CLUSTER_AUTHORIZATION_FAILED]);
});
