// Where the console's pages read from: the metadata database through the admin commands' own
// collectors (src/admin/, the same queries `streamhouse topics|groups|lag|agents|leases|segments`
// run), the agent's metrics registry (throughput, object store cost), the partition log (records)
// and the in-memory history (charts).
import type { Registry } from 'prom-client';
import type { SqlMetadataStore } from '../../metadata/sql-store.js';
import type { DbTarget } from '../admin/target.js';
import type { ConsoleHistory, ThroughputTotals } from './history.js';
import type { PartitionReader } from './records.js';

export interface ConsoleDeps {
  /** The agent's metadata store (under its cache: what the database says now). */
  store: SqlMetadataStore;
  /** The agent's partition log: the record browser reads through it, as Fetch does. */
  partitions: PartitionReader;
  /** The agent's metrics registry; undefined when metrics are off. */
  registry: Registry | undefined;
  history: ConsoleHistory;
  self: { nodeId: number; agentId: string };
  /** The agent's liveness window (3 × --agent-heartbeat-ms). */
  liveWithinMs: number;
  maxDecompressedBytes: number;
}

/** The admin collectors' database target over the agent's own store (closing it closes nothing). */
export function agentTarget(store: SqlMetadataStore): DbTarget {
  return { kind: 'db', store, label: 'this agent’s metadata store', close: async () => undefined };
}

/** Sum of a metric's values whose labels include `labels`; undefined when not registered. */
export async function metricSum(registry: Registry | undefined, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry?.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const got = await metric.get();
  let sum = 0;
  for (const v of got.values) {
    const l = (v.labels ?? {}) as Record<string, unknown>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}

export async function throughputTotals(registry: Registry | undefined): Promise<ThroughputTotals | undefined> {
  // topic="" is the all-topics child, as Kafka's BrokerTopicMetrics without a topic.
  const [bytesIn, messagesIn, bytesOut] = await Promise.all([
    metricSum(registry, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: '' }),
    metricSum(registry, 'kafka_server_brokertopicmetrics_messagesin_total', { topic: '' }),
    metricSum(registry, 'kafka_server_brokertopicmetrics_bytesout_total', { topic: '' }),
  ]);
  if (bytesIn === undefined || messagesIn === undefined || bytesOut === undefined) return undefined;
  return { bytesIn, messagesIn, bytesOut };
}

export interface CostFigures {
  requestUsd: number | undefined;
  putRequests: number | undefined;
  getRequests: number | undefined;
  storedBytes: number | undefined;
  storageUsdPerMonth: number | undefined;
  usdPerGiBWritten: number | undefined;
}

export async function costFigures(registry: Registry | undefined): Promise<CostFigures> {
  const [requestUsd, putRequests, getRequests, storedBytes, storageUsdPerMonth, usdPerGiBWritten] = await Promise.all([
    metricSum(registry, 'streamhouse_object_store_estimated_cost_usd_total'),
    metricSum(registry, 'streamhouse_object_store_requests_total', { op: 'put' }),
    metricSum(registry, 'streamhouse_object_store_requests_total', { op: 'get' }),
    metricSum(registry, 'streamhouse_object_store_stored_bytes'),
    metricSum(registry, 'streamhouse_object_store_estimated_storage_cost_usd_per_month'),
    metricSum(registry, 'streamhouse_object_store_cost_per_gib_written_usd'),
  ]);
  return { requestUsd, putRequests, getRequests, storedBytes, storageUsdPerMonth, usdPerGiBWritten };
}
