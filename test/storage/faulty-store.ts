// A hook wrapper around any ObjectStore: records calls, injects failures, delays and corruption.
import type { ByteRange, ObjectInfo, ObjectStore } from '../../storage/types.js';
import { ObjectStoreError } from '../../storage/errors.js';

export interface StoreCall {
  op: 'put' | 'get' | 'delete' | 'list';
  key: string;
  range?: ByteRange;
  bytes?: number;
}

export class FaultyStore implements ObjectStore {
  readonly kind: 'local' | 's3';
  readonly bucket: string;
  readonly calls: StoreCall[] = [];
  /** The next N puts fail without writing. */
  failPuts = 0;
  /** The next N puts write the object, then fail (an ambiguous PUT). */
  failPutsAfterWrite = 0;
  /** The next N gets fail. */
  failGets = 0;
  putDelayMs = 0;
  /** When set, each put waits until a test calls `heldPuts[i]()` (i = order of the put). */
  holdEachPut = false;
  readonly heldPuts: Array<() => void> = [];
  /** Resolves a pending put gate (tests hold uploads open with holdPuts()). */
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  constructor(readonly inner: ObjectStore) {
    this.kind = inner.kind;
    this.bucket = inner.bucket;
  }

  holdPuts(): void {
    this.gate = new Promise((r) => (this.openGate = r));
  }

  releasePuts(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  count(op: StoreCall['op']): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  async put(key: string, body: Buffer | Buffer[]): Promise<void> {
    const bytes = Array.isArray(body) ? body.reduce((n, b) => n + b.length, 0) : body.length;
    this.calls.push({ op: 'put', key, bytes });
    if (this.gate !== undefined) await this.gate;
    if (this.holdEachPut) await new Promise<void>((r) => this.heldPuts.push(r));
    if (this.putDelayMs > 0) await new Promise((r) => setTimeout(r, this.putDelayMs));
    if (this.failPuts > 0) {
      this.failPuts--;
      throw new ObjectStoreError('put', key, 'injected failure (HTTP 503)', { retriable: true, status: 503 });
    }
    await this.inner.put(key, body);
    if (this.failPutsAfterWrite > 0) {
      this.failPutsAfterWrite--;
      throw new ObjectStoreError('put', key, 'injected failure after write (HTTP 500)', { retriable: true, status: 500 });
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.calls.push({ op: 'get', key, ...(range === undefined ? {} : { range }) });
    if (this.failGets > 0) {
      this.failGets--;
      throw new ObjectStoreError('get', key, 'injected failure (HTTP 503)', { retriable: true, status: 503 });
    }
    return this.inner.get(key, range);
  }

  async delete(key: string): Promise<void> {
    this.calls.push({ op: 'delete', key });
    return this.inner.delete(key);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.calls.push({ op: 'list', key: prefix });
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
