// `streamhouse acls` option parsing: the bindings `add` creates and the filter `list`/`remove` apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindingsToAdd, filterOf, renderAcls, toRow } from '../../../src/admin/acls.js';
import { AdminError } from '../../../src/admin/errors.js';
import { AclOperation as Op, AclPermission, PatternType, ResourceType as R } from '../../../src/security/acl.js';

test('add: every principal × host × operation on one resource', () => {
  const b = bindingsToAdd({ allowPrincipal: ['User:a', 'User:b'], allowHost: ['10.0.0.1'], operation: ['read,write'], topic: 'orders' });
  assert.equal(b.length, 4);
  assert.deepEqual(b[0], { resourceType: R.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: 'User:a', host: '10.0.0.1', operation: Op.READ, permissionType: AclPermission.ALLOW });
  const deny = bindingsToAdd({ denyPrincipal: ['User:*'], operation: ['ALL'], topic: 'secret-', resourcePatternType: 'prefixed' });
  assert.deepEqual(deny.map((x) => [x.permissionType, x.patternType, x.host, x.operation]), [[AclPermission.DENY, PatternType.PREFIXED, '*', Op.ALL]]);
  assert.deepEqual(bindingsToAdd({ allowPrincipal: ['User:a'], operation: ['describe-configs'], cluster: true }).map((x) => [x.resourceType, x.resourceName, x.operation]), [[R.CLUSTER, 'kafka-cluster', Op.DESCRIBE_CONFIGS]]);
});

test('add: usage errors exit 2 and name what is missing or wrong', () => {
  const usage = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof AdminError && e.exitCode === 2 && re.test(e.message));
  usage(() => bindingsToAdd({ allowPrincipal: ['User:a'], operation: ['read'] }), /needs a resource/);
  usage(() => bindingsToAdd({ allowPrincipal: ['User:a'], topic: 't' }), /needs --operation/);
  usage(() => bindingsToAdd({ operation: ['read'], topic: 't' }), /--allow-principal/);
  usage(() => bindingsToAdd({ allowPrincipal: ['User:a'], operation: ['fly'], topic: 't' }), /unknown operation "fly"/);
  usage(() => bindingsToAdd({ allowPrincipal: ['User:a'], operation: ['any'], topic: 't' }), /unknown operation/);
  usage(() => bindingsToAdd({ allowPrincipal: ['a'], operation: ['read'], topic: 't' }), /Could not parse principal/);
  usage(() => bindingsToAdd({ allowPrincipal: ['User:a'], operation: ['read'], topic: 't', group: 'g' }), /name one resource/);
  usage(() => bindingsToAdd({ allowPrincipal: ['User:a'], operation: ['read'], topic: 't', resourcePatternType: 'match' }), /literal or prefixed/);
});

test('list/remove: unset options match anything; match pattern allowed', () => {
  assert.deepEqual(filterOf({}), { resourceType: R.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permissionType: AclPermission.ANY });
  const f = filterOf({ principal: 'User:a', topic: 'orders', resourcePatternType: 'match', operation: ['write'] });
  assert.deepEqual([f.resourceType, f.resourceName, f.patternType, f.principal, f.operation], [R.TOPIC, 'orders', PatternType.MATCH, 'User:a', Op.WRITE]);
  assert.equal(filterOf({ denyPrincipal: ['User:x'] }).permissionType, AclPermission.DENY);
});

test('the table escapes control characters in names', () => {
  const text = renderAcls([toRow({ resourceType: R.GROUP, resourceName: 'g\n1', patternType: PatternType.LITERAL, principal: 'User:a', host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW })]);
  assert.match(text, /g\\n1/);
  assert.equal(text.split('\n').length, 2);
});
