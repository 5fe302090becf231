// The S3 object store through @aws-sdk/client-s3. Credentials come from the standard AWS chain
// unless given explicitly (tests). The SDK's own retries are off: every call goes through our
// retry loop (exponential backoff with full jitter on throttling, 5xx, timeouts and network errors)
// and a semaphore that bounds concurrent requests. Each attempt has its own timeout, so a slow
// response is abandoned and retried rather than waited on forever.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { ByteRange, ObjectInfo, ObjectStore } from './types.js';
import { ObjectNotFoundError, ObjectStoreError } from './errors.js';
import { Semaphore, withRetry, type RetryPolicy } from './retry.js';
import { silentStorageLogger, type StorageLogger } from './clock.js';

export interface S3StoreConfig {
  kind: 's3';
  bucket: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Concurrent requests at most (default 64). */
  maxConcurrency?: number;
  /** Prepended to every key (e.g. "cluster-a/"); segment rows keep keys relative to it. */
  prefix?: string;
  /** Static credentials (tests); otherwise the standard AWS provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per call including the first (default 6). */
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Per-attempt timeout in ms (default 30 000); covers a whole request including the body. */
  attemptTimeoutMs?: number;
  /** Objects larger than this go up as a multipart upload in parts of this size (default 8 MiB, at least 5 MiB). */
  multipartPartBytes?: number;
  /** ListObjectsV2 page size (default 1000; tests lower it to exercise paging). */
  listPageSize?: number;
  logger?: StorageLogger;
}

const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
const MIN_PART_BYTES = 5 * 1024 * 1024; // S3's smallest part (but the last)
const MULTIPART_CONCURRENCY = 4;

/** Bytes [start, end) of the concatenation of `bufs`, copied only where a part spans buffers. */
function sliceAcross(bufs: Buffer[], start: number, end: number): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (const b of bufs) {
    const bStart = pos;
    pos += b.length;
    if (pos <= start) continue;
    if (bStart >= end) break;
    out.push(b.subarray(Math.max(0, start - bStart), Math.min(b.length, end - bStart)));
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

const RETRIABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'AbortError',
  'IncompleteBody',
]);
const RETRIABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

interface SdkErrorLike {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkErrorLike)?.$metadata?.httpStatusCode;
}

export function isRetriableS3Error(err: unknown): boolean {
  if (err instanceof ObjectNotFoundError) return false;
  if (err instanceof ObjectStoreError) return err.retriable;
  const e = err as SdkErrorLike;
  if (e === null || typeof e !== 'object') return false;
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.name !== undefined && RETRIABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && RETRIABLE_CODES.has(e.code)) return true;
  if (e.$retryable !== undefined) return true;
  // Errors without an HTTP status are transport failures (socket closed, DNS, parse of a cut body).
  return status === undefined;
}

function isNotFound(err: unknown): boolean {
  const e = err as SdkErrorLike;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || statusOf(err) === 404;
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly client: S3Client;
  private readonly prefix: string;
  private readonly sem: Semaphore;
  private readonly policy: RetryPolicy;
  private readonly attemptTimeoutMs: number;
  private readonly listPageSize: number;
  private readonly partBytes: number;
  private readonly log: StorageLogger;
  /** Request counters (benchmarks, tests). */
  readonly stats = { put: 0, get: 0, delete: 0, list: 0, retries: 0, failures: 0 };

  constructor(cfg: S3StoreConfig) {
    this.bucket = cfg.bucket;
    this.prefix = cfg.prefix ?? '';
    const maxConcurrency = cfg.maxConcurrency ?? 64;
    this.sem = new Semaphore(maxConcurrency);
    this.policy = {
      maxAttempts: cfg.maxAttempts ?? 6,
      baseDelayMs: cfg.retryBaseDelayMs ?? 50,
      maxDelayMs: cfg.retryMaxDelayMs ?? 2_000,
    };
    this.attemptTimeoutMs = cfg.attemptTimeoutMs ?? 30_000;
    this.listPageSize = cfg.listPageSize ?? 1000;
    this.partBytes = Math.max(MIN_PART_BYTES, cfg.multipartPartBytes ?? DEFAULT_PART_BYTES);
    this.log = cfg.logger ?? silentStorageLogger;
    const clientCfg: S3ClientConfig = {
      region: cfg.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      maxAttempts: 1, // our retry loop, not the SDK's
      forcePathStyle: cfg.forcePathStyle ?? false,
      requestHandler: {
        connectionTimeout: Math.min(5_000, this.attemptTimeoutMs),
        requestTimeout: this.attemptTimeoutMs,
        httpAgent: { keepAlive: true, maxSockets: maxConcurrency },
        httpsAgent: { keepAlive: true, maxSockets: maxConcurrency },
      },
    };
    if (cfg.endpoint !== undefined) clientCfg.endpoint = cfg.endpoint;
    if (cfg.credentials !== undefined) clientCfg.credentials = cfg.credentials;
    this.client = new S3Client(clientCfg);
  }

  private fullKey(key: string): string {
    return this.prefix + key;
  }

  /** One call: semaphore slot per attempt, per-attempt timeout, retries with jittered backoff. */
  private async call<T>(op: string, key: string | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withRetry(
        this.policy,
        async () => {
          const release = await this.sem.acquire();
          const ac = new AbortController();
          const timer = setTimeout(() => ac.abort(), this.attemptTimeoutMs);
          try {
            return await fn(ac.signal);
          } catch (err) {
            if (ac.signal.aborted && !(err instanceof ObjectNotFoundError)) {
              throw new ObjectStoreError(op, key, `attempt timed out after ${this.attemptTimeoutMs} ms`, { retriable: true, cause: err });
            }
            throw err;
          } finally {
            clearTimeout(timer);
            release();
          }
        },
        (err) => !isNotFound(err) && isRetriableS3Error(err),
        {
          onRetry: (err, attempt, delayMs) => {
            this.stats.retries++;
            this.log.debug({ op, key, attempt, delayMs, err: String(err) }, 'object store call failed; retrying');
          },
        },
      );
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw err;
      if (isNotFound(err)) throw new ObjectNotFoundError(key ?? '', { cause: err });
      this.stats.failures++;
      if (err instanceof ObjectStoreError) throw err;
      const status = statusOf(err);
      const name = (err as SdkErrorLike)?.name ?? 'Error';
      throw new ObjectStoreError(op, key, `${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${(err as Error)?.message ?? err}`, {
        retriable: isRetriableS3Error(err),
        status,
        cause: err,
      });
    }
  }

  async put(key: string, body: Buffer | Buffer[]): Promise<void> {
    const bufs = Array.isArray(body) ? body : [body];
    let size = 0;
    for (const b of bufs) size += b.length;
    if (size > this.partBytes) return this.putMultipart(key, bufs, size);
    const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    this.stats.put++;
    await this.call('put', key, (abortSignal) =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Body: data, ContentLength: data.length }),
        { abortSignal },
      ),
    );
  }

  /**
   * A large object (a merged segment) in parts: each part is retried on its own, a few go at once, and
   * S3-compatible servers that cap a request body (the S3 test server at 11 MiB) take it. A failed upload
   * is aborted; one left by a crash is S3's to expire (a lifecycle rule AbortIncompleteMultipartUpload).
   */
  private async putMultipart(key: string, body: Buffer[], size: number): Promise<void> {
    const Bucket = this.bucket;
    const Key = this.fullKey(key);
    this.stats.put++;
    const created = await this.call('put', key, (abortSignal) => this.client.send(new CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal }));
    const UploadId = created.UploadId;
    if (UploadId === undefined) throw new ObjectStoreError('put', key, 'CreateMultipartUpload answered without an UploadId', { retriable: false });
    const count = Math.ceil(size / this.partBytes);
    const etags: string[] = new Array(count);
    try {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const part = sliceAcross(body, i * this.partBytes, Math.min(size, (i + 1) * this.partBytes));
          this.stats.put++;
          const res = await this.call('put', key, (abortSignal) =>
            this.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: part, ContentLength: part.length }), { abortSignal }),
          );
          if (res.ETag === undefined) throw new ObjectStoreError('put', key, `part ${i + 1} answered without an ETag`, { retriable: false });
          etags[i] = res.ETag;
        }
      };
      await Promise.all(Array.from({ length: Math.min(MULTIPART_CONCURRENCY, count) }, worker));
      this.stats.put++;
      await this.call('put', key, (abortSignal) =>
        this.client.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
          { abortSignal },
        ),
      );
    } catch (err) {
      await this.call('put', key, (abortSignal) => this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal })).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.stats.get++;
    return this.call('get', key, async (abortSignal) => {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
        }),
        { abortSignal },
      );
      if (res.Body === undefined) throw new ObjectStoreError('get', key, 'response without a body', { retriable: true });
      const bytes = await res.Body.transformToByteArray();
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (res.ContentLength !== undefined && res.ContentLength !== buf.length) {
        throw new ObjectStoreError('get', key, `short body: ${buf.length} of ${res.ContentLength} bytes`, { retriable: true });
      }
      if (range !== undefined && buf.length > range.end - range.start + 1) {
        throw new ObjectStoreError('get', key, 'server ignored the Range header', { retriable: false });
      }
      return buf;
    });
  }

  async delete(key: string): Promise<void> {
    this.stats.delete++;
    try {
      await this.call('delete', key, (abortSignal) =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), { abortSignal }),
      );
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      this.stats.list++;
      const res = await this.call('list', prefix, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.fullKey(prefix),
            MaxKeys: this.listPageSize,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          { abortSignal },
        ),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
