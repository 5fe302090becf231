// createObjectStore: the one constructor the agent calls, from its configuration.
import type { ObjectStore } from './types.js';
import { LocalObjectStore, type LocalStoreConfig } from './local-store.js';
import { S3ObjectStore, type S3StoreConfig } from './s3-store.js';

export type ObjectStoreConfig = LocalStoreConfig | S3StoreConfig;

export function createObjectStore(cfg: ObjectStoreConfig): ObjectStore {
  switch (cfg.kind) {
    case 'local':
      return new LocalObjectStore(cfg);
    case 's3':
      return new S3ObjectStore(cfg);
  }
}
