// The agent: wires protocol, storage and metadata into one Kafka broker process. Start order: data
// directory lock, metadata store (migrations), object store, agent registration, writer/reader,
// leadership, a first placement round (the leases of our share are taken before the listener
// opens), listener. Stop order (SIGTERM/SIGINT): groups answer NOT_COORDINATOR, leave the live set
// (others place our partitions elsewhere and start taking them), hand every partition off (refuse
// new produce, commit what was accepted, release the lease), stop accepting connections and answer
// what is pending, flush the rest, release what is left, deregister, close stores.
import { mkdir } from 'node:fs/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { AgentIdInUseError, CachedMetadataStore, CLUSTER_CHANGES_CHANNEL, SqlMetadataStore, TopicChangeFeed, openMetadataStore } from '../metadata/index.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { ApiKey } from '../protocol/generated/index.js';
import type { MetadataStore } from '../metadata/types.js';
import { createObjectStore, OrphanCleaner, RegistryCleaner, SegmentReader, SegmentWriter, type ObjectStore } from '../storage/index.js';
import { SqlStorageMetadata } from '../metadata/storage-store.js';
import { DEFAULT_MAX_ROWS_PER_MERGE, EMBEDDED_MAX_ROWS_PER_MERGE, Merger } from '../storage/merger.js';
import { Compactor } from '../storage/compaction/compactor.js';
import { EmbeddedMaintenance } from '../metadata/maintenance.js';
import { lastDataOffsetsOfSnapshot } from '../storage/producer-state.js';
import { resolveTopicConfig, topicConfigValue } from './topics.js';
import type { Config } from './config.js';
import type { BrokerContext } from './context.js';
import { AclSync } from './security/acl-sync.js';
import { Authorizer, parseSuperUsers } from './security/authorizer.js';
import { Balancer } from './cluster/balancer.js';
import { Leadership, monotonicClock, partitionLeaseStore, systemClock } from './cluster/leases.js';
import { Membership } from './cluster/membership.js';
import { ClusterView } from './cluster/view.js';
import { CoordinatorShards, GroupCoordinator, systemTimers } from './coordinator/index.js';
import { AGENT_ID_FILE_NAME, dataDirAgentId } from './agent-identity.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { Dispatcher } from './dispatcher.js';
import { HANDLERS } from './handlers/registry.js';
import type { Logger } from './logger.js';
import { AgentPartitionLog } from './partition-log.js';
import { RetentionTask } from './retention.js';
import { KafkaServer } from './network/server.js';
import { FrameArena } from './network/frame-arena.js';
import { parseConnectionOverrides } from './network/connection-quotas.js';
import { HttpServer } from './http/server.js';
import { healthRoute, metricsRoute, readyRoute } from './http/routes.js';
import { mountConsole } from './console/index.js';
import type { ConsoleHistory } from './console/history.js';
import { consumerLag, countingLeaseListener, instrumentMetadataStore, InstrumentedObjectStore, metricsFor, type AgentMetrics } from './metrics/index.js';
import { PgDriver } from '../metadata/driver.js';
import { ClusterMarkerWriter, PartitionTransactions, TransactionCoordinator, TxnStore, type Transactions } from './transactions/index.js';
import { bindsBeyondLoopback, formatEndpoints, resolveListeners, usesSasl, usesTls, type ListenerSpec } from './network/listeners.js';
import { TlsContextSource, type ClientAuth } from './network/tls.js';
import { saslMechanismsOf } from './config.js';
import { CredentialStore } from './security/credentials.js';
import { SaslGate } from './security/sasl/gate.js';
import { FailedAuthentications } from './security/sasl/session.js';

const ORPHAN_SWEEP_MS = 5 * 60_000;
const SHUTDOWN_GRACE_MS = 30_000;
/** Longest a DeleteTopics answer waits for the other live agents to confirm they dropped the topic. */
const TOPIC_CHANGE_CONFIRM_MS = 1000;
/** /readyz: how long each check (a metadata query, an object listing) may take before it counts as failed. */
const READINESS_TIMEOUT_MS = 2000;
/** Consumer lag series one scrape computes at most. */
const MAX_LAG_SERIES = 10_000;

export class Agent {
  private lock: DataDirLock | undefined;
  private metadata: CachedMetadataStore | undefined;
  private objectStore: ObjectStore | undefined;
  private writer: SegmentWriter | undefined;
  private partitions: AgentPartitionLog | undefined;
  private leadership: Leadership | undefined;
  private membership: Membership | undefined;
  private balancer: Balancer | undefined;
  private server: KafkaServer | undefined;
  private cleaner: OrphanCleaner | RegistryCleaner | undefined;
  private retention: RetentionTask | undefined;
  private storageMd: SqlStorageMetadata | undefined;
  private merger: Merger | undefined;
  private compactor: Compactor | undefined;
  /** Vacuum and analyze of the embedded database (PGlite has no autovacuum); undefined on PostgreSQL. */
  maintenance: EmbeddedMaintenance | undefined;
  private groups: GroupCoordinator | undefined;
  private txnCoordinator: TransactionCoordinator | undefined;
  private offsetExpiry: { timer: NodeJS.Timeout; running: Promise<unknown> | undefined } | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private topicChanges: TopicChangeFeed | undefined;
  private clusterChanges: TopicChangeFeed | undefined;
  private aclSync: AclSync | undefined;
  private stopped = false;
  /** Metrics, when on (--http-port ≠ 0), and the HTTP endpoint serving them. */
  private metrics: AgentMetrics | undefined;
  private http: HttpServer | undefined;
  /** The web console's sampler (with the HTTP endpoint, on PostgreSQL or PGlite through the SQL store). */
  private consoleHistory: ConsoleHistory | undefined;
  /** The metadata store under the cache (instrumented when metrics are on): readiness queries it. */
  private store: MetadataStore | undefined;
  /** Set once our row is in the agents table: only then may stop() deregister it (a refused start must not remove the live holder's row). */
  private registered = false;
  /** This agent's id: --agent-id, else the data directory's own (resolved by start()). */
  agentId = '';
  /** The address the first listener is bound to (after start). */
  address: { host: string; port: number } | undefined;
  /** Every listener's bound address, by listener name (after start). */
  listenerAddresses = new Map<string, { host: string; port: number }>();
  /** TLS files of SSL / SASL_SSL listeners (reloaded when they change). */
  private tls: TlsContextSource | undefined;
  /** Failed authentications (count read by tests). */
  failedAuthentications: FailedAuthentications | undefined;
  /** The address of the HTTP endpoint (after start; undefined when --http-port is 0). */
  httpAddress: { host: string; port: number } | undefined;
  nodeId = -1;

  constructor(
    readonly config: Config,
    readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const cfg = this.config;
    // First: a port in use stops the start before anything else is touched; /healthz answers from
    // here on, /readyz once the stores answer and the Kafka listener is open.
    const metrics = (this.metrics = metricsFor(cfg));
    if (metrics !== undefined) {
      this.http = new HttpServer(this.log).mount(healthRoute(), readyRoute(this.readinessChecks(), READINESS_TIMEOUT_MS), metricsRoute(() => metrics.scrape()));
      this.httpAddress = await this.http.listen(cfg.httpPort, cfg.httpHost);
    }
    const listeners = resolveListeners(cfg);
    const advertised = formatEndpoints(listeners.map((l) => ({ name: l.name, host: l.advertisedHost, port: l.advertisedPort })));
    if (listeners.some((l) => usesTls(l.securityProtocol))) {
      this.tls = new TlsContextSource({ certFile: cfg.sslCertFile, keyFile: cfg.sslKeyFile, caFile: cfg.sslCaFile, clientAuth: cfg.sslClientAuth as ClientAuth }, this.log);
    }
    const dataDir = resolve(cfg.dataDir);
    await mkdir(dataDir, { recursive: true });
    this.lock = await acquireDataDirLock(dataDir);
    const agentId = (this.agentId = cfg.agentId || (await this.dataDirAgentId(dataDir)));

    const sql: MetadataStore = await openMetadataStore({
      databaseUrl: cfg.databaseUrl || undefined,
      dataDir,
      pool: { max: cfg.dbPoolMax, min: cfg.dbPoolMin, acquireTimeoutMs: cfg.dbAcquireTimeoutMs, idleTimeoutMs: cfg.dbIdleTimeoutMs, statementTimeoutMs: cfg.dbStatementTimeoutMs },
      logger: this.log,
    });
    const inner = (this.store = metrics ? instrumentMetadataStore(sql, metrics) : sql);
    const metadata = (this.metadata = new CachedMetadataStore(inner));
    // Our own topic changes (on PGlite the only ones): the partition log checks the topic's identity.
    metadata.onTopicChange((topic) => this.partitions?.topicChanged(topic));
    if (cfg.databaseUrl) {
      // Other agents announce topic changes: drop our cached copy at once instead of after the TTL,
      // and everything held for a topic that was deleted or re-created.
      this.topicChanges = new TopicChangeFeed(
        cfg.databaseUrl,
        (topic) => {
          if (topic === undefined) metadata.invalidateAll();
          else metadata.invalidateTopic(topic);
          this.partitions?.topicChanged(topic);
          this.balancer?.trigger(); // new partitions are placed (and their leases taken) before clients ask
        },
        {
          logger: this.log,
          connectTimeoutMs: cfg.dbAcquireTimeoutMs,
          agentId,
          // Asked to confirm a change another agent made: apply it (again: harmless) and finish checking.
          onSync: async (topic) => {
            metadata.invalidateTopic(topic);
            this.partitions?.topicChanged(topic);
            await this.partitions?.settled(topic);
          },
        },
      );
      await this.topicChanges.start();
    }

    const rawObjectStore = cfg.s3Bucket
      ? createObjectStore({ kind: 's3', bucket: cfg.s3Bucket, region: cfg.s3Region, endpoint: cfg.s3Endpoint || undefined, forcePathStyle: cfg.s3ForcePathStyle, prefix: cfg.s3Prefix || undefined })
      : createObjectStore({ kind: 'local', dir: join(dataDir, 'objects') });
    const objectStore = (this.objectStore = metrics ? new InstrumentedObjectStore(rawObjectStore, metrics) : rawObjectStore);

    // Agents that split groups into different numbers of shards would each coordinate some groups
    // the others also think theirs: the first agent's value is the cluster's.
    const agreedShards = await metadata.agreeClusterSetting('coordinator.shards', String(cfg.coordinatorShards));
    if (agreedShards !== String(cfg.coordinatorShards)) {
      throw new Error(
        `--coordinator-shards is ${cfg.coordinatorShards} here but ${agreedShards} for the agents sharing this database (recorded in its cluster_settings table): ` +
          `start every agent with --coordinator-shards ${agreedShards} (STREAMHOUSE_COORDINATOR_SHARDS)`,
      );
    }
    const me = await this.register(metadata, agentId, dataDir);
    this.nodeId = me.nodeId;
    // Registered (the node id is ours) but not live until the listener is open: see Membership.goLive.
    await metadata.retireAgent(agentId);
    // Leases a previous run of this agent id left (kill -9, then a restart within the TTL) are ended
    // rather than extended: this run takes them with new epochs, so that the previous run's
    // statements still in flight are fenced, not taken for ours.
    const ended = await metadata.endAgentLeases(agentId);
    if (ended.partitions + ended.shards > 0) this.log.info({ agentId, ...ended }, "ended the leases of this agent id's previous run");

    // The object registry (storage maintenance statements) runs on the same driver as the metadata store.
    const storageMd = (this.storageMd = sql instanceof SqlMetadataStore ? new SqlStorageMetadata(sql.driver) : undefined);
    const writer = (this.writer = new SegmentWriter({
      objectStore,
      metadata,
      registry: storageMd,
      // A reserved key is used only while far younger than the registry's pending bound.
      reserveMaxAgeMs: Math.min(30_000, Math.floor(cfg.objectPendingTimeoutMs / 4)),
      agentId,
      flushMs: cfg.flushMs,
      flushBytes: cfg.flushBytes,
      maxBufferedBytes: cfg.maxBufferedBytes,
      producerIdExpirationMs: cfg.producerIdExpirationMs,
      logger: this.log,
    }));
    const reader = new SegmentReader({ objectStore, metadata, tailCacheBytes: cfg.tailCacheBytes, blockCacheBytes: cfg.blockCacheBytes, logger: this.log });
    const partitions = (this.partitions = new AgentPartitionLog(metadata, writer, reader, this.config.maxDecompressedBytes, this.log, {
      agentId,
      // Producer state snapshots as often as leases are renewed: a crashed leader's successor reads
      // back at most about that much of each partition's log.
      intervalMs: cfg.leaseRenewIntervalMs,
    }));
    const self = { agentId, nodeId: me.nodeId, host: listeners[0]!.advertisedHost, port: listeners[0]!.advertisedPort, rack: cfg.rack || null, listeners: advertised };
    const membership = (this.membership = new Membership({ metadata, self, heartbeatMs: cfg.agentHeartbeatMs, liveWithinMs: 3 * cfg.agentHeartbeatMs, clock: monotonicClock, log: this.log }));
    let balancer: Balancer | undefined;
    let shards: CoordinatorShards | undefined;
    const leadership = (this.leadership = new Leadership({
      store: partitionLeaseStore(metadata),
      agentId,
      ttlMs: cfg.leaseTtlMs,
      renewIntervalMs: cfg.leaseRenewIntervalMs,
      clock: monotonicClock,
      log: this.log,
      listener: metrics ? countingLeaseListener(partitions, metrics) : partitions,
      // A request may take a free lease only of a partition intended for us.
      mayAcquire: (ref) => balancer?.isOurs(ref) ?? false,
    }));
    partitions.attach(leadership);
    balancer = this.balancer = new Balancer({ metadata, membership, leadership, nodeId: me.nodeId, intervalMs: cfg.placementIntervalMs, log: this.log });
    const cluster = new ClusterView(metadata, self, leadership, systemClock, balancer);
    if (cfg.databaseUrl) {
      // Agents joining or leaving, leases released: place again now (a handoff completes in one round
      // trip instead of one placement interval), and name the new leaders in Metadata at once.
      this.clusterChanges = new TopicChangeFeed(
        cfg.databaseUrl,
        () => {
          membership.invalidate();
          cluster.invalidate();
          balancer?.trigger();
          // The coordinator shards too: an agent that stopped released its shards and membership first.
          shards?.trigger();
        },
        { logger: this.log, connectTimeoutMs: cfg.dbAcquireTimeoutMs, channel: CLUSTER_CHANGES_CHANNEL },
      );
      await this.clusterChanges.start();
    }

    // Coordinator shards: leased like partitions; the ones intended for this agent are taken before the
    // listener opens, and handed off again by stop() (SIGTERM).
    shards = new CoordinatorShards({
      agentId: agentId,
      self: { nodeId: me.nodeId, host: self.host, port: self.port, rack: self.rack, listeners: advertised },
      shardCount: cfg.coordinatorShards,
      ttlMs: cfg.leaseTtlMs,
      store: metadata,
      timers: systemTimers,
      log: this.log,
    });
    const groups = (this.groups = new GroupCoordinator({
      nodeId: me.nodeId,
      agentId: agentId,
      metadata,
      shards,
      config: cfg,
      log: this.log,
      onGroupTransition: metrics && ((_group, _from, to) => metrics.groupTransition(to)),
    }));

    // Transactions: the coordinator side rides on the coordinator shards, the leader side on the partition log.
    let transactions: Transactions | undefined;
    if (sql instanceof SqlMetadataStore) {
      const txnStore = new TxnStore(sql.driver);
      const partitionTxns = new PartitionTransactions(
        {
          lead: (topic, partitionId, batch) => partitions.lead(topic, partitionId, batch),
          append: (topic, partitionId, batch) => partitions.append(topic, partitionId, batch),
          openTransaction: (topic, partitionId, producerId) => writer.openTransaction(topic, partitionId, producerId),
        },
        txnStore,
        agentId,
        this.log,
      );
      metadata.onTopicChange((topic) => partitionTxns.forgetTopic(topic));
      const partitionCount = async (topic: string) => (await metadata.getTopic(topic))?.partitionCount;
      const markers = new ClusterMarkerWriter({ nodeId: me.nodeId, brokers: () => cluster.brokers(), leaders: (topic, count) => cluster.leaders(topic, count), partitionCount }, partitionTxns, this.log);
      const coordinator = (this.txnCoordinator = new TransactionCoordinator({
        agentId,
        store: txnStore,
        shards,
        markers,
        allocateProducerId: () => metadata.allocateProducerId(),
        topicPartitionCount: partitionCount,
        log: this.log,
      }));
      transactions = { coordinator, partitions: partitionTxns };
    }

    const credentials = sql instanceof SqlMetadataStore ? new CredentialStore(sql.driver) : undefined;
    // ACLs: loaded before the listener opens, so no request is decided on an empty set.
    let authorizer: Authorizer | undefined;
    if (cfg.authorizer) {
      authorizer = new Authorizer({ superUsers: parseSuperUsers(cfg.superUsers), allowEveryoneIfNoAclFound: cfg.allowEveryoneIfNoAclFound });
      this.aclSync = new AclSync(inner, authorizer, { databaseUrl: cfg.databaseUrl || undefined, logger: this.log });
      await this.aclSync.start();
      this.log.info({ acls: authorizer.acls().length, superUsers: parseSuperUsers(cfg.superUsers).length, allowEveryoneIfNoAclFound: cfg.allowEveryoneIfNoAclFound }, 'authorizer on');
      if (authorizer.acls().length === 0 && parseSuperUsers(cfg.superUsers).length === 0 && !cfg.allowEveryoneIfNoAclFound) {
        this.log.warn({}, 'authorizer on without ACLs or super users: every request will be refused (add ACLs with `streamhouse acls add`, or set --super-users)');
      }
    }
    const aclSync = this.aclSync;

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
      transactions,
      topicChangeApplied: (topic) => this.topicChangeApplied(topic),
      credentials,
      authorizer,
      aclsChanged: aclSync && (() => aclSync.reload()),
      metrics,
    };
    const failures = (this.failedAuthentications = new FailedAuthentications(this.log, cfg.connectionFailedAuthenticationDelayMs));
    const gate = new SaslGate(new Dispatcher(HANDLERS, ctx, metrics), {
      mechanisms: saslMechanismsOf(cfg.saslEnabledMechanisms),
      credentials: credentials ?? { credentials: async () => [] },
      reauthMs: cfg.connectionsMaxReauthMs,
      failures,
      now: Date.now,
      log: this.log,
      onAuthentication: metrics && ((listener, mechanism, ok) => metrics.authentication(listener, mechanism, ok)),
    });

    this.server = new KafkaServer(
      gate,
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
    if (metrics) {
      writer.onCycle((c) => metrics.flushCycle({ durationMs: c.durationMs, bytes: c.objectBytes, partitions: c.partitions, ok: c.ok }));
      const server = this.server;
      const pool = sql instanceof SqlMetadataStore && sql.driver instanceof PgDriver ? sql.driver.pool : undefined;
      metrics.attach({
        connections: () => server.connectionCount,
        requestMemory: () => ({ reserved: server.memoryPool.reserved, capacity: server.memoryPool.capacity }),
        partitionsLed: () => leadership.leading().length,
        coordinatorShardsOwned: () => shards.owned().length,
        groupStates: () => groups.loadedGroups().map((g) => g.state),
        // Committed offsets and high watermarks as the database has them (not the cache's copy).
        consumerLag: () => consumerLag(groups.loadedGroups().map((g) => g.groupId), inner, MAX_LAG_SERIES),
        writerStats: () => writer.stats,
        writerBufferedBytes: () => writer.bufferedBytes,
        metadataPool: pool && (() => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: cfg.dbPoolMax })),
      });
    }
    leadership.start();
    // Live only now that everything but the listener is ready (a few ms before it opens): the others
    // hand our share over, and the first placement round takes the leases that are free before
    // clients arrive (Metadata names the lease holder, or the intended leader only while a partition
    // is unleased).
    await membership.goLive();
    await balancer.round();
    // Coordinator shards are placed over live agents: taken once we are live, before the listener opens.
    await groups.start();
    this.txnCoordinator?.start();
    balancer.start();
    for (const l of listeners) {
      const bound = await this.server.listen(l.port, l.host, l, usesTls(l.securityProtocol) ? this.tls : undefined);
      this.listenerAddresses.set(l.name, bound);
      this.address ??= bound;
    }
    this.tls?.startPolling(cfg.sslReloadIntervalMs);
    this.warnUnauthenticated(listeners);
    if (this.http !== undefined && inner instanceof SqlMetadataStore) {
      this.consoleHistory = mountConsole(
        this.http,
        { store: inner, partitions, registry: metrics?.registry, self: { nodeId: me.nodeId, agentId }, liveWithinMs: 3 * cfg.agentHeartbeatMs, maxDecompressedBytes: cfg.maxDecompressedBytes },
        cfg.consoleSampleMs,
        this.log,
      );
    }

    this.statsTimer = this.startStatsLog(writer, cfg.statsIntervalMs);
    if (storageMd !== undefined) {
      this.cleaner = new RegistryCleaner({
        objectStore,
        metadata: storageMd,
        bounds: { pendingTimeoutMs: cfg.objectPendingTimeoutMs, deleteGraceMs: cfg.objectDeleteGraceMs },
        onStoredBytes: metrics ? (bytes) => metrics.storeListed(bytes) : undefined,
        logger: this.log,
      });
      this.cleaner.start(cfg.objectCleanupIntervalMs);
    } else {
      this.cleaner = new OrphanCleaner({ objectStore, metadata: inner, logger: this.log });
      this.cleaner.start(ORPHAN_SWEEP_MS);
    }
    // Merging and compaction swap a partition's rows only while this agent leads it at that epoch.
    const stillLeading = (p: { topic: string; partitionId: number; epoch: number }) => {
      const st = leadership.state(p.topic, p.partitionId);
      return st.kind === 'leading' && st.epoch === p.epoch && writer.isOpen(p.topic, p.partitionId);
    };
    if (storageMd !== undefined && cfg.mergeIntervalMs > 0) {
      // The leader of a partition merges its small segments (storage/merger.ts); swaps are fenced by its lease.
      this.merger = new Merger({
        objectStore,
        metadata: inner,
        storage: storageMd,
        agentId,
        leading: () => leadership.leading(),
        stillLeading,
        onMerged: (topic, partitionId) => reader.invalidate(topic, partitionId),
        targetBytes: cfg.mergeTargetBytes,
        maxAgeMs: cfg.mergeMaxAgeMs,
        maxRowsPerMerge: sql instanceof SqlMetadataStore && sql.driver.kind === 'pglite' ? EMBEDDED_MAX_ROWS_PER_MERGE : DEFAULT_MAX_ROWS_PER_MERGE,
        bytesPerSecond: cfg.mergeBytesPerSecond,
        logger: this.log,
      });
      this.merger.start(cfg.mergeIntervalMs);
    }
    if (storageMd !== undefined && cfg.compactionIntervalMs > 0) {
      // cleanup.policy=compact: the leader keeps the newest record per key (storage/compaction/compactor.ts).
      this.compactor = new Compactor({
        objectStore,
        metadata: inner,
        storage: storageMd,
        agentId,
        leading: () => leadership.leading(),
        stillLeading,
        policy: async (topic) => {
          const record = await metadata.getTopic(topic);
          if (record === undefined) return undefined;
          const c = resolveTopicConfig(record);
          if (!c.compacted) return undefined;
          return {
            deleteRetentionMs: c.deleteRetentionMs,
            minCompactionLagMs: c.minCompactionLagMs,
            maxCompactionLagMs: c.maxCompactionLagMs,
            minCleanableDirtyRatio: Number(topicConfigValue(record, 'min.cleanable.dirty.ratio')),
            segmentMs: c.segmentMs,
            segmentBytes: c.segmentBytes,
          };
        },
        // Transactions: cleaning stops at the last stable offset, keeps each producer's last batch, and
        // drops aborted batches (aborted_txns).
        producerState: async (topic, partitionId) => {
          const view = await partitions.state(topic, partitionId, { stable: true });
          const snap = writer.producerSnapshot(topic, partitionId);
          if (snap === undefined) return undefined;
          return { lastStableOffset: view.lastStableOffset, lastDataOffsets: lastDataOffsetsOfSnapshot(snap.state, systemClock.now()) };
        },
        abortedTransactions: sql instanceof SqlMetadataStore ? (topic, partitionId, from) => new TxnStore(sql.driver).loadAborted(topic, partitionId, from) : undefined,
        onCompacted: (topic, partitionId) => {
          reader.invalidate(topic, partitionId);
          transactions?.partitions.forgetPartition(topic, partitionId);
        },
        targetBytes: cfg.mergeTargetBytes,
        maxDecompressedBytes: cfg.maxDecompressedBytes,
        logger: this.log,
      });
      this.compactor.start(cfg.compactionIntervalMs);
    }
    if (sql instanceof SqlMetadataStore && sql.driver.kind === 'pglite' && cfg.embeddedVacuumIntervalMs > 0) {
      // PGlite runs without autovacuum: every flush, swap and renewal leaves dead rows behind (metadata/maintenance.ts).
      this.maintenance = new EmbeddedMaintenance({ driver: sql.driver, timers: systemTimers, logger: this.log });
      this.maintenance.start(cfg.embeddedVacuumIntervalMs);
    }
    this.retention = new RetentionTask({ metadata, aggregates: storageMd, partitions, leading: () => leadership.leading(), clock: systemClock, log: this.log });
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
        host: this.address!.host,
        port: this.address!.port,
        listeners: formatEndpoints([...this.listenerAddresses].map(([name, a]) => ({ name, ...a }))),
        advertised,
        nodeId: me.nodeId,
        agentId,
        metadata: metadata.kind,
        objects: objectStore.kind === 's3' ? `s3://${cfg.s3Bucket}` : join(dataDir, 'objects'),
        http: this.httpAddress && `${this.httpAddress.host}:${this.httpAddress.port}`,
      },
      'listening',
    );
  }

  /** Anyone who reaches such a listener may do anything: say so when it is reachable beyond this machine. */
  private warnUnauthenticated(listeners: ListenerSpec[]): void {
    for (const l of listeners) {
      const authenticated = usesSasl(l.securityProtocol) || (l.securityProtocol === 'SSL' && this.config.sslClientAuth === 'required');
      if (!authenticated && bindsBeyondLoopback(l.host)) {
        this.log.warn(
          { listener: l.name, host: l.host, port: l.port },
          'listener without authentication bound beyond loopback: any client that reaches it can read, write and delete everything (use a SASL_SSL listener, see README "Security")',
        );
      }
    }
  }

  /**
   * Waits (at most TOPIC_CHANGE_CONFIRM_MS) until every other live agent has confirmed it applied the
   * changes of `topic` committed so far. On PGlite there is no other agent.
   */
  private async topicChangeApplied(topic: string): Promise<void> {
    const feed = this.topicChanges;
    const metadata = this.metadata;
    if (feed === undefined || metadata === undefined) return;
    const started = performance.now();
    try {
      const live = await metadata.listLiveAgents(3 * this.config.agentHeartbeatMs);
      const others = live.map((a) => a.agentId).filter((id) => id !== this.agentId);
      const missing = await feed.sync(topic, others, TOPIC_CHANGE_CONFIRM_MS);
      const ms = Number((performance.now() - started).toFixed(1));
      if (missing.length > 0) this.log.warn({ topic, agents: missing, ms }, 'agents did not confirm a topic change in time (their leases and the cache TTL still bound what they serve)');
      else this.log.info({ topic, agents: others.length, ms }, 'topic change confirmed by every live agent');
    } catch (err) {
      this.log.warn({ topic, err: (err as Error).message }, 'could not ask the other agents to confirm a topic change');
    }
  }

  /**
   * /readyz: the metadata store answers a query (the database clock), the object store a listing of
   * an empty prefix (one LIST on S3, counted in the request metrics and the cost estimate), and the
   * Kafka listener is open and not shutting down.
   */
  private readinessChecks() {
    return {
      metadata: async () => {
        if (this.store === undefined) return 'starting';
        await this.store.now();
        return undefined;
      },
      objectStore: async () => {
        if (this.objectStore === undefined) return 'starting';
        await this.objectStore.list('readyz/');
        return undefined;
      },
      kafkaListener: () => {
        if (this.stopped) return 'stopping';
        return this.server?.listening ? undefined : 'not listening yet';
      },
    };
  }

  /** The data directory's agent id (created on its first start). */
  private async dataDirAgentId(dataDir: string): Promise<string> {
    const { agentId, created } = await dataDirAgentId(dataDir);
    if (created) this.log.info({ agentId, file: join(dataDir, AGENT_ID_FILE_NAME) }, 'created the agent id of this data directory');
    return agentId;
  }

  /**
   * Registers this agent. An agent id is one live agent's: a row of it with a heartbeat within the
   * liveness window refuses the start, unless the previous holder of our data directory died without
   * releasing it (the data-dir lock was stale) and the row has our address: then it is our own dead
   * predecessor's (kill -9 and an immediate restart) and is taken over with its node id.
   */
  private async register(metadata: CachedMetadataStore, agentId: string, dataDir: string) {
    const cfg = this.config;
    const liveWithinMs = 3 * cfg.agentHeartbeatMs;
    try {
      const first = resolveListeners(cfg)[0]!;
      const me = await metadata.registerAgent({
        agentId,
        host: first.advertisedHost,
        port: first.advertisedPort,
        listeners: formatEndpoints(resolveListeners(cfg).map((l) => ({ name: l.name, host: l.advertisedHost, port: l.advertisedPort }))),
        rack: cfg.rack || null,
        nodeId: cfg.nodeId >= 0 ? cfg.nodeId : undefined,
        liveWithinMs,
        takeOverSameAddress: this.lock!.previousOwnerDied,
      });
      this.registered = true;
      return me;
    } catch (err) {
      if (!(err instanceof AgentIdInUseError)) throw err;
      const fix = cfg.agentId
        ? `give each agent its own --agent-id (STREAMHOUSE_AGENT_ID), or leave it unset to use the id of the data directory`
        : `the id comes from ${join(dataDir, AGENT_ID_FILE_NAME)}, so that agent runs on a copy of this data directory: give each agent a data directory of its own (or delete that file in the copy so that a new id is created), or set --agent-id`;
      throw new Error(
        `${err.message}. Two live agents cannot share an agent id (they would share leases, epochs and a node id): ${fix}. ` +
          `If that agent has just stopped, start again after ${liveWithinMs} ms (3 heartbeat intervals).`,
        { cause: err },
      );
    }
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
    if (this.offsetExpiry) clearInterval(this.offsetExpiry.timer);
    // Groups first: waiting JoinGroup/SyncGroup requests are answered NOT_COORDINATOR at once
    // instead of holding the connections open for the whole grace period.
    await step('transaction coordinator', () => this.txnCoordinator?.close());
    await step('group coordinator', () => this.groups?.shutdown());
    // Leave the live set, then hand every partition off while connections are still open: producers
    // get NOT_LEADER_OR_FOLLOWER for new batches (retriable), the accepted ones are committed and
    // acked, and each lease is released as soon as its partition is drained, so the agents it is now
    // intended for take it within their placement retry.
    this.balancer?.stop();
    await step('leaving the live set', () => this.membership?.retire());
    const handoffStarted = performance.now();
    // Bounded: a drain stuck on the object store ends when the lease would have anyway (self-fenced).
    await step('handing partitions off', () => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.leaseTtlMs)));
      return Promise.race([this.leadership?.handOffAll(), bound]).finally(() => clearTimeout(timer));
    });
    this.log.info({ ms: Math.round(performance.now() - handoffStarted) }, 'partitions handed off');
    await step('offset expiry', () => this.offsetExpiry?.running);
    await step('closing connections', () => this.server?.shutdown(SHUTDOWN_GRACE_MS));
    this.tls?.stop();
    this.partitions?.stop();
    if (this.statsTimer) clearInterval(this.statsTimer);
    await step('merger', () => this.merger?.stop());
    await step('compactor', () => this.compactor?.stop());
    await step('retention', () => this.retention?.stop());
    await step('embedded database maintenance', () => this.maintenance?.stop());
    await step('final flush', () => this.writer?.close());
    await step('releasing leases', () => this.leadership?.releaseAll());
    this.membership?.stop();
    await step('orphan cleaner', () => this.cleaner?.stop());
    if (this.registered) await step('deregistering', () => this.metadata?.deregisterAgent(this.agentId));
    await step('closing the object store', () => this.objectStore?.close());
    await step('topic change notifications', () => this.topicChanges?.close());
    await step('cluster change notifications', () => this.clusterChanges?.close());
    await step('ACL change notifications', () => this.aclSync?.close());
    await step('console sampler', () => this.consoleHistory?.stop());
    await step('closing the metadata store', () => this.metadata?.close());
    await step('releasing the data directory', () => this.lock?.release());
    await step('closing the HTTP endpoint', () => this.http?.close());
    this.log.info({ nodeId: this.nodeId }, 'stopped');
  }
}
