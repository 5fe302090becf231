// Where an admin command reads from: flags over the environment, one target at a time; bootstrap lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootstrap } from '../../../src/admin/broker-client.js';
import { AdminError } from '../../../src/admin/errors.js';
import { chooseTarget, requireDatabase, type Target } from '../../../src/admin/target.js';

const usage = (pattern: RegExp) => (err: unknown) => err instanceof AdminError && err.exitCode === 2 && pattern.test(err.message);

test('a flag chooses the target; the environment only when no flag is given', () => {
  const env = { DATABASE_URL: 'postgres://env/db', STREAMHOUSE_DATA_DIR: '/env/dir' };
  assert.deepEqual(chooseTarget({ bootstrapServer: 'h:1' }, env), { kind: 'broker', value: 'h:1' });
  assert.deepEqual(chooseTarget({ databaseUrl: 'postgres://flag/db' }, env), { kind: 'postgres', value: 'postgres://flag/db' });
  assert.deepEqual(chooseTarget({ dataDir: './data' }, env), { kind: 'pglite', value: './data' });
  assert.deepEqual(chooseTarget({}, env), { kind: 'postgres', value: 'postgres://env/db' });
  assert.deepEqual(chooseTarget({}, { STREAMHOUSE_DATA_DIR: '/env/dir' }), { kind: 'pglite', value: '/env/dir' });
});

test('no target, two targets, an empty one: usage errors that say what to do', () => {
  assert.throws(() => chooseTarget({}, {}), usage(/--bootstrap-server HOST:PORT.*--database-url.*--data-dir/));
  assert.throws(() => chooseTarget({ bootstrapServer: 'h:1', dataDir: 'd' }, {}), usage(/--bootstrap-server and --data-dir cannot be used together/));
  assert.throws(() => chooseTarget({ databaseUrl: ' ' }, {}), usage(/--database-url must not be empty/));
});

test('bootstrap lists: host:port, default port 9092, IPv6 in brackets, bad entries refused', () => {
  assert.deepEqual(parseBootstrap('a:1, b ,[::1]:3'), [
    { host: 'a', port: 1 },
    { host: 'b', port: 9092 },
    { host: '::1', port: 3 },
  ]);
  assert.throws(() => parseBootstrap('a:0'), usage(/"a:0" is not host:port/));
  assert.throws(() => parseBootstrap('a:x'), usage(/not host:port/));
  assert.throws(() => parseBootstrap(' , '), usage(/no address/));
});

test('database-only commands name the flags to use through a broker', () => {
  const broker = { kind: 'broker' } as Target;
  assert.throws(() => requireDatabase(broker, 'leases'), usage(/leases reads the metadata database.*--database-url.*--data-dir/));
});
