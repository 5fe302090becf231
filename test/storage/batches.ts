// Record batches for storage tests and benchmarks, built with the protocol's batch builder.
import { buildRecordBatchSync, buildRecordBatch, CompressionType } from '../../protocol/record-batch.js';

let seq = 0;

/** A realistic JSON-ish value of about `size` bytes. */
export function jsonValue(i: number, size = 200): string {
  const base = {
    id: i,
    user: `user-${(i * 7919) % 10007}`,
    event: ['click', 'view', 'purchase', 'signup'][i % 4],
    ts: 1_700_000_000_000 + i,
    page: `/products/${(i * 31) % 997}`,
    tags: ['a', 'b', 'c'].slice(0, (i % 3) + 1),
  };
  let s = JSON.stringify(base);
  while (s.length < size) s = s.slice(0, -1) + `,"pad${s.length}":"${'x'.repeat(Math.min(24, size - s.length))}"}`;
  return s;
}

export interface BatchSpec {
  records?: number;
  valueSize?: number;
  timestamp?: number;
  /** Timestamps of each record (overrides timestamp). */
  timestamps?: number[];
  producerId?: number;
  compression?: 'none' | 'gzip' | 'lz4' | 'zstd' | 'snappy';
}

/** An uncompressed batch as a producer sends it (baseOffset 0, leader epoch -1). */
export function makeBatch(spec: BatchSpec = {}): Buffer {
  const n = spec.records ?? 3;
  const ts = spec.timestamp ?? 1_700_000_000_000;
  const records = Array.from({ length: n }, (_, i) => ({
    key: `k-${seq}-${i}`,
    value: jsonValue(seq * 1000 + i, spec.valueSize ?? 100),
    timestamp: spec.timestamps?.[i] ?? ts + i,
    headers: [{ key: 'h', value: `v${i}` }],
  }));
  seq++;
  return buildRecordBatchSync({
    records,
    ...(spec.producerId === undefined ? {} : { producerId: spec.producerId, producerEpoch: 0, baseSequence: 0 }),
  });
}

export async function makeCompressedBatch(spec: BatchSpec = {}): Promise<Buffer> {
  const n = spec.records ?? 3;
  const ts = spec.timestamp ?? 1_700_000_000_000;
  const records = Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: jsonValue(i, spec.valueSize ?? 100), timestamp: ts + i }));
  return buildRecordBatch({ records, compression: CompressionType[spec.compression ?? 'lz4'] });
}

/** The batch with the broker-assigned fields (baseOffset, leader epoch) blanked, for comparisons. */
export function producerView(batch: Buffer): Buffer {
  const c = Buffer.from(batch);
  c.fill(0, 0, 8);
  c.fill(0, 12, 16);
  return c;
}
