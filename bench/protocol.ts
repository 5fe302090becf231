// npm run bench -- protocol [--seconds=N]: CRC-32C, Produce request decode and Fetch response encode
// throughput, each over 1 MiB of record batches (fake batch bytes: the codec never looks inside them).
import { crc32c } from '../protocol/crc32c.js';
import {
  ApiKey, decodeRequest, encodeRequest, encodeResponse, type ApiResponseInput,
} from '../protocol/index.js';

const MiB = 1024 * 1024;
const PARTITIONS = 16;
const PER_PARTITION = MiB / PARTITIONS;

function measure(name: string, bytesPerOp: number, seconds: number, op: () => void): number {
  // Warm up (compiles plans, lets the JIT settle), then run for a fixed time.
  for (let i = 0; i < 200; i++) op();
  let ops = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 50; i++) op();
    ops += 50;
    elapsed = process.hrtime.bigint() - start;
  }
  const secs = Number(elapsed) / 1e9;
  const mbps = (bytesPerOp * ops) / secs / 1e6;
  const perOp = (secs / ops) * 1e6;
  console.log(`${name.padEnd(44)} ${mbps.toFixed(0).padStart(9)} MB/s  ${perOp.toFixed(2).padStart(9)} µs/op`);
  return mbps;
}

function batches(): Buffer[] {
  return Array.from({ length: PARTITIONS }, (_, i) => Buffer.alloc(PER_PARTITION, i + 1));
}

export async function run(args: string[]): Promise<void> {
  const secondsArg = args.find((a) => a.startsWith('--seconds='));
  const seconds = secondsArg ? Number(secondsArg.slice('--seconds='.length)) : 1;
  let sink = 0;

  console.log(`protocol bench: 1 MiB payloads (${PARTITIONS} partitions × ${PER_PARTITION / 1024} KiB), ${seconds}s each`);

  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  measure('crc32c 1 MiB', MiB, seconds, () => {
    sink ^= crc32c(block);
  });

  const data = batches();
  for (const version of [7, 9, 11]) {
    const frame = Buffer.concat(
      encodeRequest(ApiKey.Produce, version, 1, 'bench', {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30000,
        topicData: [
          { name: 'bench-topic-a', partitionData: data.slice(0, 8).map((records, index) => ({ index, records })) },
          { name: 'bench-topic-b', partitionData: data.slice(8).map((records, index) => ({ index, records })) },
        ],
      }),
    ).subarray(4);
    measure(`decode Produce v${version} request (1 MiB records)`, MiB, seconds, () => {
      const req = decodeRequest(frame);
      if (req.apiKey === ApiKey.Produce) sink ^= req.body.topicData.length;
    });
  }

  for (const version of [11, 12, 16]) {
    const body: ApiResponseInput<typeof ApiKey.Fetch> = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [0, 1].map((t) => ({
        topic: `bench-topic-${t}`,
        topicId: '00112233-4455-6677-8899-aabbccddeeff',
        partitions: data.slice(t * 8, t * 8 + 8).map((records, partitionIndex) => ({
          partitionIndex,
          errorCode: 0,
          highWatermark: 1_000_000,
          lastStableOffset: 1_000_000,
          logStartOffset: 0,
          abortedTransactions: null,
          preferredReadReplica: -1,
          // Several batches per partition, written as separate chunks without copying.
          records: [records.subarray(0, PER_PARTITION / 2), records.subarray(PER_PARTITION / 2)],
        })),
      })),
    };
    measure(`encode Fetch v${version} response (1 MiB records)`, MiB, seconds, () => {
      sink ^= encodeResponse(ApiKey.Fetch, version, 1, body).length;
    });
  }
  // Small messages: the per-message cost of the interpreter itself.
  const metadata: ApiResponseInput<typeof ApiKey.Metadata> = {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
    clusterId: 'bench-cluster',
    controllerId: 1,
    topics: Array.from({ length: 10 }, (_, t) => ({
      errorCode: 0,
      name: `topic-${t}`,
      topicId: '00112233-4455-6677-8899-aabbccddeeff',
      isInternal: false,
      partitions: Array.from({ length: 4 }, (_, p) => ({
        errorCode: 0, partitionIndex: p, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [],
      })),
    })),
  };
  const metaBytes = Buffer.concat(encodeResponse(ApiKey.Metadata, 12, 1, metadata)).length;
  measure(`encode Metadata v12 response (${metaBytes} B)`, metaBytes, seconds, () => {
    sink ^= encodeResponse(ApiKey.Metadata, 12, 1, metadata).length;
  });
  const apiVersions = Buffer.concat(encodeRequest(ApiKey.ApiVersions, 3, 1, 'bench', { clientSoftwareName: 'bench', clientSoftwareVersion: '1.0' })).subarray(4);
  measure(`decode ApiVersions v3 request (${apiVersions.length} B)`, apiVersions.length, seconds, () => {
    sink ^= decodeRequest(apiVersions).apiVersion;
  });
  if (sink === 0.5) console.log(sink);
}
