// Migration 0002 (json documents, escaped client strings) on a database written before it, on PGlite
// and on PostgreSQL: every row reads back as it was written, U+0001 (the new escape character) included.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore, type MetadataStore } from '../../metadata/index.js';
import { defaultMigrationsFolder } from '../../metadata/migrate.js';
import { statement } from '../../metadata/driver.js';
import type { SqlMetadataStore } from '../../metadata/sql-store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

const BEFORE = '0002_json_documents_and_escaped_strings';

/** drizzle/ as it was before migration 0002. */
function migrationsBefore(folder: string): string {
  cpSync(defaultMigrationsFolder(), folder, { recursive: true });
  const journalFile = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ tag: string }> };
  const at = journal.entries.findIndex((e) => e.tag === BEFORE);
  assert.ok(at > 0, `${BEFORE} is in the journal`);
  journal.entries = journal.entries.slice(0, at);
  writeFileSync(journalFile, JSON.stringify(journal));
  return folder;
}

// U+0001 followed by '0' or '1' would read back as something else if the migration left it alone.
const GROUP = 'old\u00011group\u0001';
const MEMBERS = [{ memberId: 'm\u0001', clientId: 'c\u0001"\\u0001', clientHost: '/h', protocols: ['range'], subscription: 'AAEC', assignment: '' }];
const CONFIG = { 'retention.ms': '1000', 'cleanup.policy': 'delete' };

/** Rows as the store before 0002 wrote them: plain text, jsonb documents. */
async function writeOldRows(store: MetadataStore): Promise<void> {
  const db = (store as SqlMetadataStore).driver;
  await db.query(statement('test_old_topic', `INSERT INTO topics (name, partition_count, config, created_at, updated_at) VALUES ('old-topic', 1, $1::jsonb, 1, 1)`), [JSON.stringify(CONFIG)]);
  await db.query(
    statement('test_old_group', `INSERT INTO consumer_groups (group_id, state, protocol_type, protocol_name, generation, leader_id, members, created_at, updated_at)
      VALUES ($1, 'Stable', 'consumer', 'ra\u00010nge', 5, 'm\u00011', $2::jsonb, 1, 2)`),
    [GROUP, JSON.stringify(MEMBERS)],
  );
  await db.query(
    statement('test_old_offsets', `INSERT INTO consumer_offsets (group_id, topic, partition_id, committed_offset, leader_epoch, metadata, committed_at)
      VALUES ($1, 'old-topic', 0, 42, 3, 'meta\u00010data', 1000), ('plain', 'old-topic', 0, 7, -1, NULL, 1000)`),
    [GROUP],
  );
}

async function checkAfter(store: MetadataStore): Promise<void> {
  assert.deepEqual((await store.getTopic('old-topic'))!.config, CONFIG);
  const g = (await store.getGroup(GROUP))!;
  assert.deepEqual(
    [g.groupId, g.state, g.protocolType, g.protocolName, g.generation, g.leaderId, g.members],
    [GROUP, 'Stable', 'consumer', 'ra\u00010nge', 5, 'm\u00011', MEMBERS],
  );
  assert.deepEqual((await store.fetchOffsets(GROUP)).map((o) => [o.groupId, o.offset, o.leaderEpoch, o.metadata]), [[GROUP, 42, 3, 'meta\u00010data']]);
  assert.deepEqual((await store.fetchOffsets('plain')).map((o) => [o.offset, o.metadata]), [[7, null]]);
  // And the new strings work next to the old ones.
  await store.commitOffset(`${GROUP}\u0000`, { topic: 'old-topic', partitionId: 0, offset: 1, leaderEpoch: -1, metadata: '\u0000' });
  assert.deepEqual((await store.fetchOffsets(`${GROUP}\u0000`)).map((o) => o.metadata), ['\u0000']);
  assert.deepEqual((await store.fetchOffsets(GROUP)).map((o) => o.offset), [42]);
}

describe('migration 0002 keeps the data written before it', () => {
  const dirs: string[] = [];
  let server: PostgresServer | undefined;
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('on PGlite', async () => {
    const dataDir = tmp('streamhouse-mig-pglite-');
    const old = await openMetadataStore({ dataDir, migrationsFolder: migrationsBefore(tmp('streamhouse-mig-folder-')) });
    try {
      await writeOldRows(old);
    } finally {
      await old.close();
    }
    const store = await openMetadataStore({ dataDir });
    try {
      await checkAfter(store);
    } finally {
      await store.close();
    }
  });

  it('on PostgreSQL', async () => {
    const databaseUrl = await server!.createDatabase();
    const old = await openMetadataStore({ databaseUrl, dataDir: '', migrationsFolder: migrationsBefore(tmp('streamhouse-mig-folder-')) });
    try {
      await writeOldRows(old);
    } finally {
      await old.close();
    }
    const store = await openMetadataStore({ databaseUrl, dataDir: '' });
    try {
      await checkAfter(store);
    } finally {
      await store.close();
    }
  });
});
