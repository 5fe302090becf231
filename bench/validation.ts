// npm run bench -- validation [--rounds=N] [--ms=N]: the produce-path cost of full record
// validation (issue 12). Both sides run the produce handler's prepare step (checkProducedBatch) on
// the same batches: "header" checks size, CRC and the batch header only (what compressed batches got
// before), "full" also decompresses (bounded) and walks every record. The two sides alternate batch
// by batch; figures are medians over the rounds, with each round's cost.
import {
  CompressionType, buildRecordBatch, readBatchHeader, validateBatchRecords, validateProduceRecords,
} from '../protocol/record-batch.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from '../protocol/compression.js';
import { checkProducedBatch } from '../src/handlers/00-produce.js';
import { resolveTopicConfig } from '../src/topics.js';

const RECORDS_PER_BATCH = 64;
const VALUE_BYTES = 1024;
const BATCHES = 32;

/** JSON-ish 1 KiB values: compressible like real payloads, not trivially so. */
function value(i: number): string {
  let s = `{"id":${i},"user":"user-${(i * 7919) % 10007}","event":"${['click', 'view', 'buy', 'scroll'][i % 4]}","tags":[`;
  let n = 0;
  while (s.length < VALUE_BYTES - 40) s += `"t${(i * 31 + n++ * 17) % 997}",`;
  s += `"end"],"ts":${1_700_000_000_000 + i}}`;
  return s.padEnd(VALUE_BYTES, ' ');
}

async function makeBatches(compression: number): Promise<Buffer[]> {
  const now = Date.now();
  const out: Buffer[] = [];
  for (let b = 0; b < BATCHES; b++) {
    out.push(await buildRecordBatch({
      compression: compression as 0,
      records: Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `key-${b}-${i}`, value: value(b * RECORDS_PER_BATCH + i), timestamp: now + i })),
    }));
  }
  return out;
}

const config = resolveTopicConfig({ config: {} });

/**
 * Batches prepared per second by each side over `ms` milliseconds, one at a time as one connection's
 * requests are. The sides alternate batch by batch (which one goes first alternates too), so load
 * from other processes on the machine falls on both alike.
 */
async function rates(batches: Buffer[], ms: number): Promise<{ header: number; full: number }> {
  const prepare = async (b: Buffer, checkRecords: boolean) => {
    const r = await checkProducedBatch(b, { apiVersion: 9, config, nowMs: Date.now(), maxDecompressedBytes: DEFAULT_MAX_DECOMPRESSED_BYTES, checkRecords });
    if (!r.ok) throw new Error(`bench batch refused: ${r.message}`);
  };
  let n = 0;
  let headerMs = 0;
  let fullMs = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (const b of batches) {
      const first = n % 2 === 0;
      const t0 = performance.now();
      await prepare(b, !first);
      const t1 = performance.now();
      await prepare(b, first);
      const t2 = performance.now();
      if (first) {
        headerMs += t1 - t0;
        fullMs += t2 - t1;
      } else {
        fullMs += t1 - t0;
        headerMs += t2 - t1;
      }
      n++;
    }
  }
  return { header: n / (headerMs / 1000), full: n / (fullMs / 1000) };
}

/**
 * Uncompressed only, without the async steps around them: the header checks (size, CRC, header) and
 * the record walk alone, timed in alternating synchronous loops over the same batches.
 */
function syncSplit(batches: Buffer[], ms: number): { headerUs: number; walkUs: number } {
  const headers = batches.map(readBatchHeader);
  const checks = { timestampWindow: { nowMs: Date.now(), beforeMaxMs: config.messageTimestampBeforeMaxMs, afterMaxMs: config.messageTimestampAfterMaxMs } };
  let headerMs = 0;
  let walkMs = 0;
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    const t0 = performance.now();
    for (const b of batches) if (!validateProduceRecords(b, { apiVersion: 9, maxMessageBytes: config.maxMessageBytes, checkRecords: false }).ok) throw new Error('refused');
    const t1 = performance.now();
    for (let i = 0; i < batches.length; i++) if (!validateBatchRecords(batches[i]!, headers[i]!, undefined, checks).ok) throw new Error('refused');
    walkMs += performance.now() - t1;
    headerMs += t1 - t0;
    n += batches.length;
  }
  return { headerUs: (headerMs * 1000) / n, walkUs: (walkMs * 1000) / n };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function run(args: string[]): Promise<void> {
  const arg = (name: string, def: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
  const rounds = arg('rounds', 5);
  const ms = arg('ms', 1000);
  console.log(`validation bench: batches of ${RECORDS_PER_BATCH} × ${VALUE_BYTES} B records, ${rounds} alternating rounds of ${ms} ms per side`);
  for (const [name, codec] of [['none', CompressionType.none], ['lz4', CompressionType.lz4], ['zstd', CompressionType.zstd]] as const) {
    const batches = await makeBatches(codec);
    const wire = batches.reduce((s, b) => s + b.length, 0) / batches.length;
    const recordBytes = RECORDS_PER_BATCH * VALUE_BYTES;
    await rates(batches, 200); // warm-up
    const header: number[] = [];
    const full: number[] = [];
    const costs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const { header: h, full: f } = await rates(batches, ms);
      header.push(h);
      full.push(f);
      costs.push(1 - f / h);
    }
    if (codec === CompressionType.none) {
      const splits = Array.from({ length: rounds }, () => syncSplit(batches, ms / 2));
      const hUs = median(splits.map((x) => x.headerUs));
      const wUs = median(splits.map((x) => x.walkUs));
      console.log(`      synchronous split: header checks ${hUs.toFixed(1)} µs, record walk ${wUs.toFixed(1)} µs per batch (walk = ${((wUs / hUs) * 100).toFixed(1)} % of the header checks)`);
    }
    const mb = (batchesPerS: number) => (batchesPerS * recordBytes) / 1e6;
    const h = median(header);
    const f = median(full);
    console.log(
      `${name.padEnd(5)} (${(wire / 1024).toFixed(1)} KiB on the wire per batch): header ${mb(h).toFixed(0)} MB/s, full ${mb(f).toFixed(0)} MB/s of records`
      + ` (${(f * RECORDS_PER_BATCH).toFixed(0)} records/s); cost ${((1 - f / h) * 100).toFixed(1)} % of medians,`
      + ` per round ${costs.map((c) => `${(c * 100).toFixed(0)}`).join(' / ')} %`,
    );
    // The same difference as time per GB of records, to set against the agent's whole produce path
    // (README: 3-5 CPU-s per GB). Wall time of one batch at a time: lz4 and zstd decompress on the
    // libuv pool, so for them it is latency more than main-thread CPU.
    const addedUs = (1 / f - 1 / h) * 1e6;
    console.log(`      validation adds ${addedUs.toFixed(1)} µs per batch = ${((addedUs / 1e6) * (1e9 / recordBytes)).toFixed(2)} s per GB of records`);
  }
}
