// PGlite specifics: what was written survives close and reopen of the data directory, migrations are
// not re-applied, and the directory is locked against a second opener (same process or another one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnTracked } from '../helpers/reaper.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openMetadataStore } from '../../metadata/index.js';
import { defaultMigrationsFolder } from '../../metadata/migrate.js';
import type { SqlMetadataStore } from '../../metadata/sql-store.js';
import { statement } from '../../metadata/driver.js';
import { DataDirInUseError } from '../../src/data-dir-lock.js';
import { projectRoot } from '../helpers/paths.js';
import { flushEntry } from './contract.js';

test('PGlite: data survives close and reopen; migrations run once; the directory is locked', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-pglite-reopen-'));
  try {
    let store = await openMetadataStore({ dataDir });
    assert.equal(store.kind, 'pglite');
    const topic = await store.createTopic({ name: 'kept', partitionCount: 2, config: { 'retention.ms': '1000' } });
    const lease = (await store.acquirePartitionLease('kept', 1, 'agent-1', 60_000))!;
    assert.deepEqual(await store.commitFlush('agent-1', [flushEntry('kept', 1, lease.epoch, 0, 25)]), { committed: true });
    await store.commitOffsets('group-1', [{ topic: 'kept', partitionId: 1, offset: 20, leaderEpoch: 1, metadata: 'm' }]);
    await store.registerAgent({ agentId: 'agent-1', host: 'localhost', port: 9092 });

    // A second opener in this process is refused while the store is open.
    await assert.rejects(openMetadataStore({ dataDir }), (err: unknown) => err instanceof DataDirInUseError && /in use by this process/.test(err.message));
    await store.close();

    store = await openMetadataStore({ dataDir });
    try {
      assert.deepEqual(await store.getTopic('kept'), topic);
      assert.equal((await store.getPartition('kept', 1))!.highWatermark, 25);
      assert.equal((await store.getPartition('kept', 1))!.leaderEpoch, lease.epoch);
      assert.equal((await store.findSegmentForOffset('kept', 1, 24))!.baseOffset, 0);
      assert.equal((await store.fetchOffsets('group-1'))[0]!.offset, 20);
      assert.equal((await store.listPartitionLeases('kept'))[0]!.epoch, lease.epoch);
      assert.ok((await store.listLiveAgents(60_000)).some((a) => a.agentId === 'agent-1'));
      const journal = JSON.parse(readFileSync(join(defaultMigrationsFolder(), 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
      const [row] = await (store as SqlMetadataStore).driver.query<{ n: number }>(
        statement('test_count_migrations', 'SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations'),
      );
      assert.equal(row!.n, journal.entries.length, 'each migration applied exactly once');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('PGlite: a directory locked by another live process is refused, naming that process', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-pglite-locked-'));
  const here = fileURLToPath(import.meta.url);
  const underTsx = here.endsWith('.ts');
  const lockModule = resolve(dirname(here), '..', '..', 'src', `data-dir-lock${underTsx ? '.ts' : '.js'}`);
  const script = join(dataDir, 'holder.mjs');
  // The other process holds the lock the store takes on <dataDir>/metadata (as a second agent would).
  writeFileSync(
    script,
    `import { acquireDataDirLock } from ${JSON.stringify(pathToFileURL(lockModule).href)};
     await acquireDataDirLock(process.argv[2]);
     process.stdout.write('locked\\n');
     setInterval(() => {}, 1000);`,
  );
  const child = spawnTracked(process.execPath, [...(underTsx ? ['--import', 'tsx'] : []), script, join(dataDir, 'metadata')], {
    cwd: projectRoot(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolveLocked, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolveLocked());
      child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
    });
    await assert.rejects(openMetadataStore({ dataDir }), (err: unknown) => {
      assert.ok(err instanceof DataDirInUseError);
      assert.equal(err.pid, child.pid);
      assert.match(err.message, new RegExp(`is in use by process ${child.pid}`));
      return true;
    });
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
