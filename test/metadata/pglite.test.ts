// The metadata contract against embedded PGlite persisted in a temporary data directory, directly and
// through the read-through cache.
import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../../metadata/index.js';
import { CachedMetadataStore } from '../../metadata/cache.js';
import type { MetadataStore } from '../../metadata/types.js';
import { metadataContract } from './contract.js';

let dataDir: string;
let store: MetadataStore;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-pglite-'));
  store = await openMetadataStore({ dataDir });
});

after(async () => {
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('metadata contract: PGlite', () => {
  metadataContract({
    get store() { return store; },
    get second() { return store; },
    get raw() { return store; },
    concurrent: false,
  });
});

describe('metadata contract: PGlite through the cache', () => {
  let cached: CachedMetadataStore | undefined;
  let cachedSecond: CachedMetadataStore | undefined;
  metadataContract({
    get store() { return (cached ??= new CachedMetadataStore(store)); },
    get second() { return (cachedSecond ??= new CachedMetadataStore(store)); },
    get raw() { return store; },
    concurrent: false,
  });
});
