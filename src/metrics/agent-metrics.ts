// The metrics of one agent, in a registry of its own (never prom-client's global one: a test process
// may run several agents). Kafka's names where Kafka has the metric (as its JMX beans come out of the
// Prometheus JMX exporter: kafka_<domain>_<type>_<name>), streamhouse_* for the rest.
//
// Hot path: the hooks the dispatcher, the Produce / Fetch handlers and the store decorators call do a
// Map lookup of a cached label child and add to plain numbers (fast.ts); nothing is done per record.
// prom-client formats them, with its default process metrics, when /metrics is scraped. Everything
// that can be read from state at scrape time (connections, leases, groups, lag, writer totals, pool
// use) is a prom-client gauge or counter with a collect() function instead.
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ApiKey } from '../../protocol/generated/index.js';
import type { WriterStats } from '../../storage/segment-writer.js';
import { FastCounter, FastHistogram, type CounterChild, type HistogramChild } from './fast.js';
import { costPerGiB, requestCost, storageCostPerMonth, type ObjectOp, type PriceTable } from './cost.js';
import type { PartitionLag } from './lag.js';

const API_NAMES: string[] = [];
for (const [name, key] of Object.entries(ApiKey)) API_NAMES[key] = name;

/** Seconds: from sub-millisecond metadata reads to long polls and S3 retries. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BYTES_BUCKETS = [1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 ** 2, 4 * 1024 ** 2, 8 * 1024 ** 2, 16 * 1024 ** 2, 64 * 1024 ** 2];
const COUNT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
const OPS: readonly ObjectOp[] = ['put', 'get', 'delete', 'list'];
/** Longest a scrape waits for the consumer lag queries. */
const LAG_TIMEOUT_MS = 2000;

/** What the agent lets the metrics read at scrape time. Each is optional: absent reads as nothing. */
export interface MetricSources {
  connections?(): number;
  requestMemory?(): { reserved: number; capacity: number };
  partitionsLed?(): number;
  coordinatorShardsOwned?(): number;
  /** The state of every group loaded on this agent (the groups it coordinates). */
  groupStates?(): Iterable<string>;
  consumerLag?(): Promise<{ lags: PartitionLag[]; truncated: boolean }>;
  writerStats?(): WriterStats;
  writerBufferedBytes?(): number;
  /** PostgreSQL pool (undefined on PGlite: one worker, no pool). */
  metadataPool?(): { total: number; idle: number; waiting: number; max: number } | undefined;
}

export interface FlushCycle {
  durationMs: number;
  /** Bytes of the segment object (after compression). */
  bytes: number;
  partitions: number;
  ok: boolean;
}

interface RequestChildren {
  count: CounterChild;
  time: HistogramChild;
}

interface TopicChildren {
  bytesIn: CounterChild;
  messagesIn: CounterChild;
  bytesOut: CounterChild;
}

interface OpChildren {
  requests: CounterChild;
  errors: CounterChild;
  bytes: CounterChild;
  time: HistogramChild;
  cost: CounterChild;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};

  private readonly requests: FastCounter;
  private readonly requestTime: FastHistogram;
  private readonly requestChildren = new Map<number, RequestChildren>();

  private readonly bytesIn: FastCounter;
  private readonly messagesIn: FastCounter;
  private readonly bytesOut: FastCounter;
  private readonly topicChildren = new Map<string, TopicChildren>();
  private readonly totalIn: { bytes: CounterChild; messages: CounterChild };
  private readonly totalOut: CounterChild;
  private readonly ackTime: HistogramChild;

  private readonly cycleTime: HistogramChild;
  private readonly cycleBytes: HistogramChild;
  private readonly cyclePartitions: HistogramChild;
  private readonly cycles: { ok: CounterChild; failed: CounterChild };

  private readonly opChildren = new Map<ObjectOp, OpChildren>();
  /** Plain totals for the cost-per-GiB gauges. */
  private readonly opTotals = { putUsd: 0, putBytes: 0, getUsd: 0, getBytes: 0 };
  /** Bytes of the last listing of the whole store (the orphan cleaner's, every 5 minutes). */
  private listedBytes: number | undefined;

  private readonly metadataTime: FastHistogram;
  private readonly metadataErrors: FastCounter;
  private readonly metadataChildren = new Map<string, { time: HistogramChild; errors: CounterChild }>();

  private readonly leaseEvents: FastCounter;
  private readonly rebalances: CounterChild;
  private readonly authentications: FastCounter;

  constructor(readonly prices: PriceTable) {
    const registers = [this.registry];
    const reg = this.registry;
    collectDefaultMetrics({ register: this.registry });

    // --- requests (kafka.network:type=RequestMetrics) ------------------------------------------------
    this.requests = new FastCounter('kafka_network_requestmetrics_requests_total', 'Requests answered, by API and version (Kafka RequestsPerSec).', ['request', 'version'], reg);
    this.requestTime = new FastHistogram(
      'kafka_network_requestmetrics_totaltime_seconds',
      'Time from a decoded request to its encoded response, by API and version (Kafka TotalTimeMs, without socket queueing).',
      ['request', 'version'],
      LATENCY_BUCKETS,
      reg,
    );

    // --- bytes in/out per topic (kafka.server:type=BrokerTopicMetrics) -------------------------------
    this.bytesIn = new FastCounter('kafka_server_brokertopicmetrics_bytesin_total', 'Record batch bytes of committed Produce appends (the records field of each accepted partition, as sent: compressed batches count compressed), per topic; topic="" is all topics.', ['topic'], reg);
    this.messagesIn = new FastCounter('kafka_server_brokertopicmetrics_messagesin_total', 'Records of committed Produce appends, per topic; topic="" is all topics.', ['topic'], reg);
    this.bytesOut = new FastCounter('kafka_server_brokertopicmetrics_bytesout_total', 'Record batch bytes returned by Fetch responses, per topic; topic="" is all topics.', ['topic'], reg);
    this.totalIn = { bytes: this.bytesIn.labels(''), messages: this.messagesIn.labels('') };
    this.totalOut = this.bytesOut.labels('');
    this.ackTime = new FastHistogram(
      'streamhouse_produce_ack_latency_seconds',
      'From the append of a produced batch (validated, offsets assigned) to its durable commit (object written and metadata committed), when the producer may be answered.',
      [],
      LATENCY_BUCKETS,
      reg,
    ).labels();

    // --- flush cycles (storage/segment-writer.ts) -----------------------------------------------------
    this.cycleTime = new FastHistogram('streamhouse_flush_cycle_duration_seconds', 'Flush cycle: encode, object put, waiting for earlier cycles, metadata commit.', [], LATENCY_BUCKETS, reg).labels();
    this.cycleBytes = new FastHistogram('streamhouse_flush_cycle_bytes', 'Bytes of the segment object one flush cycle wrote.', [], BYTES_BUCKETS, reg).labels();
    this.cyclePartitions = new FastHistogram('streamhouse_flush_cycle_partitions', 'Partitions in one flush cycle.', [], COUNT_BUCKETS, reg).labels();
    const cycles = new FastCounter('streamhouse_flush_cycles_total', 'Flush cycles, by result (failed: upload or commit failed, appends answered with an error).', ['result'], reg);
    this.cycles = { ok: cycles.labels('ok'), failed: cycles.labels('failed') };
    const writer = () => this.sources.writerStats?.();
    new Counter({
      name: 'streamhouse_flush_committed_bytes_total',
      help: 'Uncompressed record batch bytes committed by flush cycles.',
      registers,
      collect() {
        const s = writer();
        if (s) resetTo(this, s.committedBytes);
      },
    });
    new Counter({
      name: 'streamhouse_flush_phase_seconds_total',
      help: 'Time flush cycles spent per phase (encode, put, commit); divide by streamhouse_flush_cycles_total for averages.',
      labelNames: ['phase'],
      registers,
      collect() {
        const s = writer();
        if (!s) return;
        this.reset();
        this.labels('encode').inc(s.encodeMs / 1000);
        this.labels('put').inc(s.putMs / 1000);
        this.labels('commit').inc(s.commitMs / 1000);
      },
    });
    new Counter({
      name: 'streamhouse_flush_fenced_partitions_total',
      help: 'Partitions whose flush commit was refused because their lease was lost (fenced).',
      registers,
      collect() {
        const s = writer();
        if (s) resetTo(this, s.fencedPartitions);
      },
    });
    const buffered = () => this.sources.writerBufferedBytes?.();
    new Gauge({
      name: 'streamhouse_flush_buffered_bytes',
      help: 'Produced bytes appended and waiting for their flush cycle (max-buffered-bytes applies backpressure).',
      registers,
      collect() {
        this.set(buffered() ?? 0);
      },
    });

    // --- object store ---------------------------------------------------------------------------------
    const opRequests = new FastCounter('streamhouse_object_store_requests_total', 'Object store requests, by operation (put, get, delete, list); a listing counts one per page of 1,000 keys.', ['op'], reg);
    const opErrors = new FastCounter('streamhouse_object_store_errors_total', 'Object store requests that failed after the store\'s own retries (a missing object on get counts too).', ['op'], reg);
    const opBytes = new FastCounter('streamhouse_object_store_bytes_total', 'Bytes written (put) and read (get) in the object store.', ['op'], reg);
    const opTime = new FastHistogram('streamhouse_object_store_request_duration_seconds', 'Object store request latency (retries included), by operation.', ['op'], LATENCY_BUCKETS, reg);
    const opCost = new FastCounter('streamhouse_object_store_estimated_cost_usd_total', 'Estimated request cost in USD from the price settings (price-put-per-1000 for put and list, price-get-per-1000 for get; delete is free).', ['op'], reg);
    for (const op of OPS) {
      this.opChildren.set(op, { requests: opRequests.labels(op), errors: opErrors.labels(op), bytes: opBytes.labels(op), time: opTime.labels(op), cost: opCost.labels(op) });
    }
    const totals = this.opTotals;
    new Gauge({
      name: 'streamhouse_object_store_cost_per_gib_written_usd',
      help: 'Estimated PUT request cost in USD per GiB written to the object store so far.',
      registers,
      collect() {
        this.set(costPerGiB(totals.putUsd, totals.putBytes));
      },
    });
    new Gauge({
      name: 'streamhouse_object_store_cost_per_gib_read_usd',
      help: 'Estimated GET request cost in USD per GiB read from the object store so far.',
      registers,
      collect() {
        this.set(costPerGiB(totals.getUsd, totals.getBytes));
      },
    });
    const listed = () => this.listedBytes;
    const table = this.prices;
    new Gauge({
      name: 'streamhouse_object_store_stored_bytes',
      help: 'Bytes of the segment objects the object registry holds (not deleted), after each registry cleaner pass (object-cleanup-interval-ms; absent before the first). The whole store: do not sum over agents.',
      registers,
      collect() {
        const b = listed();
        if (b === undefined) this.reset();
        else this.set(b);
      },
    });
    new Gauge({
      name: 'streamhouse_object_store_estimated_storage_cost_usd_per_month',
      help: 'Estimated monthly storage cost in USD of streamhouse_object_store_stored_bytes at price-storage-gb-month.',
      registers,
      collect() {
        const b = listed();
        if (b === undefined) this.reset();
        else this.set(storageCostPerMonth(b, table));
      },
    });
    const price = new Gauge({
      name: 'streamhouse_object_store_price_usd',
      help: 'The price table the estimates use (settings price-put-per-1000, price-get-per-1000, price-storage-gb-month).',
      labelNames: ['item'],
      registers,
    });
    price.labels('put_per_1000').set(table.putPer1000);
    price.labels('get_per_1000').set(table.getPer1000);
    price.labels('storage_gb_month').set(table.storageGbMonth);

    // --- metadata store -------------------------------------------------------------------------------
    this.metadataTime = new FastHistogram('streamhouse_metadata_query_duration_seconds', 'Metadata store calls that reach the database (cache hits excluded), by operation.', ['op'], LATENCY_BUCKETS, reg);
    this.metadataErrors = new FastCounter('streamhouse_metadata_errors_total', 'Metadata store calls that failed, by operation.', ['op'], reg);
    const pool = () => this.sources.metadataPool?.();
    new Gauge({
      name: 'streamhouse_metadata_pool_connections',
      help: 'PostgreSQL pool: connections by state (total, idle, waiting = callers waiting for one, max = db-pool-max). Absent on PGlite.',
      labelNames: ['state'],
      registers,
      collect() {
        const p = pool();
        if (p === undefined) return;
        this.labels('total').set(p.total);
        this.labels('idle').set(p.idle);
        this.labels('waiting').set(p.waiting);
        this.labels('max').set(p.max);
      },
    });

    // --- network --------------------------------------------------------------------------------------
    const src = () => this.sources;
    new Gauge({
      name: 'kafka_server_socketservermetrics_connection_count',
      help: 'Open client connections (Kafka socket-server-metrics connection-count).',
      registers,
      collect() {
        this.set(src().connections?.() ?? 0);
      },
    });
    new Gauge({
      name: 'streamhouse_request_memory_bytes',
      help: 'queued.max.request.bytes pool: bytes reserved by requests being received or handled (state="reserved") and its capacity.',
      labelNames: ['state'],
      registers,
      collect() {
        const m = src().requestMemory?.();
        if (m === undefined) return;
        this.labels('reserved').set(m.reserved);
        this.labels('capacity').set(m.capacity);
      },
    });

    // --- leases ---------------------------------------------------------------------------------------
    new Gauge({
      name: 'kafka_server_replicamanager_leadercount',
      help: 'Partitions this agent leads (holds the lease of).',
      registers,
      collect() {
        this.set(src().partitionsLed?.() ?? 0);
      },
    });
    new Gauge({
      name: 'streamhouse_coordinator_shards_owned',
      help: 'Coordinator shards this agent holds the lease of.',
      registers,
      collect() {
        this.set(src().coordinatorShardsOwned?.() ?? 0);
      },
    });
    this.authentications = new FastCounter(
      'streamhouse_authentications_total',
      'SASL authentications (re-authentications included) by listener, mechanism and result (success, failure), as Kafka\'s successful-/failed-authentication-total.',
      ['listener', 'mechanism', 'result'],
      reg,
    );
    this.leaseEvents = new FastCounter(
      'streamhouse_lease_events_total',
      'Partition lease changes on this agent: acquired (a new epoch), handed_off (released gracefully), lost (expired, taken over, self-fenced or its topic deleted).',
      ['resource', 'event'],
      reg,
    );

    // --- groups ---------------------------------------------------------------------------------------
    new Gauge({
      name: 'kafka_coordinator_group_groupmetadatamanager_numgroups',
      help: 'Consumer groups this agent coordinates (loaded), by state (Kafka NumGroups<State>).',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const s of ['PreparingRebalance', 'CompletingRebalance', 'Stable', 'Empty', 'Dead']) this.labels(s).set(0);
        for (const s of src().groupStates?.() ?? []) this.labels(s).inc();
      },
    });
    this.rebalances = new FastCounter('kafka_coordinator_group_rebalances_total', 'Rebalances started by groups this agent coordinates (transitions to PreparingRebalance).', [], reg).labels();
    const lagFailures = new FastCounter('streamhouse_consumer_lag_failures_total', 'Scrapes whose consumer lag could not be computed within 2 s (database unavailable or slow): kafka_consumergroup_lag is left out of them (counted from the next scrape on).', [], reg).labels();
    new Gauge({
      name: 'kafka_consumergroup_lag',
      help: 'High watermark minus committed offset, per group and partition, for the groups this agent coordinates (computed at scrape time from the database, at most 10,000 partitions).',
      labelNames: ['consumergroup', 'topic', 'partition'],
      registers,
      async collect() {
        this.reset();
        const f = src().consumerLag;
        if (f === undefined) return;
        // A scrape must answer while the database is away: the lag is then left out, not the scrape.
        let timer: NodeJS.Timeout | undefined;
        try {
          const { lags } = await Promise.race([f(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), LAG_TIMEOUT_MS)))]);
          for (const l of lags) this.labels(l.group, l.topic, String(l.partition)).set(l.lag);
        } catch {
          lagFailures.value++;
        } finally {
          clearTimeout(timer);
        }
      },
    });
  }

  /** The agent's state the scrape-time metrics read. */
  attach(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  // --- hooks (hot path) -------------------------------------------------------------------------------

  /** A request was answered: `startedAt` is performance.now() when it was decoded. */
  requestDone(apiKey: number, version: number, startedAt: number): void {
    const id = apiKey * 1000 + version;
    let c = this.requestChildren.get(id);
    if (c === undefined) {
      const labels = [API_NAMES[apiKey] ?? String(apiKey), String(version)];
      c = { count: this.requests.labels(...labels), time: this.requestTime.labels(...labels) };
      this.requestChildren.set(id, c);
    }
    c.count.value++;
    c.time.observe((performance.now() - startedAt) / 1000);
  }

  private topic(topic: string): TopicChildren {
    let c = this.topicChildren.get(topic);
    if (c === undefined) {
      c = { bytesIn: this.bytesIn.labels(topic), messagesIn: this.messagesIn.labels(topic), bytesOut: this.bytesOut.labels(topic) };
      this.topicChildren.set(topic, c);
    }
    return c;
  }

  /** One partition's batch committed: `appendedAt` is performance.now() at its append. */
  produced(topic: string, bytes: number, records: number, appendedAt: number): void {
    const c = this.topic(topic);
    c.bytesIn.value += bytes;
    c.messagesIn.value += records;
    this.totalIn.bytes.value += bytes;
    this.totalIn.messages.value += records;
    this.ackTime.observe((performance.now() - appendedAt) / 1000);
  }

  /** A Fetch response carries `bytes` of record batches of `topic`. */
  fetched(topic: string, bytes: number): void {
    this.topic(topic).bytesOut.value += bytes;
    this.totalOut.value += bytes;
  }

  flushCycle(c: FlushCycle): void {
    (c.ok ? this.cycles.ok : this.cycles.failed).value++;
    this.cycleTime.observe(c.durationMs / 1000);
    if (c.ok) {
      this.cycleBytes.observe(c.bytes);
      this.cyclePartitions.observe(c.partitions);
    }
  }

  /** One object store call finished (the instrumented store calls this). */
  objectOp(op: ObjectOp, seconds: number, bytes: number, ok: boolean, requests = 1): void {
    const c = this.opChildren.get(op)!;
    c.requests.value += requests;
    c.time.observe(seconds);
    if (!ok) c.errors.value++;
    c.bytes.value += bytes;
    const usd = requestCost(op, requests, this.prices);
    c.cost.value += usd;
    if (op === 'put') {
      this.opTotals.putUsd += usd;
      this.opTotals.putBytes += bytes;
    } else if (op === 'get') {
      this.opTotals.getUsd += usd;
      this.opTotals.getBytes += bytes;
    }
  }

  /** A listing of the whole store: its total size is what the bucket holds (storage cost). */
  storeListed(bytes: number): void {
    this.listedBytes = bytes;
  }

  metadataOp(op: string, seconds: number, ok: boolean): void {
    let c = this.metadataChildren.get(op);
    if (c === undefined) {
      c = { time: this.metadataTime.labels(op), errors: this.metadataErrors.labels(op) };
      this.metadataChildren.set(op, c);
    }
    c.time.observe(seconds);
    if (!ok) c.errors.value++;
  }

  leaseEvent(resource: 'partition', event: 'acquired' | 'handed_off' | 'lost'): void {
    this.leaseEvents.labels(resource, event).value++;
  }

  authentication(listener: string, mechanism: string, ok: boolean): void {
    this.authentications.labels(listener, mechanism, ok ? 'success' : 'failure').value++;
  }

  groupTransition(to: string): void {
    if (to === 'PreparingRebalance') this.rebalances.value++;
  }

  /** The Prometheus text exposition of every metric. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A counter whose value is read from a running total at scrape time. */
function resetTo(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}
