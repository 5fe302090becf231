// A real S3-compatible HTTP server for tests and benchmarks: fauxqs (in memory) on a free port,
// with one bucket. Clients reach it through @aws-sdk/client-s3 exactly as in production, with
// static test credentials and path-style addressing. It runs inside the test process (no child process
// to reap): it ends with it.
import { startFauxqs } from 'fauxqs';
import { randomBytes } from 'node:crypto';
import { freePort } from './ports.js';

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The config for createObjectStore (kind 's3') pointing at this server. */
  storeConfig(overrides?: Record<string, unknown>): {
    kind: 's3';
    bucket: string;
    region: string;
    endpoint: string;
    forcePathStyle: boolean;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  stop(): Promise<void>;
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3TestServer> {
  // The pinned SDK warns once per process on Node < 22; tests and benchmarks need not.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const port = await freePort();
  const server = await startFauxqs({ port, logger: false, host: '127.0.0.1' });
  const bucket = opts.bucket ?? `streamhouse-test-${randomBytes(4).toString('hex')}`;
  server.createBucket(bucket);
  const endpoint = `http://127.0.0.1:${server.port}`;
  const region = 'us-east-1';
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  return {
    endpoint,
    bucket,
    region,
    credentials,
    storeConfig: (overrides = {}) => ({ kind: 's3', bucket, region, endpoint, forcePathStyle: true, credentials, ...overrides }),
    stop: () => server.stop(),
  };
}
