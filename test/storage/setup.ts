// Shared fixtures for writer/reader tests: a store (local dir unless given), the fake metadata,
// a writer with every partition of topic "t" opened, and a manual clock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../storage/local-store.js';
import type { ObjectStore } from '../../storage/types.js';
import { SegmentWriter, type SegmentWriterOptions } from '../../storage/segment-writer.js';
import { SegmentReader, type SegmentReaderOptions } from '../../storage/segment-reader.js';
import type { Clock, StorageLogger, Timers } from '../../storage/clock.js';
import { FakeMetadata } from './fake-metadata.js';
import { FaultyStore } from './faulty-store.js';

export const AGENT = 'agent-1';
export const EPOCH = 3;

export interface Rig {
  store: FaultyStore;
  meta: FakeMetadata;
  writer: SegmentWriter;
  newReader(opts?: Partial<SegmentReaderOptions>): SegmentReader;
  cleanup(): Promise<void>;
}

export async function rig(
  opts: Partial<SegmentWriterOptions> & { partitions?: number; store?: ObjectStore } = {},
): Promise<Rig> {
  let dir: string | undefined;
  let inner = opts.store;
  if (inner === undefined) {
    dir = await mkdtemp(join(tmpdir(), 'streamhouse-writer-'));
    inner = new LocalObjectStore({ kind: 'local', dir, fsync: false });
  }
  const store = new FaultyStore(inner);
  const meta = new FakeMetadata();
  const partitions = opts.partitions ?? 2;
  meta.addTopic('t', partitions, { agentId: AGENT, epoch: EPOCH });
  const writer = new SegmentWriter({ objectStore: store, metadata: meta, agentId: AGENT, flushMs: 2, commitRetryDelayMs: 1, ...opts });
  for (let p = 0; p < partitions; p++) writer.openPartition('t', p, { leaseEpoch: EPOCH, highWatermark: 0 });
  return {
    store,
    meta,
    writer,
    newReader: (o = {}) => new SegmentReader({ objectStore: store, metadata: meta, ...o }),
    cleanup: async () => {
      await writer.close().catch(() => {});
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A clock and timers that only move when told to. */
export class ManualTime implements Clock, Timers {
  private t = 1_700_000_000_000;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get timerCount(): number {
    return this.pending.size;
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

export function recordingLogger(): StorageLogger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, ...(msg === undefined ? {} : { msg }) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Whether a promise has settled (after letting pending microtasks and I/O callbacks run). */
export async function settled(p: Promise<unknown>, waitMs = 20): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, waitMs));
  return done;
}
