// A hostile Kafka client, for the abuse test and benchmark: decompression bombs, record batches whose
// headers lie, slow and half-sent frames, garbage. Every builder returns bytes a real producer could
// put on the wire; the broker must refuse them with Kafka's error or close the connection.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  buildRecordBatch,
  buildRecordBatchSync,
  recomputeBatchCrc,
  CompressionType,
} from '../../protocol/record-batch.js';

const MiB = 1024 * 1024;

/**
 * A zstd frame of `size` zero bytes made of RLE blocks (4 bytes each for 128 KiB of output), without
 * Frame_Content_Size: a decoder learns the size only by decompressing. 1 GiB is 32 KiB on the wire.
 */
export function zstdBomb(size: number): Buffer {
  const BLOCK = 128 * 1024;
  const blocks = Math.ceil(size / BLOCK);
  const out = Buffer.alloc(4 + 2 + blocks * 4);
  out.writeUInt32LE(0xfd2fb528, 0); // magic
  out[4] = 0x00; // no content size, not single-segment, no checksum, no dictionary
  out[5] = (17 - 10) << 3; // window 128 KiB
  let pos = 6;
  for (let i = 0; i < blocks; i++) {
    const n = Math.min(BLOCK, size - i * BLOCK);
    const last = i === blocks - 1 ? 1 : 0;
    const header = last | (1 << 1) | (n << 3); // RLE block of n bytes
    out[pos] = header & 0xff;
    out[pos + 1] = (header >> 8) & 0xff;
    out[pos + 2] = (header >> 16) & 0xff;
    out[pos + 3] = 0; // the repeated byte
    pos += 4;
  }
  return out;
}

/** A gzip stream of `size` zero bytes (about 1 KiB per MiB), compressed without holding them. */
export async function gzipBomb(size: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gz.on('data', (d: Buffer) => parts.push(d));
  const done = once(gz, 'end');
  const zeros = Buffer.alloc(MiB);
  for (let left = size; left > 0; left -= zeros.length) {
    if (!gz.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await once(gz, 'drain');
  }
  gz.end();
  await done;
  return Buffer.concat(parts);
}

/** A one-record batch header (CreateTime, no producer id) around `payload` as compressed records. */
export function compressedBatch(codec: 'gzip' | 'zstd' | 'lz4' | 'snappy', payload: Buffer, timestamp = Date.now()): Buffer {
  const template = buildRecordBatchSync({ baseTimestamp: timestamp, records: [{ value: 'x', timestamp }] });
  const batch = Buffer.alloc(RECORDS_OFFSET + payload.length);
  template.copy(batch, 0, 0, RECORDS_OFFSET);
  payload.copy(batch, RECORDS_OFFSET);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET) & ~0x7;
  batch.writeInt16BE(attributes | CompressionType[codec], ATTRIBUTES_OFFSET);
  recomputeBatchCrc(batch);
  return batch;
}

export type LyingHeader = 'maxTimestampMax' | 'maxTimestampZero' | 'countMax' | 'badOffsetDeltas';

/**
 * A batch with a valid CRC whose header (or records) lies: maxTimestamp 2^63-1 or 0 (1970) over
 * records stamped now, recordsCount 2^31-1 over three records, or offset deltas 0, 5, 9.
 */
export async function lyingBatch(kind: LyingHeader, compression: 'none' | 'lz4' = 'none'): Promise<Buffer> {
  const now = Date.now();
  const records = ['a', 'b', 'c'].map((value, i) => ({ value, timestamp: now, offsetDelta: kind === 'badOffsetDeltas' ? [0, 5, 9][i] : i }));
  const b = await buildRecordBatch({ baseTimestamp: now, compression: CompressionType[compression], records });
  if (kind === 'maxTimestampMax') b.writeBigInt64BE(2n ** 63n - 1n, MAX_TIMESTAMP_OFFSET);
  if (kind === 'maxTimestampZero') b.writeBigInt64BE(0n, MAX_TIMESTAMP_OFFSET);
  if (kind === 'countMax') {
    b.writeInt32BE(2 ** 31 - 1, RECORDS_COUNT_OFFSET);
    b.writeInt32BE(2 ** 31 - 2, LAST_OFFSET_DELTA_OFFSET);
  }
  recomputeBatchCrc(b);
  return b;
}

/** Connections that each announce a frame and then send one byte per `intervalMs`, forever. */
export async function slowConnections(port: number, count: number, opts: { host?: string; localAddress?: string; intervalMs?: number } = {}) {
  const sockets: Socket[] = [];
  let closed = 0;
  const frameHead = Buffer.alloc(4);
  frameHead.writeInt32BE(1000);
  for (let i = 0; i < count; i++) {
    const s = connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    sockets.push(s);
    s.once('connect', () => s.write(frameHead));
  }
  const timer = setInterval(() => {
    for (const s of sockets) if (!s.destroyed && s.writable) s.write(Buffer.from([0]));
  }, opts.intervalMs ?? 1000);
  return {
    /** How many of them the broker has closed (or failed to accept). */
    closed: () => closed,
    stop() {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * Connections that each send the first `fraction` of a `frameBytes` Produce frame and then wait:
 * memory a broker would hold for frames that never complete.
 */
export async function partialFrames(port: number, count: number, frameBytes: number, fraction: number, opts: { host?: string; localAddress?: string } = {}) {
  const sockets: Socket[] = [];
  let closed = 0;
  const chunk = Buffer.alloc(MiB);
  const head = Buffer.alloc(8);
  head.writeInt32BE(frameBytes - 4, 0);
  head.writeInt16BE(0, 4); // Produce
  head.writeInt16BE(9, 6); // v9
  const toSend = Math.floor(frameBytes * fraction) - head.length;
  for (let i = 0; i < count; i++) {
    const s = connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    sockets.push(s);
    // Not once(s, 'close'): it rejects on the ECONNRESET a broker closing a muted connection causes.
    const gone = new Promise<boolean>((r) => s.once('close', () => r(false)));
    s.once('connect', async () => {
      s.write(head);
      let left = toSend;
      while (left > 0 && !s.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          // A muted connection stays muted: stop here rather than wait for a drain that may never come.
          const drained = await Promise.race([new Promise<boolean>((r) => s.once('drain', () => r(true))), gone]);
          if (!drained) return;
        }
      }
    });
  }
  return {
    closed: () => closed,
    stop() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** Sends `count` frames of random bytes, each on its own connection; resolves with how many were closed by the broker. */
export async function garbageFrames(port: number, count: number, seed = 7): Promise<{ closed: number; answered: number }> {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  let closed = 0;
  let answered = 0;
  for (let i = 0; i < count; i++) {
    const len = 8 + Math.floor(rand() * 200);
    const frame = Buffer.alloc(4 + len);
    frame.writeInt32BE(len, 0);
    for (let j = 4; j < frame.length; j++) frame[j] = Math.floor(rand() * 256);
    // Real API keys and versions make the body parser, not the header check, meet the garbage.
    if (rand() < 0.7) {
      frame.writeInt16BE(Math.floor(rand() * 20), 4);
      frame.writeInt16BE(Math.floor(rand() * 10), 6);
    }
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    await once(s, 'connect');
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    s.write(frame);
    const outcome = await Promise.race([
      new Promise<'closed'>((r) => s.once('close', () => r('closed'))),
      new Promise<'open'>((r) => setTimeout(() => r('open'), 2000)),
    ]);
    if (outcome === 'closed') closed++;
    else if (got > 0) answered++;
    s.destroy();
  }
  return { closed, answered };
}

/** Resident set size of a process in bytes (VmRSS), or undefined once it is gone. */
export function rssOf(pid: number, readFile: (p: string) => string): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFile(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** What the hostile client saw: every request it made and how the broker answered. */
export interface AbuseTally {
  /** Produce of a hostile batch: the error code the partition got (0 = accepted). */
  produced: Array<{ what: string; errorCode: number; errorMessage: string | null; recordErrors: number }>;
  listOffsets: Array<{ what: string; errorCode: number }>;
  fetchBytes: number[];
  garbage: { closed: number; answered: number };
  slowClosed: number;
  partialClosed: number;
}

export interface AbuseOptions {
  port: number;
  /** Topic the bombs and lying batches go to (created by the caller, no key requirement). */
  topic: string;
  /** A large partition (partition 0) to fetch with max_bytes 2^31-1, if any. */
  bigTopic?: string;
  slowConnections?: number;
  partialFrames?: number;
  partialFrameBytes?: number;
  garbageFrames?: number;
  /** Source addresses for the connection floods (anything in 127/8). */
  floodAddress?: string;
  /** Repeat the request-level attacks until stopped (benchmark) instead of once (test). */
  loop?: boolean;
}

/**
 * Runs the hostile client against a broker: bombs and lying batches (Produce v9, then ListOffsets by
 * timestamp), a Fetch with max_bytes 2^31-1, slow connections, half-sent large frames and garbage.
 * `done` settles when the request-level attacks are over; stop() tears down the connection floods.
 */
export async function startAbuse(opts: AbuseOptions, connectRaw: (port: number) => Promise<RawLike>) {
  const tally: AbuseTally = { produced: [], listOffsets: [], fetchBytes: [], garbage: { closed: 0, answered: 0 }, slowClosed: 0, partialClosed: 0 };
  const slow = await slowConnections(opts.port, opts.slowConnections ?? 1000, { localAddress: opts.floodAddress });
  const partial = await partialFrames(opts.port, opts.partialFrames ?? 50, opts.partialFrameBytes ?? 100 * MiB, 0.9, { localAddress: opts.floodAddress });
  let stopped = false;
  const bombs: Array<[string, Buffer]> = [
    ['zstd bomb 1 GiB', compressedBatch('zstd', zstdBomb(1024 * MiB))],
    ['gzip bomb 256 MiB', compressedBatch('gzip', await gzipBomb(256 * MiB))],
  ];
  const lies: Array<[string, Buffer]> = [];
  for (const kind of ['maxTimestampMax', 'maxTimestampZero', 'countMax', 'badOffsetDeltas'] as const) {
    for (const codec of ['none', 'lz4'] as const) lies.push([`${kind} (${codec})`, await lyingBatch(kind, codec)]);
  }
  const requests = (async () => {
    const c = await connectRaw(opts.port);
    try {
      do {
        for (const [what, records] of [...bombs, ...lies]) {
          const r = await c.request(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: opts.topic, partitionData: [{ index: 0, records }] }] });
          const p = r.responses[0].partitionResponses[0];
          tally.produced.push({ what, errorCode: p.errorCode, errorMessage: p.errorMessage, recordErrors: p.recordErrors.length });
        }
        const lo = await c.request(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: opts.topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 1 }] }] });
        tally.listOffsets.push({ what: 'by timestamp over the hostile topic', errorCode: lo.topics[0].partitions[0].errorCode });
        if (opts.bigTopic !== undefined) {
          const f = await c.request(1, 11, {
            replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 2 ** 31 - 1, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
            topics: [{ topic: opts.bigTopic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 2 ** 31 - 1 }] }],
            forgottenTopicsData: [], rackId: '',
          });
          tally.fetchBytes.push(f.responses[0].partitions[0].records?.length ?? 0);
        }
        const g = await garbageFrames(opts.port, opts.garbageFrames ?? 100);
        tally.garbage.closed += g.closed;
        tally.garbage.answered += g.answered;
      } while (opts.loop === true && !stopped);
    } finally {
      c.close();
    }
  })();
  return {
    tally,
    done: requests,
    async stop() {
      stopped = true;
      await requests.catch(() => undefined);
      tally.slowClosed = slow.closed();
      tally.partialClosed = partial.closed();
      slow.stop();
      partial.stop();
    },
    slowClosed: () => slow.closed(),
    partialClosed: () => partial.closed(),
  };
}

/** The part of test/helpers/raw-client.ts's RawClient the hostile client uses. */
export interface RawLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request(apiKey: number, version: number, body: any): Promise<any>;
  close(): void;
}
