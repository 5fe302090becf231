// The authorizer's semantics (Kafka's StandardAuthorizer), no I/O: every rule the README states.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AclOperation as Op, AclPermission, CLUSTER_NAME, PatternType, ResourceType as R, filterMatches, newAclProblem, type AclBinding, type AclBindingFilter } from '../../../src/security/acl.js';
import { Authorizer, normalizeHost, parseSuperUsers } from '../../../src/security/authorizer.js';

const ALICE = 'User:alice';
const BOB = 'User:bob';
const HOST = '10.0.0.1';

function acl(p: Partial<AclBinding> & { operation: number }): AclBinding {
  return { resourceType: R.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: ALICE, host: '*', permissionType: AclPermission.ALLOW, ...p };
}
function authz(bindings: AclBinding[], opts: ConstructorParameters<typeof Authorizer>[0] = {}): Authorizer {
  const a = new Authorizer(opts);
  a.load(bindings);
  return a;
}

test('no ACL at all: denied, unless allow-everyone-if-no-acl-found', () => {
  assert.equal(authz([]).authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), false);
  assert.equal(authz([], { allowEveryoneIfNoAclFound: true }).authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), true);
});

test('allow-everyone applies only to resources no ACL of any principal names', () => {
  const a = authz([acl({ operation: Op.READ, principal: BOB })], { allowEveryoneIfNoAclFound: true });
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), false, 'bob has an ACL on orders: alice is denied');
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'payments'), true, 'no ACL names payments');
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.GROUP, 'g'), true, 'no group ACL at all');
});

test('literal, wildcard and prefixed patterns', () => {
  const a = authz([
    acl({ operation: Op.READ, resourceName: 'orders' }),
    acl({ operation: Op.WRITE, resourceName: '*' }),
    acl({ operation: Op.DELETE, resourceName: 'tmp-', patternType: PatternType.PREFIXED }),
  ]);
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), true);
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders2'), false, 'literal is exact');
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'order'), false);
  assert.equal(a.authorize(ALICE, HOST, Op.WRITE, R.TOPIC, 'anything'), true, 'wildcard');
  assert.equal(a.authorize(ALICE, HOST, Op.DELETE, R.TOPIC, 'tmp-1'), true, 'prefix');
  assert.equal(a.authorize(ALICE, HOST, Op.DELETE, R.TOPIC, 'tmp-'), true, 'the prefix itself');
  assert.equal(a.authorize(ALICE, HOST, Op.DELETE, R.TOPIC, 'tmp'), false, 'shorter than the prefix');
  assert.equal(a.authorize(ALICE, HOST, Op.DELETE, R.TOPIC, 'xtmp-1'), false);
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.GROUP, 'orders'), false, 'another resource type');
  // A literal `*` is not a wildcard for prefixes; a PREFIXED `*` only prefixes names starting with '*'.
  const b = authz([acl({ operation: Op.READ, resourceName: '*', patternType: PatternType.PREFIXED })]);
  assert.equal(b.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), false);
  assert.equal(b.authorize(ALICE, HOST, Op.READ, R.TOPIC, '*x'), true);
});

test('deny wins over allow, from any matching pattern', () => {
  const a = authz([
    acl({ operation: Op.ALL, resourceName: '*' }),
    acl({ operation: Op.WRITE, resourceName: 'secret-', patternType: PatternType.PREFIXED, permissionType: AclPermission.DENY }),
  ]);
  assert.equal(a.authorize(ALICE, HOST, Op.WRITE, R.TOPIC, 'orders'), true);
  assert.equal(a.authorize(ALICE, HOST, Op.WRITE, R.TOPIC, 'secret-keys'), false);
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'secret-keys'), true, 'deny WRITE does not deny READ');
  const all = authz([acl({ operation: Op.READ }), acl({ operation: Op.ALL, permissionType: AclPermission.DENY, principal: 'User:*' })]);
  assert.equal(all.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), false, 'deny ALL for User:* denies everything');
  assert.equal(all.authorize(ALICE, HOST, Op.DESCRIBE, R.TOPIC, 'orders'), false);
});

test('implied operations: READ/WRITE/DELETE/ALTER imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS; only for ALLOW', () => {
  for (const op of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
    assert.equal(authz([acl({ operation: op })]).authorize(ALICE, HOST, Op.DESCRIBE, R.TOPIC, 'orders'), true, `op ${op}`);
  }
  assert.equal(authz([acl({ operation: Op.CREATE })]).authorize(ALICE, HOST, Op.DESCRIBE, R.TOPIC, 'orders'), false);
  assert.equal(authz([acl({ operation: Op.ALTER_CONFIGS })]).authorize(ALICE, HOST, Op.DESCRIBE_CONFIGS, R.TOPIC, 'orders'), true);
  assert.equal(authz([acl({ operation: Op.ALTER_CONFIGS })]).authorize(ALICE, HOST, Op.DESCRIBE, R.TOPIC, 'orders'), false);
  assert.equal(authz([acl({ operation: Op.DESCRIBE })]).authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), false, 'no implication upwards');
  assert.equal(authz([acl({ operation: Op.ALL })]).authorize(ALICE, HOST, Op.IDEMPOTENT_WRITE, R.TOPIC, 'orders'), true, 'ALL');
  const denyRead = authz([acl({ operation: Op.ALL }), acl({ operation: Op.READ, permissionType: AclPermission.DENY })]);
  assert.equal(denyRead.authorize(ALICE, HOST, Op.DESCRIBE, R.TOPIC, 'orders'), true, 'DENY READ does not deny DESCRIBE');
  assert.equal(denyRead.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), false);
});

test('principal and host matching', () => {
  const a = authz([acl({ operation: Op.READ, host: HOST }), acl({ operation: Op.WRITE, principal: 'User:*' })]);
  assert.equal(a.authorize(ALICE, HOST, Op.READ, R.TOPIC, 'orders'), true);
  assert.equal(a.authorize(ALICE, '10.0.0.2', Op.READ, R.TOPIC, 'orders'), false, 'another host');
  assert.equal(a.authorize(BOB, HOST, Op.READ, R.TOPIC, 'orders'), false, 'another principal');
  assert.equal(a.authorize(BOB, '10.9.9.9', Op.WRITE, R.TOPIC, 'orders'), true, 'User:* from any host');
  assert.equal(normalizeHost('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeHost('::1'), '::1');
});

test('super users pass whatever the ACLs say', () => {
  const a = authz([acl({ operation: Op.ALL, principal: 'User:*', resourceName: '*', permissionType: AclPermission.DENY })], { superUsers: parseSuperUsers(' User:admin ; User:ops;') });
  assert.deepEqual(parseSuperUsers(' User:admin ; User:ops;'), ['User:admin', 'User:ops']);
  assert.equal(a.authorize('User:admin', HOST, Op.ALTER, R.CLUSTER, CLUSTER_NAME), true);
  assert.equal(a.authorize('User:ops', HOST, Op.WRITE, R.TOPIC, 'orders'), true);
  assert.equal(a.authorize(ALICE, HOST, Op.WRITE, R.TOPIC, 'orders'), false);
});

test('authorizeByResourceType: an allow not dominated by a deny', () => {
  assert.equal(authz([]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), false);
  assert.equal(authz([], { allowEveryoneIfNoAclFound: true }).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), true);
  assert.equal(authz([acl({ operation: Op.WRITE })]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), true);
  assert.equal(authz([acl({ operation: Op.READ })]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), false);
  assert.equal(authz([acl({ operation: Op.WRITE }), acl({ operation: Op.WRITE, permissionType: AclPermission.DENY })]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), false);
  const prefixDeny = acl({ operation: Op.WRITE, resourceName: 'ord', patternType: PatternType.PREFIXED, permissionType: AclPermission.DENY });
  assert.equal(authz([acl({ operation: Op.WRITE }), prefixDeny]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), false);
  assert.equal(authz([acl({ operation: Op.WRITE, resourceName: 'x' }), prefixDeny]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), true);
  assert.equal(authz([acl({ operation: Op.WRITE, resourceName: '*', permissionType: AclPermission.DENY }), acl({ operation: Op.WRITE, resourceName: 'x' })]).authorizeByResourceType(ALICE, HOST, Op.WRITE, R.TOPIC), false);
});

test('CreateAcls validation: Kafka\'s messages', () => {
  const ok = acl({ operation: Op.READ });
  assert.equal(newAclProblem(ok), undefined);
  assert.match(newAclProblem({ ...ok, resourceType: R.ANY })!, /Invalid resourceType ANY/);
  assert.match(newAclProblem({ ...ok, patternType: PatternType.MATCH })!, /Invalid patternType MATCH/);
  assert.match(newAclProblem({ ...ok, operation: Op.ANY })!, /Invalid operation ANY/);
  assert.match(newAclProblem({ ...ok, permissionType: AclPermission.ANY })!, /Invalid permissionType ANY/);
  assert.match(newAclProblem({ ...ok, resourceName: '' })!, /empty resource name/);
  assert.match(newAclProblem({ ...ok, resourceType: R.CLUSTER, resourceName: 'c' })!, /only valid name for the CLUSTER resource is kafka-cluster/);
  assert.match(newAclProblem({ ...ok, principal: 'alice' })!, /Could not parse principal/);
  assert.match(newAclProblem({ ...ok, resourceType: R.DELEGATION_TOKEN })!, /not supported/);
  assert.match(newAclProblem({ ...ok, resourceName: 'x'.repeat(1001) })!, /longer than 1000 bytes/);
});

test('filters: ANY, MATCH and exact', () => {
  const f = (p: Partial<AclBindingFilter>): AclBindingFilter => ({ resourceType: R.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permissionType: AclPermission.ANY, ...p });
  const lit = acl({ operation: Op.READ });
  const wild = acl({ operation: Op.READ, resourceName: '*' });
  const pre = acl({ operation: Op.READ, resourceName: 'ord', patternType: PatternType.PREFIXED });
  assert.ok([lit, wild, pre].every((b) => filterMatches(f({}), b)));
  const match = f({ resourceType: R.TOPIC, resourceName: 'orders', patternType: PatternType.MATCH });
  assert.deepEqual([lit, wild, pre].map((b) => filterMatches(match, b)), [true, true, true]);
  assert.equal(filterMatches(match, acl({ operation: Op.READ, resourceName: 'x', patternType: PatternType.PREFIXED })), false);
  const literal = f({ resourceName: 'orders', patternType: PatternType.LITERAL });
  assert.deepEqual([lit, wild, pre].map((b) => filterMatches(literal, b)), [true, false, false]);
  assert.equal(filterMatches(f({ principal: BOB }), lit), false);
  assert.equal(filterMatches(f({ operation: Op.WRITE }), lit), false);
  assert.equal(filterMatches(f({ permissionType: AclPermission.DENY }), lit), false);
  assert.equal(filterMatches(f({ resourceType: R.GROUP }), lit), false);
});
