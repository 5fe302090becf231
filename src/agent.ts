// The agent: wires protocol, storage and metadata into one Kafka broker process. Start order: data
// directory lock, metadata store (migrations), object store, agent registration, writer/reader,
// leadership, listener. Stop order (SIGTERM/SIGINT): stop accepting, answer what is pending (the
// flush in progress completes), flush the rest, release leases, deregister, close stores.
import { mkdir } from 'node:fs/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { CachedMetadataStore, TopicChangeFeed, openMetadataStore } from '../metadata/index.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { ApiKey } from '../protocol/generated/index.js';
import type { MetadataStore } from '../metadata/types.js';
import { createObjectStore, OrphanCleaner, SegmentReader, SegmentWriter, type ObjectStore } from '../storage/index.js';
import type { Config } from './config.js';
import type { BrokerContext } from './context.js';
import { ClusterView } from './cluster.js';
import { CoordinatorShards, GroupCoordinator, systemTimers } from './coordinator/index.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { Dispatcher } from './dispatcher.js';
import { HANDLERS } from './handlers/registry.js';
import { Leadership, systemClock } from './leadership.js';
import type { Logger } from './logger.js';
import { AgentPartitionLog } from './partition-log.js';
import { RetentionTask } from './retention.js';
import { KafkaServer } from './network/server.js';
import { FrameArena } from './network/frame-arena.js';
import { parseConnectionOverrides } from './network/connection-quotas.js';

const ORPHAN_SWEEP_MS = 5 * 60_000;
const SHUTDOWN_GRACE_MS = 30_000;

export class Agent {
  private lock: DataDirLock | undefined;
  private metadata: CachedMetadataStore | undefined;
  private objectStore: ObjectStore | undefined;
  private writer: SegmentWriter | undefined;
  private partitions: AgentPartitionLog | undefined;
  private leadership: Leadership | undefined;
  private server: KafkaServer | undefined;
  private cleaner: OrphanCleaner | undefined;
  private retention: RetentionTask | undefined;
  private groups: GroupCoordinator | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private offsetExpiry: { timer: NodeJS.Timeout; running: Promise<unknown> | undefined } | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private topicChanges: TopicChangeFeed | undefined;
  private stopped = false;
  /** The address the listener is bound to (after start). */
  address: { host: string; port: number } | undefined;
  nodeId = -1;

  constructor(
    readonly config: Config,
    readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const cfg = this.config;
    const dataDir = resolve(cfg.dataDir);
    await mkdir(dataDir, { recursive: true });
    this.lock = await acquireDataDirLock(dataDir);

    const inner: MetadataStore = await openMetadataStore({
      databaseUrl: cfg.databaseUrl || undefined,
      dataDir,
      pool: { max: cfg.dbPoolMax, min: cfg.dbPoolMin, acquireTimeoutMs: cfg.dbAcquireTimeoutMs, idleTimeoutMs: cfg.dbIdleTimeoutMs },
      logger: this.log,
    });
    const metadata = (this.metadata = new CachedMetadataStore(inner));
    if (cfg.databaseUrl) {
      // Other agents announce topic changes; drop our cached copy at once instead of after the TTL.
      this.topicChanges = new TopicChangeFeed(
        cfg.databaseUrl,
        (topic) => (topic === undefined ? metadata.invalidateAll() : metadata.invalidateTopic(topic)),
        { logger: this.log, connectTimeoutMs: cfg.dbAcquireTimeoutMs },
      );
      await this.topicChanges.start();
    }

    const objectStore = (this.objectStore = cfg.s3Bucket
      ? createObjectStore({ kind: 's3', bucket: cfg.s3Bucket, region: cfg.s3Region, endpoint: cfg.s3Endpoint || undefined, forcePathStyle: cfg.s3ForcePathStyle, prefix: cfg.s3Prefix || undefined })
      : createObjectStore({ kind: 'local', dir: join(dataDir, 'objects') }));

    const me = await metadata.registerAgent({
      agentId: cfg.agentId,
      host: cfg.advertisedHost,
      port: cfg.advertisedPort,
      rack: cfg.rack || null,
      nodeId: cfg.nodeId >= 0 ? cfg.nodeId : undefined,
    });
    this.nodeId = me.nodeId;

    const writer = (this.writer = new SegmentWriter({
      objectStore,
      metadata,
      agentId: cfg.agentId,
      flushMs: cfg.flushMs,
      flushBytes: cfg.flushBytes,
      maxBufferedBytes: cfg.maxBufferedBytes,
      producerIdExpirationMs: cfg.producerIdExpirationMs,
      logger: this.log,
    }));
    const reader = new SegmentReader({ objectStore, metadata, tailCacheBytes: cfg.tailCacheBytes, blockCacheBytes: cfg.blockCacheBytes, logger: this.log });
    const partitions = (this.partitions = new AgentPartitionLog(metadata, writer, reader, this.config.maxDecompressedBytes));
    const leadership = (this.leadership = new Leadership({ metadata, agentId: cfg.agentId, ttlMs: cfg.leaseTtlMs, log: this.log, listener: partitions }));
    partitions.attach(leadership);
    const cluster = new ClusterView(
      metadata,
      { agentId: cfg.agentId, nodeId: me.nodeId, host: cfg.advertisedHost, port: cfg.advertisedPort, rack: cfg.rack || null },
      leadership,
      systemClock,
      3 * cfg.agentHeartbeatMs,
    );

    // Coordinator shards: leased like partitions; the ones intended for this agent are taken before the
    // listener opens, and handed off again by stop() (SIGTERM).
    const shards = new CoordinatorShards({
      agentId: cfg.agentId,
      self: { nodeId: me.nodeId, host: cfg.advertisedHost, port: cfg.advertisedPort, rack: cfg.rack || null },
      shardCount: cfg.coordinatorShards,
      ttlMs: cfg.leaseTtlMs,
      store: metadata,
      timers: systemTimers,
      log: this.log,
    });
    const groups = (this.groups = new GroupCoordinator({ nodeId: me.nodeId, agentId: cfg.agentId, metadata, shards, config: cfg, log: this.log }));
    await groups.start();

    const ctx: BrokerContext = {
      config: cfg,
      log: this.log,
      clock: systemClock,
      clusterId: cfg.clusterId,
      nodeId: me.nodeId,
      metadata,
      partitions,
      brokers: () => cluster.brokers(),
      leaders: (topic, count) => cluster.leaders(topic, count),
      groups,
    };

    this.server = new KafkaServer(
      new Dispatcher(HANDLERS, ctx),
      {
        maxFrameBytes: cfg.maxFrameBytes,
        maxConnections: cfg.maxConnections,
        connectionsMaxIdleMs: cfg.connectionsMaxIdleMs,
        maxInflightBytes: cfg.maxInflightBytes,
        queuedMaxRequestBytes: cfg.queuedMaxRequestBytes,
        maxConnectionsPerIp: cfg.maxConnectionsPerIp,
        maxConnectionsPerIpOverrides: parseConnectionOverrides(cfg.maxConnectionsPerIpOverrides),
        requestReceiveTimeoutMs: cfg.requestReceiveTimeoutMs,
      },
      this.log,
      // Produce frames hold record bytes until their commit: recycled memory keeps them out of the GC.
      { recycling: { arena: new FrameArena({ poison: cfg.poisonReleasedFrames }), apiKeys: [ApiKey.Produce] } },
    );
    this.address = await this.server.listen(cfg.port, cfg.host);

    const register = () =>
      metadata.registerAgent({ agentId: cfg.agentId, host: cfg.advertisedHost, port: cfg.advertisedPort, rack: cfg.rack || null, nodeId: me.nodeId });
    this.heartbeat = setInterval(() => {
      metadata.heartbeatAgent(cfg.agentId).catch((err: unknown) => {
        // Unknown agent (its row was removed as stale): register again under the same node id.
        if (err instanceof KafkaError && err.code === ErrorCode.INVALID_REQUEST) {
          register().then(
            () => this.log.info({ agentId: cfg.agentId }, 'agent registered again'),
            (e: unknown) => this.log.warn({ err: (e as Error).message }, 'agent registration failed'),
          );
        } else this.log.warn({ err: (err as Error).message }, 'agent heartbeat failed');
      });
    }, cfg.agentHeartbeatMs);
    this.heartbeat.unref();
    this.statsTimer = this.startStatsLog(writer, cfg.statsIntervalMs);
    leadership.startRenewing();
    this.cleaner = new OrphanCleaner({ objectStore, metadata: inner, logger: this.log });
    this.cleaner.start(ORPHAN_SWEEP_MS);
    this.retention = new RetentionTask({ metadata, partitions, leading: () => leadership.leading(), clock: systemClock, log: this.log });
    this.retention.start(cfg.logRetentionCheckIntervalMs);
    const expiry: NonNullable<Agent['offsetExpiry']> = {
      timer: setInterval(() => {
        expiry.running ??= groups
          .expireOffsets(cfg.offsetsRetentionMs)
          .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'offset expiry failed; the next check retries'))
          .finally(() => (expiry.running = undefined));
      }, cfg.offsetsRetentionCheckIntervalMs),
      running: undefined,
    };
    expiry.timer.unref();
    this.offsetExpiry = expiry;

    this.log.info(
      {
        host: this.address.host,
        port: this.address.port,
        advertised: `${cfg.advertisedHost}:${cfg.advertisedPort}`,
        nodeId: me.nodeId,
        agentId: cfg.agentId,
        metadata: metadata.kind,
        objects: objectStore.kind === 's3' ? `s3://${cfg.s3Bucket}` : join(dataDir, 'objects'),
      },
      'listening',
    );
  }

  /** One debug line per interval with the writer's work since the last one (rates for operators). */
  private startStatsLog(writer: SegmentWriter, intervalMs: number): NodeJS.Timeout | undefined {
    if (!(intervalMs > 0) || !this.log.isLevelEnabled('debug')) return undefined;
    let last = { ...writer.stats };
    let lastAt = performance.now();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    let elu = performance.eventLoopUtilization();
    loop.enable();
    const t = setInterval(() => {
      const s = writer.stats;
      const now = performance.now();
      const cycles = s.cycles - last.cycles;
      const per = (v: number) => (cycles > 0 ? Number((v / cycles).toFixed(2)) : 0);
      this.log.debug(
        {
          seconds: Number(((now - lastAt) / 1000).toFixed(1)),
          cycles,
          committedMB: Number(((s.committedBytes - last.committedBytes) / 1e6).toFixed(1)),
          putMB: Number(((s.putBytes - last.putBytes) / 1e6).toFixed(1)),
          encodeMsPerCycle: per(s.encodeMs - last.encodeMs),
          putMsPerCycle: per(s.putMs - last.putMs),
          commitMsPerCycle: per(s.commitMs - last.commitMs),
          maxCycleMs: Number(s.maxCycleMs.toFixed(1)),
          bufferedMB: Number((writer.bufferedBytes / 1e6).toFixed(1)),
          // queued.max.request.bytes: what requests hold now, the most they held, connections muted for it.
          connections: this.server?.connectionCount,
          requestMemoryMB: this.server && Number((this.server.memoryPool.reserved / 1e6).toFixed(1)),
          requestMemoryPeakMB: this.server && Number((this.server.memoryPool.peakReserved / 1e6).toFixed(1)),
          waitingForMemory: this.server?.memoryPool.waiting,
          eventLoopDelayMs: { p50: Number((loop.percentile(50) / 1e6).toFixed(1)), p99: Number((loop.percentile(99) / 1e6).toFixed(1)), max: Number((loop.max / 1e6).toFixed(1)) },
          eventLoopUtilization: Number(performance.eventLoopUtilization(elu).utilization.toFixed(2)),
        },
        'writer stats',
      );
      last = { ...s };
      lastAt = now;
      loop.reset();
      elu = performance.eventLoopUtilization();
    }, intervalMs);
    t.unref();
    return t;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, `shutdown: ${what} failed`);
      }
    };
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.offsetExpiry) clearInterval(this.offsetExpiry.timer);
    // Groups first: waiting JoinGroup/SyncGroup requests are answered NOT_COORDINATOR at once
    // instead of holding the connections open for the whole grace period.
    await step('group coordinator', () => this.groups?.shutdown());
    await step('offset expiry', () => this.offsetExpiry?.running);
    await step('closing connections', () => this.server?.shutdown(SHUTDOWN_GRACE_MS));
    this.partitions?.stop();
    if (this.statsTimer) clearInterval(this.statsTimer);
    await step('retention', () => this.retention?.stop());
    await step('final flush', () => this.writer?.close());
    await step('releasing leases', () => this.leadership?.releaseAll());
    await step('orphan cleaner', () => this.cleaner?.stop());
    await step('deregistering', () => this.metadata?.deregisterAgent(this.config.agentId));
    await step('closing the object store', () => this.objectStore?.close());
    await step('topic change notifications', () => this.topicChanges?.close());
    await step('closing the metadata store', () => this.metadata?.close());
    await step('releasing the data directory', () => this.lock?.release());
    this.log.info({ nodeId: this.nodeId }, 'stopped');
  }
}
