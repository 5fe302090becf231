// The metadata schema, shared by PostgreSQL and PGlite. drizzle-kit generates drizzle/ from this file
// (`npx drizzle-kit generate`); the store itself runs hand-written SQL against these tables.
// Table and column names follow the reference design. Times are epoch milliseconds (bigint).
// Note: drizzle-kit 0.31 crashes on bigint(...).default(0n), hence sql`0` defaults.
import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  customType,
  foreignKey,
  index,
  integer,
  json,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ms = (name: string) => bigint(name, { mode: 'number' });
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

export const topics = pgTable(
  'topics',
  {
    name: text('name').primaryKey(),
    topicId: uuid('topic_id').notNull().defaultRandom(),
    partitionCount: integer('partition_count').notNull(),
    retentionMs: ms('retention_ms'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
    // json, not jsonb: json keeps the text as written, so strings with NUL (\u0000) round-trip; jsonb
    // refuses them. Nothing queries inside these documents.
    config: json('config').$type<Record<string, string>>().notNull().default(sql`'{}'::json`),
  },
  (t) => [
    uniqueIndex('topics_topic_id_key').on(t.topicId),
    check('topics_partition_count_positive', sql`${t.partitionCount} > 0`),
  ],
);

export const partitions = pgTable(
  'partitions',
  {
    topic: text('topic')
      .notNull()
      .references(() => topics.name, { onDelete: 'cascade' }),
    partitionId: integer('partition_id').notNull(),
    /** Next offset to be written. */
    highWatermark: ms('high_watermark').notNull().default(sql`0`),
    logStartOffset: ms('log_start_offset').notNull().default(sql`0`),
    /** Equals the epoch of the partition's lease: bumped in the same transaction as a lease takeover. */
    leaderEpoch: integer('leader_epoch').notNull().default(0),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.topic, t.partitionId] }),
    check('partitions_offsets_valid', sql`0 <= ${t.logStartOffset} AND ${t.logStartOffset} <= ${t.highWatermark}`),
  ],
);

export const segments = pgTable(
  'segments',
  {
    id: text('id').primaryKey(),
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    baseOffset: ms('base_offset').notNull(),
    /** Last offset contained (inclusive). */
    endOffset: ms('end_offset').notNull(),
    recordCount: integer('record_count').notNull(),
    sizeBytes: ms('size_bytes').notNull(),
    s3Bucket: text('s3_bucket').notNull(),
    s3Key: text('s3_key').notNull(),
    /** Where this partition's chunk sits inside the object. */
    bytePosition: ms('byte_position').notNull(),
    byteLength: ms('byte_length').notNull(),
    maxTimestamp: ms('max_timestamp').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    foreignKey({ columns: [t.topic, t.partitionId], foreignColumns: [partitions.topic, partitions.partitionId] }).onDelete(
      'cascade',
    ),
    index('idx_segments_offset_range').on(t.topic, t.partitionId, t.baseOffset, t.endOffset),
    check('segments_offsets_valid', sql`${t.baseOffset} <= ${t.endOffset}`),
  ],
);

export const consumerGroups = pgTable('consumer_groups', {
  groupId: text('group_id').primaryKey(),
  state: text('state').notNull().default('Empty'),
  protocolType: text('protocol_type'),
  protocolName: text('protocol_name'),
  generation: integer('generation').notNull().default(0),
  leaderId: text('leader_id'),
  /** json, not jsonb (see topics.config): member and client ids may hold any string. */
  members: json('members').$type<unknown[]>().notNull().default(sql`'[]'::json`),
  createdAt: ms('created_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
});

// No foreign keys: standalone consumers commit offsets without a group record, and offsets of a deleted
// topic are removed by deleteTopic in the same statement.
export const consumerOffsets = pgTable(
  'consumer_offsets',
  {
    groupId: text('group_id').notNull(),
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    committedOffset: ms('committed_offset').notNull(),
    leaderEpoch: integer('leader_epoch').notNull().default(-1),
    metadata: text('metadata'),
    committedAt: ms('committed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.topic, t.partitionId] }), index('idx_consumer_offsets_topic').on(t.topic)],
);

export const agents = pgTable(
  'agents',
  {
    agentId: text('agent_id').primaryKey(),
    /** Stable Kafka broker node id. */
    nodeId: integer('node_id').notNull(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    rack: text('rack'),
    /** Advertised listeners, Kafka's form `NAME://host:port,...` (null: only host:port, PLAINTEXT). */
    listeners: text('listeners'),
    lastHeartbeat: ms('last_heartbeat').notNull(),
    startedAt: ms('started_at').notNull(),
  },
  (t) => [uniqueIndex('agents_node_id_key').on(t.nodeId)],
);

export const partitionLeases = pgTable(
  'partition_leases',
  {
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    leaderAgentId: text('leader_agent_id').notNull(),
    /** Database clock, epoch ms. */
    leaseExpiresAt: ms('lease_expires_at').notNull(),
    acquiredAt: ms('acquired_at').notNull(),
    epoch: integer('epoch').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.topic, t.partitionId] }),
    foreignKey({ columns: [t.topic, t.partitionId], foreignColumns: [partitions.topic, partitions.partitionId] }).onDelete(
      'cascade',
    ),
    index('idx_partition_leases_leader').on(t.leaderAgentId),
  ],
);

/** Producer ids handed out by InitProducerId (idempotent producers), unique across agents. */
export const producerIds = pgSequence('producer_ids', { startWith: 1, minValue: 1 });

/**
 * Group coordination (and later transactional ids) is owned per shard: a key belongs to shard
 * abs(javaHashCode(key)) % coordinator-shards (0 ≤ shard), and the agent holding a shard's unexpired
 * lease is the only one that may write that shard's groups and offsets (the writes check this row in the
 * same statement). A row with a negative shard, -1 - node id, is an agent's membership lease: the agents
 * holding one are the candidates shards are placed on (renewed with the shards, released on shutdown, so
 * a stopping agent leaves placement at once and a crashed one when its lease expires). No foreign keys:
 * shards exist whether or not any group hashes to them.
 */
export const coordinatorLeases = pgTable(
  'coordinator_leases',
  {
    shard: integer('shard').primaryKey(),
    leaderAgentId: text('leader_agent_id').notNull(),
    /** Database clock, epoch ms. */
    leaseExpiresAt: ms('lease_expires_at').notNull(),
    acquiredAt: ms('acquired_at').notNull(),
    epoch: integer('epoch').notNull(),
  },
  (t) => [index('idx_coordinator_leases_leader').on(t.leaderAgentId)],
);

/**
 * Idempotent producers' state of a partition as of `end_offset` (a committed high watermark), saved by
 * its leader when it hands the partition off and every few seconds while it leads (only when it
 * changed). A new leader starts from it and reads back only the log from `end_offset` on, instead of
 * the last PRODUCER_SCAN_OFFSETS offsets. Written only by the holder of the partition's unexpired lease.
 */
export const producerSnapshots = pgTable(
  'producer_snapshots',
  {
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    leaseEpoch: integer('lease_epoch').notNull(),
    endOffset: ms('end_offset').notNull(),
    /** storage/producer-state.ts snapshot format. */
    state: bytea('state').notNull(),
    /** Database clock, epoch ms. */
    savedAt: ms('saved_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.topic, t.partitionId] }),
    foreignKey({ columns: [t.topic, t.partitionId], foreignColumns: [partitions.topic, partitions.partitionId] }).onDelete('cascade'),
  ],
);

/**
 * Settings every agent sharing the database must agree on (e.g. the number of coordinator shards):
 * the first agent to start records its value; an agent started with another value is refused.
 */
export const clusterSettings = pgTable('cluster_settings', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  /** Database clock, epoch ms. */
  setAt: ms('set_at').notNull(),
});

/**
 * The object registry: every segment object, registered (state 'pending') before its upload, so that
 * every delete decision is made from database state and the database clock, never from the store's
 * timestamps or an agent's clock. `ref_count` / `live_bytes` are maintained by statement-level triggers
 * on `segments` (migration object_registry_triggers), so every path that adds or removes segment rows
 * (flush commits, merges, retention, topic deletion by cascade, older agents) keeps them right.
 * States: pending → live (a row references it) → unreferenced (the last row went; readers in flight
 * get a grace) → deleting (claimed by a cleaner; a late commit naming it fails) → deleted (tombstone,
 * purged after a bound far beyond the statement timeout). A pending object never referenced within the
 * pending bound goes to deleting too.
 */
export const segmentObjects = pgTable(
  'segment_objects',
  {
    /** The object key, as segments.s3_key. */
    key: text('key').primaryKey(),
    bucket: text('bucket').notNull(),
    state: text('state').notNull(),
    /** Object size in bytes (a lower bound for objects adopted from before the registry). */
    sizeBytes: ms('size_bytes').notNull(),
    /** Bytes of the chunks segment rows still reference. */
    liveBytes: ms('live_bytes').notNull().default(sql`0`),
    refCount: integer('ref_count').notNull().default(0),
    /** Who registered it ('' for adopted objects). */
    agentId: text('agent_id').notNull().default(''),
    /** Database clock, epoch ms. */
    createdAt: ms('created_at').notNull(),
    /** Database clock, epoch ms: when `state` last changed (pending: registration). */
    stateChangedAt: ms('state_changed_at').notNull(),
  },
  (t) => [
    index('idx_segment_objects_cleanup').on(t.state, t.stateChangedAt).where(sql`${t.refCount} = 0`),
    check('segment_objects_state_valid', sql`${t.state} IN ('pending', 'live', 'unreferenced', 'deleting', 'deleted')`),
    check('segment_objects_counts_valid', sql`${t.refCount} >= 0 AND ${t.liveBytes} >= 0`),
  ],
);

/**
 * Transaction coordinator state (src/transactions/): one row per transactional id, written only by the
 * holder of its coordinator shard's unexpired lease (the same fence as groups). A transaction is
 * decided when its row reaches PrepareCommit/PrepareAbort: from then on the owner of the shard (this
 * agent or, after a failover, the next) writes the markers of `partitions` until all are written and
 * the row becomes CompleteCommit/CompleteAbort.
 */
export const transactions = pgTable(
  'transactions',
  {
    transactionalId: text('transactional_id').primaryKey(),
    shard: integer('shard').notNull(),
    producerId: ms('producer_id').notNull(),
    producerEpoch: integer('producer_epoch').notNull(),
    /** Kafka's TransactionState names: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort. */
    state: text('state').notNull(),
    timeoutMs: integer('timeout_ms').notNull(),
    /** [[topic, partition], ...] of the transaction in progress (or being completed). */
    partitions: json('partitions').$type<Array<[string, number]>>().notNull().default(sql`'[]'::json`),
    /** Consumer groups added by AddOffsetsToTxn. */
    groups: json('groups').$type<string[]>().notNull().default(sql`'[]'::json`),
    /** Database clock, epoch ms; -1 while no transaction is in progress. */
    startedAt: ms('started_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('idx_transactions_shard_state').on(t.shard, t.state), index('idx_transactions_producer').on(t.producerId)],
);

/** TxnOffsetCommit offsets waiting for their transaction: moved into consumer_offsets by its commit, dropped by its abort. */
export const txnOffsets = pgTable(
  'txn_offsets',
  {
    transactionalId: text('transactional_id').notNull(),
    groupId: text('group_id').notNull(),
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    producerId: ms('producer_id').notNull(),
    committedOffset: ms('committed_offset').notNull(),
    leaderEpoch: integer('leader_epoch').notNull(),
    metadata: text('metadata'),
    committedAt: ms('committed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.transactionalId, t.groupId, t.topic, t.partitionId] }), index('idx_txn_offsets_group').on(t.groupId)],
);

/**
 * The aborted-transactions index of each partition (Kafka's .txnindex): a read_committed Fetch returns
 * the entries overlapping what it reads, and clients drop those producers' records from first_offset
 * up to the abort marker. Written by the partition's leader before it appends the abort marker
 * (last_offset, the marker's offset, is filled in once that marker is written).
 */
export const abortedTxns = pgTable(
  'aborted_txns',
  {
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    producerId: ms('producer_id').notNull(),
    firstOffset: ms('first_offset').notNull(),
    lastOffset: ms('last_offset'),
  },
  (t) => [
    primaryKey({ columns: [t.topic, t.partitionId, t.producerId, t.firstOffset] }),
    foreignKey({ columns: [t.topic, t.partitionId], foreignColumns: [partitions.topic, partitions.partitionId] }).onDelete('cascade'),
  ],
);

/**
 * SASL credentials, one row per user and mechanism. SCRAM-SHA-256/512 (RFC 5802): salt, iterations,
 * StoredKey and ServerKey, never the password; a PLAIN login is checked against any of the user's
 * rows (a SCRAM row is recomputed from the password), a PLAIN row holds a PBKDF2-HMAC-SHA-512 hash in
 * stored_key and an empty server_key. Read by every agent at each authentication (no cache to expire).
 */
export const userCredentials = pgTable(
  'user_credentials',
  {
    userName: text('user_name').notNull(),
    mechanism: text('mechanism').notNull(),
    salt: bytea('salt').notNull(),
    iterations: integer('iterations').notNull(),
    storedKey: bytea('stored_key').notNull(),
    serverKey: bytea('server_key').notNull(),
    /** Database clock, epoch ms. */
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userName, t.mechanism] }),
    check('user_credentials_mechanism_check', sql`${t.mechanism} IN ('SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN')`),
  ],
);

/**
 * Access control lists (src/security/): one row per ACL binding, in Kafka's vocabulary (lower-case
 * names: resource type topic/group/cluster/transactional_id, pattern type literal/prefixed, operation
 * read/write/…, permission allow/deny). A row is its own key: creating an existing ACL changes nothing.
 * Every agent keeps all of them in memory and reloads them when told (ACL_CHANGES_CHANNEL).
 */
export const acls = pgTable(
  'acls',
  {
    resourceType: text('resource_type').notNull(),
    patternType: text('pattern_type').notNull(),
    resourceName: text('resource_name').notNull(),
    principal: text('principal').notNull(),
    host: text('host').notNull(),
    operation: text('operation').notNull(),
    permissionType: text('permission_type').notNull(),
    /** Database clock, epoch ms. */
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    primaryKey({ name: 'acls_pkey', columns: [t.resourceType, t.patternType, t.resourceName, t.principal, t.host, t.operation, t.permissionType] }),
    check('acls_resource_type_valid', sql`${t.resourceType} IN ('topic', 'group', 'cluster', 'transactional_id', 'delegation_token', 'user')`),
    check('acls_pattern_type_valid', sql`${t.patternType} IN ('literal', 'prefixed')`),
    check(
      'acls_operation_valid',
      sql`${t.operation} IN ('all', 'read', 'write', 'create', 'delete', 'alter', 'describe', 'cluster_action', 'describe_configs', 'alter_configs', 'idempotent_write', 'create_tokens', 'describe_tokens')`,
    ),
    check('acls_permission_type_valid', sql`${t.permissionType} IN ('allow', 'deny')`),
  ],
);

/**
 * The log cleaner's checkpoint of each compacted partition (Kafka's cleaner-offset-checkpoint): the
 * first offset not yet cleaned (the dirty section starts there) and the earliest delete horizon still
 * pending in the cleaned section (tombstones or markers to remove once it passes; null: none). Written
 * by the partition's leader with the last swap of a cleaning (same statement, fenced by the lease).
 */
export const compactionCheckpoints = pgTable(
  'compaction_checkpoints',
  {
    topic: text('topic').notNull(),
    partitionId: integer('partition_id').notNull(),
    firstDirtyOffset: ms('first_dirty_offset').notNull(),
    deleteHorizon: ms('delete_horizon'),
    /** Database clock, epoch ms. */
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.topic, t.partitionId] }),
    foreignKey({ columns: [t.topic, t.partitionId], foreignColumns: [partitions.topic, partitions.partitionId] }).onDelete('cascade'),
    check('compaction_checkpoints_offset_valid', sql`${t.firstDirtyOffset} >= 0`),
  ],
);
