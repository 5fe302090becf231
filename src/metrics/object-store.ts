// An ObjectStore decorator that counts every call: requests, bytes, latency and errors per operation,
// and the estimated request cost (agent-metrics.ts). The stores stay unaware of metrics; the agent
// wraps the one it created.
import { performance } from 'node:perf_hooks';
import type { ByteRange, ObjectInfo, ObjectStore } from '../../storage/types.js';
import { listRequests, type ObjectOp } from './cost.js';

export interface ObjectOpSink {
  objectOp(op: ObjectOp, seconds: number, bytes: number, ok: boolean, requests?: number): void;
  storeListed(bytes: number): void;
}

function sizeOf(body: Buffer | Buffer[]): number {
  if (Buffer.isBuffer(body)) return body.length;
  let n = 0;
  for (const b of body) n += b.length;
  return n;
}

export class InstrumentedObjectStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    private readonly sink: ObjectOpSink,
    /** A listing of this prefix is of every segment object (the orphan cleaner's): its size is what is stored. */
    private readonly segmentsPrefix = 'segments/',
  ) {}

  get kind(): ObjectStore['kind'] {
    return this.inner.kind;
  }

  get bucket(): string {
    return this.inner.bucket;
  }

  async put(key: string, body: Buffer | Buffer[]): Promise<void> {
    const t0 = performance.now();
    try {
      await this.inner.put(key, body);
      this.sink.objectOp('put', (performance.now() - t0) / 1000, sizeOf(body), true);
    } catch (err) {
      this.sink.objectOp('put', (performance.now() - t0) / 1000, 0, false);
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const t0 = performance.now();
    try {
      const b = await this.inner.get(key, range);
      this.sink.objectOp('get', (performance.now() - t0) / 1000, b.length, true);
      return b;
    } catch (err) {
      this.sink.objectOp('get', (performance.now() - t0) / 1000, 0, false);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const t0 = performance.now();
    try {
      await this.inner.delete(key);
      this.sink.objectOp('delete', (performance.now() - t0) / 1000, 0, true);
    } catch (err) {
      this.sink.objectOp('delete', (performance.now() - t0) / 1000, 0, false);
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const t0 = performance.now();
    try {
      const objects = await this.inner.list(prefix);
      this.sink.objectOp('list', (performance.now() - t0) / 1000, 0, true, listRequests(objects.length));
      if (prefix === this.segmentsPrefix) {
        let bytes = 0;
        for (const o of objects) bytes += o.size;
        this.sink.storeListed(bytes);
      }
      return objects;
    } catch (err) {
      this.sink.objectOp('list', (performance.now() - t0) / 1000, 0, false);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
