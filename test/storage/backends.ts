// The back ends every storage contract test runs against: a local directory and a real
// S3-compatible HTTP server (fauxqs) reached through @aws-sdk/client-s3.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createObjectStore } from '../../storage/object-store.js';
import type { ObjectStore } from '../../storage/types.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

export interface BackendCtx {
  name: 'local' | 's3';
  /** A fresh, empty store (its own directory or key prefix). */
  makeStore(extra?: Record<string, unknown>): ObjectStore;
  server?: S3TestServer;
  cleanup(): Promise<void>;
}

let n = 0;

export const BACKENDS: Array<{ name: 'local' | 's3'; start(): Promise<BackendCtx> }> = [
  {
    name: 'local',
    async start() {
      const dir = await mkdtemp(join(tmpdir(), 'streamhouse-store-'));
      return {
        name: 'local',
        makeStore: (extra = {}) => createObjectStore({ kind: 'local', dir: join(dir, `b${n++}`), ...extra }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 's3',
    async start() {
      const server = await startS3Server();
      return {
        name: 's3',
        server,
        makeStore: (extra = {}) =>
          createObjectStore({ ...server.storeConfig({ prefix: `t${n++}/`, retryBaseDelayMs: 5, maxAttempts: 4 }), ...extra } as never),
        cleanup: () => server.stop(),
      };
    },
  },
];
