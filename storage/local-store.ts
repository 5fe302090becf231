// The local-directory object store (the embedded default, under the data directory). A put writes
// a temp file, fdatasyncs it, renames it over the key's path and fsyncs the directory, so after a crash
// an object is either whole or absent. Keys map to paths; '/' in a key makes subdirectories.
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { ByteRange, ObjectInfo, ObjectStore } from './types.js';
import { ObjectNotFoundError, ObjectStoreError } from './errors.js';

const TEMP_SUFFIX = '.shtmp';
const MAX_IOV = 512;

export interface LocalStoreConfig {
  kind: 'local';
  dir: string;
  /** fsync file and directory on put (default true; tests and benchmarks may turn it off). */
  fsync?: boolean;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;
  readonly bucket: string;
  private readonly fsync: boolean;
  private readonly knownDirs = new Set<string>();
  /** Open directory handles kept for fsync after rename (segment objects go to a few directories). */
  private readonly dirHandles = new Map<string, Promise<FileHandle>>();

  constructor(cfg: LocalStoreConfig) {
    this.bucket = resolve(cfg.dir);
    this.fsync = cfg.fsync ?? true;
  }

  private pathOf(key: string): string {
    const parts = key.split('/');
    if (
      key.length === 0 ||
      key.endsWith(TEMP_SUFFIX) ||
      parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0'))
    ) {
      throw new ObjectStoreError('put', key, 'invalid object key', { retriable: false });
    }
    return join(this.bucket, ...parts);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    // Directories created now must themselves survive a crash: fsync each new one's parent.
    const missing: string[] = [];
    for (let d = dir; d.length > this.bucket.length; d = dirname(d)) {
      try {
        await stat(d);
        break;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        missing.push(d);
      }
    }
    await mkdir(dir, { recursive: true });
    if (this.fsync) for (const d of missing) await this.syncDir(dirname(d));
    this.knownDirs.add(dir);
  }

  private async syncDir(dir: string): Promise<void> {
    let h = this.dirHandles.get(dir);
    if (h === undefined) {
      if (this.dirHandles.size >= 16) {
        const [oldDir, oldHandle] = this.dirHandles.entries().next().value as [string, Promise<FileHandle>];
        this.dirHandles.delete(oldDir);
        void oldHandle.then((fh) => fh.close()).catch(() => {});
      }
      h = open(dir, 'r');
      this.dirHandles.set(dir, h);
      h.catch(() => this.dirHandles.delete(dir));
    }
    await (await h).sync();
  }

  async put(key: string, body: Buffer | Buffer[]): Promise<void> {
    try {
      await this.putOnce(key, body);
    } catch (err) {
      if (!(err instanceof ObjectStoreError && isErrno(err.cause, 'ENOENT'))) throw err;
      // The directory vanished under us (removed by hand?): forget what we knew and retry once.
      const dir = dirname(this.pathOf(key));
      this.knownDirs.delete(dir);
      const h = this.dirHandles.get(dir);
      this.dirHandles.delete(dir);
      void h?.then((fh) => fh.close()).catch(() => {});
      await this.putOnce(key, body);
    }
  }

  private async putOnce(key: string, body: Buffer | Buffer[]): Promise<void> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    const tmp = `${path}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    const parts = Array.isArray(body) ? body.filter((b) => b.length > 0) : [body];
    try {
      await this.ensureDir(dir);
      const fh = await open(tmp, 'wx');
      try {
        let pos = 0;
        for (let i = 0; i < parts.length; i += MAX_IOV) {
          let slice = parts.slice(i, i + MAX_IOV);
          while (slice.length > 0) {
            const { bytesWritten } = await fh.writev(slice, pos);
            pos += bytesWritten;
            // Partial writes are rare for regular files, but possible: continue where it stopped.
            let n = bytesWritten;
            while (slice.length > 0 && n >= slice[0].length) {
              n -= slice[0].length;
              slice = slice.slice(1);
            }
            if (n > 0) slice = [slice[0].subarray(n), ...slice.slice(1)];
          }
        }
        // fdatasync: the data and what is needed to read it back (size, blocks), not timestamps; the
        // directory entry is made durable by the directory fsync below. Measured: local produce p99
        // latency at 10 MB/s 43 -> 37 ms (median of 6 alternating runs each).
        if (this.fsync) await fh.datasync();
      } catch (err) {
        await fh.close().catch(() => {});
        throw err;
      }
      // The data is synced; closing and renaming need not wait for each other (fewer round trips).
      await Promise.all([fh.close(), rename(tmp, path)]);
      if (this.fsync) await this.syncDir(dir);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      if (err instanceof ObjectStoreError) throw err;
      throw new ObjectStoreError('put', key, (err as Error).message, { retriable: true, cause: err });
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(key);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw new ObjectNotFoundError(key, { cause: err });
      throw new ObjectStoreError('get', key, (err as Error).message, { retriable: true, cause: err });
    }
    try {
      const size = (await fh.stat()).size;
      let start = 0;
      let end = size - 1;
      if (range !== undefined) {
        // Same rules as an HTTP Range on S3: the end is clamped, a start past the end is an error.
        if (range.start < 0 || range.end < range.start || (range.start >= size && size > 0) || (size === 0 && range.start > 0)) {
          throw new ObjectStoreError('get', key, `range ${range.start}-${range.end} not satisfiable (size ${size})`, {
            retriable: false,
            status: 416,
          });
        }
        start = range.start;
        end = Math.min(range.end, size - 1);
      }
      const len = Math.max(0, end - start + 1);
      const out = Buffer.allocUnsafe(len);
      let done = 0;
      while (done < len) {
        const { bytesRead } = await fh.read(out, done, len - done, start + done);
        if (bytesRead === 0) throw new ObjectStoreError('get', key, 'file shrank while reading', { retriable: true });
        done += bytesRead;
      }
      return out;
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      throw new ObjectStoreError('get', key, (err as Error).message, { retriable: true, cause: err });
    } finally {
      await fh.close();
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      if (err instanceof ObjectStoreError) throw err;
      throw new ObjectStoreError('delete', key, (err as Error).message, { retriable: true, cause: err });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Start the walk at the deepest directory the prefix names.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash + 1);
    const out: ObjectInfo[] = [];
    const walk = async (relDir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.bucket, ...relDir.split('/').filter(Boolean)), { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
        throw new ObjectStoreError('list', prefix, (err as Error).message, { retriable: true, cause: err });
      }
      for (const e of entries) {
        const key = relDir + e.name;
        if (e.isDirectory()) {
          const asDir = key + '/';
          if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await walk(asDir);
        } else if (e.isFile() && !e.name.endsWith(TEMP_SUFFIX) && key.startsWith(prefix)) {
          try {
            const st = await stat(join(this.bucket, ...key.split('/')));
            out.push({ key, size: st.size, lastModified: st.mtimeMs });
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err; // deleted meanwhile
          }
        }
      }
    };
    await walk(baseKey);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  /** Deletes temp files left by puts interrupted by a crash (older than `olderThanMs`). */
  async removeStaleTempFiles(olderThanMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = dir + sep + e.name;
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith(TEMP_SUFFIX)) {
          const st = await stat(p).catch(() => undefined);
          if (st !== undefined && now - st.mtimeMs > olderThanMs) {
            await unlink(p).catch(() => {});
            removed++;
          }
        }
      }
    };
    await walk(this.bucket);
    return removed;
  }

  async close(): Promise<void> {
    const handles = [...this.dirHandles.values()];
    this.dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh.close()).catch(() => {})));
  }
}
