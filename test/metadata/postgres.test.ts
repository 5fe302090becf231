// The metadata contract against a real PostgreSQL server started by the test, directly and through
// the read-through cache.
import { after, before, describe } from 'node:test';
import { openMetadataStore } from '../../metadata/index.js';
import { CachedMetadataStore } from '../../metadata/cache.js';
import type { MetadataStore } from '../../metadata/types.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { metadataContract } from './contract.js';

let server: PostgresServer;
let store: MetadataStore;
let second: MetadataStore;

before(async () => {
  server = await startPostgres();
  const databaseUrl = await server.createDatabase();
  [store, second] = await Promise.all([
    openMetadataStore({ databaseUrl, dataDir: '' }),
    openMetadataStore({ databaseUrl, dataDir: '', pool: { max: 5 } }),
  ]);
});

after(async () => {
  await Promise.all([store?.close(), second?.close()]);
  await server?.stop();
});

describe('metadata contract: PostgreSQL', () => {
  metadataContract({
    get store() { return store; },
    get second() { return second; },
    get raw() { return store; },
    concurrent: true,
  });
});

describe('metadata contract: PostgreSQL through the cache', () => {
  let cached: CachedMetadataStore | undefined;
  let cachedSecond: CachedMetadataStore | undefined;
  metadataContract({
    get store() { return (cached ??= new CachedMetadataStore(store)); },
    get second() { return (cachedSecond ??= new CachedMetadataStore(second)); },
    get raw() { return store; },
    concurrent: true,
  });
});
