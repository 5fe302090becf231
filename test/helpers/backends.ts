// The two configurations every end-to-end test runs against: the embedded defaults (PGlite + a
// local object directory) and real PostgreSQL + the S3 test server. Each returns the environment
// to start the agent with.
import { startPostgres, type PostgresServer } from './postgres.js';
import { startS3Server, type S3TestServer } from './s3-server.js';

export type BackendName = 'embedded' | 'postgres+s3';
export const BACKENDS: readonly BackendName[] = ['embedded', 'postgres+s3'];

export interface Backend {
  readonly name: BackendName;
  readonly env: Record<string, string>;
  readonly postgres?: PostgresServer;
  readonly s3?: S3TestServer;
  stop(): Promise<void>;
}

export async function startBackend(name: BackendName): Promise<Backend> {
  if (name === 'embedded') return { name, env: {}, stop: async () => undefined };
  const [postgres, s3] = await Promise.all([startPostgres(), startS3Server()]);
  const url = await postgres.createDatabase();
  return {
    name,
    postgres,
    s3,
    env: {
      DATABASE_URL: url,
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    async stop() {
      await Promise.all([postgres.stop(), s3.stop()]);
    },
  };
}
