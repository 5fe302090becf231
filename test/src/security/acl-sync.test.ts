// AclSync without a database: reloads replace the set, never overlap, and a failed reload keeps the
// previous set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AclOperation as Op, AclPermission, PatternType, ResourceType as R, type AclBinding } from '../../../src/security/acl.js';
import { Authorizer } from '../../../src/security/authorizer.js';
import { AclSync } from '../../../src/security/acl-sync.js';

const read = (name: string): AclBinding => ({ resourceType: R.TOPIC, resourceName: name, patternType: PatternType.LITERAL, principal: 'User:a', host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW });

class FakeStore {
  acls: AclBinding[] = [];
  calls = 0;
  running = 0;
  maxRunning = 0;
  fail = false;
  gate: Promise<void> = Promise.resolve();
  async listAcls(): Promise<AclBinding[]> {
    this.calls++;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await this.gate;
      if (this.fail) throw new Error('database down');
      return [...this.acls];
    } finally {
      this.running--;
    }
  }
}

test('start loads the set; reload replaces it', async () => {
  const store = new FakeStore();
  store.acls = [read('a')];
  const auth = new Authorizer();
  const sync = new AclSync(store, auth, { pollMs: 60_000 });
  await sync.start();
  assert.equal(auth.authorize('User:a', 'h', Op.READ, R.TOPIC, 'a'), true);
  store.acls = [read('b')];
  await sync.reload();
  assert.equal(auth.authorize('User:a', 'h', Op.READ, R.TOPIC, 'a'), false);
  assert.equal(auth.authorize('User:a', 'h', Op.READ, R.TOPIC, 'b'), true);
  await sync.close();
});

test('reloads asked for during one run one more after it, never in parallel; each caller sees a load started after its call', async () => {
  const store = new FakeStore();
  const auth = new Authorizer();
  const sync = new AclSync(store, auth, { pollMs: 60_000 });
  await sync.start();
  let open!: () => void;
  store.gate = new Promise((r) => (open = r));
  const first = sync.reload();
  store.acls = [read('late')];
  const others = [sync.reload(), sync.reload(), sync.reload()];
  open();
  await Promise.all([first, ...others]);
  assert.equal(store.maxRunning, 1);
  assert.equal(store.calls, 3, 'start, the first reload, one more for the three asked during it');
  assert.equal(auth.authorize('User:a', 'h', Op.READ, R.TOPIC, 'late'), true);
  await sync.close();
});

test('a failed reload keeps the previous set', async () => {
  const store = new FakeStore();
  store.acls = [read('a')];
  const auth = new Authorizer();
  const warnings: string[] = [];
  const sync = new AclSync(store, auth, { pollMs: 60_000, logger: { warn: (_o, m) => warnings.push(m ?? ''), info: () => undefined } });
  await sync.start();
  store.fail = true;
  await sync.reload();
  assert.equal(auth.authorize('User:a', 'h', Op.READ, R.TOPIC, 'a'), true);
  assert.match(warnings[0]!, /keeping the previous set/);
  await sync.close();
});
