// ACL changes reach another agent on a real PostgreSQL: through NOTIFY while its listening connection
// is up, and a change committed while that connection is down is picked up anyway (the reconnection
// reloads the whole set; polling every second meanwhile).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openMetadataStore } from '../../metadata/index.js';
import type { MetadataStore } from '../../metadata/types.js';
import { AclOperation as Op, AclPermission, PatternType, ResourceType as R, type AclBinding } from '../../src/security/acl.js';
import { AclSync } from '../../src/security/acl-sync.js';
import { Authorizer } from '../../src/security/authorizer.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const skip = findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false;
let server: PostgresServer;
let url: string;
let writer: MetadataStore;
let reader: MetadataStore;

const grant = (name: string): AclBinding => ({ resourceType: R.TOPIC, resourceName: name, patternType: PatternType.LITERAL, principal: 'User:a', host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW });

before(async () => {
  if (skip) return;
  server = await startPostgres();
  url = await server.createDatabase();
  writer = await openMetadataStore({ databaseUrl: url, dataDir: '' });
  reader = await openMetadataStore({ databaseUrl: url, dataDir: '' });
});
after(async () => {
  await writer?.close();
  await reader?.close();
  await server?.stop();
});

test('created and deleted ACLs reach the other agent, also across a lost listening connection', { skip }, async () => {
  const auth = new Authorizer();
  const sync = new AclSync(reader, auth, { databaseUrl: url, pollMs: 600_000 });
  await sync.start();
  const may = (name: string) => auth.authorize('User:a', '10.0.0.1', Op.READ, R.TOPIC, name);
  try {
    await writer.createAcls([grant('one')]);
    await waitFor('the notified creation', () => may('one') || undefined, 10_000);
    await writer.deleteAcls([grant('one')]);
    await waitFor('the notified deletion', () => !may('one') || undefined, 10_000);
    // Kill the listening connection and change the ACLs before it is back: no notification reaches us.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`);
    } finally {
      await admin.end();
    }
    await writer.createAcls([grant('while-down')]);
    await waitFor('the change made while not listening', () => may('while-down') || undefined, 10_000);
  } finally {
    await sync.close();
  }
});
