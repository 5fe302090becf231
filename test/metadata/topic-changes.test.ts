// Topic change notifications on a real PostgreSQL: a change committed through one store reaches the
// feed of another agent as the topic's name; a listening connection that is killed comes back by
// itself and reports "everything may have changed".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openMetadataStore, TopicChangeFeed } from '../../metadata/index.js';
import type { MetadataStore } from '../../metadata/types.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

let server: PostgresServer;
let url: string;
let store: MetadataStore;

before(async () => {
  server = await startPostgres();
  url = await server.createDatabase();
  store = await openMetadataStore({ databaseUrl: url, dataDir: '' });
});
after(async () => {
  await store?.close();
  await server?.stop();
});

test('create, grow, reconfigure and delete are each announced with the topic name', async () => {
  const seen: Array<string | undefined> = [];
  const feed = new TopicChangeFeed(url, (t) => seen.push(t));
  await feed.start();
  try {
    assert.ok(feed.listening);
    assert.deepEqual(seen, [undefined]); // connected: whatever was cached before may be stale
    await store.createTopic({ name: 'announced', partitionCount: 1 });
    await store.addPartitions('announced', 2);
    await store.updateTopicConfig('announced', { 'retention.ms': '1000' });
    await store.deleteTopic('announced');
    await store.deleteTopic('announced'); // nothing deleted: nothing announced
    await waitFor('four announcements', () => seen.length >= 5 || undefined, 5000);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(seen, [undefined, 'announced', 'announced', 'announced', 'announced']);
  } finally {
    await feed.close();
  }
});

test('a killed listening connection reconnects and reports that changes may have been missed', async () => {
  const seen: Array<string | undefined> = [];
  const feed = new TopicChangeFeed(url, (t) => seen.push(t), { retryMs: 100 });
  await feed.start();
  try {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`);
    } finally {
      await admin.end();
    }
    await waitFor('the feed to reconnect', () => (feed.listening && seen.length >= 2) || undefined, 10_000);
    assert.deepEqual(seen, [undefined, undefined]);
    await store.createTopic({ name: 'after-reconnect', partitionCount: 1 });
    await waitFor('the announcement after reconnecting', () => seen.some((t) => t === 'after-reconnect') || undefined, 5000);
  } finally {
    await feed.close();
  }
});

test('sync: every other agent applies the change and confirms; one that does not answer is reported after the timeout', async () => {
  const applied: string[] = [];
  const order: string[] = [];
  let releaseB: (() => void) | undefined;
  const asker = new TopicChangeFeed(url, () => undefined, { agentId: 'agent a' });
  const b = new TopicChangeFeed(url, (t) => t && order.push(`change ${t}`), {
    agentId: 'agent b',
    onSync: async (topic) => {
      order.push(`sync ${topic}`);
      await new Promise<void>((r) => (releaseB = r));
      applied.push(`b:${topic}`);
    },
  });
  const c = new TopicChangeFeed(url, () => undefined, { agentId: 'agent-c', onSync: async (topic) => void applied.push(`c:${topic}`) });
  const feeds = [asker, b, c];
  await Promise.all(feeds.map((f) => f.start()));
  try {
    await store.createTopic({ name: 'synced', partitionCount: 1 });
    await store.deleteTopic('synced');
    const started = Date.now();
    const confirming = asker.sync('synced', ['agent a', 'agent b', 'agent-c'], 5000);
    await waitFor('b to be asked', () => releaseB !== undefined || undefined, 5000);
    // b saw the change itself before it was asked to confirm it (commit order).
    assert.deepEqual(order, ['change synced', 'change synced', 'sync synced']);
    releaseB!();
    assert.deepEqual(await confirming, [], 'both confirmed');
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(applied.sort(), ['b:synced', 'c:synced'], 'the asker does not answer itself');
    // An agent that is not listening is reported once the wait is over.
    const t0 = Date.now();
    assert.deepEqual(await asker.sync('synced', ['agent-c', 'agent-gone'], 300), ['agent-gone']);
    assert.ok(Date.now() - t0 >= 280);
  } finally {
    await Promise.all(feeds.map((f) => f.close()));
  }
});
