// The metadata store on PostgreSQL or PGlite. Every operation is one SQL statement (a CTE where several
// tables change together), so it is atomic without an explicit transaction and costs one round trip;
// only rarely used, multi-step operations (addPartitions) open a transaction. Clocks are the database's.
import { randomUUID } from 'node:crypto';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { statement, type Driver, type Row } from './driver.js';
import { AgentIdInUseError, rootCause } from './errors.js';
import { fromStored, fromStoredOrNull, toStored, toStoredOrNull } from './stored-text.js';
import { ACL_CHANGES_CHANNEL, CLUSTER_CHANGES_CHANNEL, TOPIC_CHANGES_CHANNEL } from './topic-changes.js';
import {
  operationCode,
  operationName,
  patternTypeCode,
  patternTypeName,
  permissionCode,
  permissionName,
  resourceTypeCode,
  resourceTypeName,
} from '../src/security/acl.js';
import type {
  AclBinding,
  AgentRecord,
  CommittedOffset,
  CreateTopicInput,
  FencedPartition,
  FlushCommitPartition,
  FlushCommitResult,
  GroupRecord,
  LeaseRecord,
  CoordinatorLease,
  CoordinatorFence,
  MetadataStore,
  NewSegment,
  OffsetCommitInput,
  PartitionRecord,
  PartitionSegmentStats,
  SegmentRecord,
  TopicRecord,
  ProducerSnapshotInput,
  ProducerSnapshotRecord,
} from './types.js';
import {
  assertGroupId,
  assertInt32,
  assertNonNegative,
  assertPartitionCount,
  assertPartitionId,
  assertPositiveMs,
  assertRetentionMs,
  assertSafeInteger,
  assertSegment,
  assertTopicConfig,
  assertTopicName,
  isPartitionId,
  isUuid,
  isValidTopicName,
} from './validate.js';

/** The database clock in epoch milliseconds (now() is the transaction's start time). */
export const NOW_MS = `(floor(extract(epoch from now()) * 1000))::bigint`;

const TOPIC_COLS = `name, topic_id AS "topicId", partition_count AS "partitionCount", retention_ms AS "retentionMs",
  config, created_at AS "createdAt", updated_at AS "updatedAt"`;
const PARTITION_COLS = `topic, partition_id AS "partitionId", high_watermark AS "highWatermark",
  log_start_offset AS "logStartOffset", leader_epoch AS "leaderEpoch", created_at AS "createdAt", updated_at AS "updatedAt"`;
const SEGMENT_COLS = `id, topic, partition_id AS "partitionId", base_offset AS "baseOffset", end_offset AS "endOffset",
  record_count AS "recordCount", size_bytes AS "sizeBytes", s3_bucket AS "s3Bucket", s3_key AS "s3Key",
  byte_position AS "bytePosition", byte_length AS "byteLength", max_timestamp AS "maxTimestamp", created_at AS "createdAt"`;
const LEASE_COLS = `topic, partition_id AS "partitionId", leader_agent_id AS "leaderAgentId",
  lease_expires_at AS "leaseExpiresAt", epoch`;
const AGENT_COLS = `agent_id AS "agentId", node_id AS "nodeId", host, port, rack, listeners, last_heartbeat AS "lastHeartbeat",
  started_at AS "startedAt"`;
const OFFSET_COLS = `group_id AS "groupId", topic, partition_id AS "partitionId", committed_offset AS "offset",
  leader_epoch AS "leaderEpoch", metadata, committed_at AS "commitTimestamp"`;
const GROUP_COLS = `group_id AS "groupId", state, protocol_type AS "protocolType", protocol_name AS "protocolName",
  generation, leader_id AS "leaderId", members, created_at AS "createdAt", updated_at AS "updatedAt"`;

const ACL_COLS = `resource_type AS "resourceType", pattern_type AS "patternType", resource_name AS "resourceName",
  principal, host, operation, permission_type AS "permissionType"`;

const UPSERT_OFFSETS = `INSERT INTO consumer_offsets AS co
    (group_id, topic, partition_id, committed_offset, leader_epoch, metadata, committed_at)`;
const ON_OFFSET_CONFLICT = `ON CONFLICT (group_id, topic, partition_id) DO UPDATE SET
    committed_offset = EXCLUDED.committed_offset, leader_epoch = EXCLUDED.leader_epoch,
    metadata = EXCLUDED.metadata, committed_at = EXCLUDED.committed_at`;

/**
 * The coordinator fence of a group write, as CTEs: `ok` is true when no fence is given ($n IS NULL) or
 * when agent $n+1 holds shard $n with epoch $n+2, unexpired on the database clock. The lease row is
 * share-locked, so a takeover (an UPDATE of that row) waits for the write to commit, and a write
 * racing a committed takeover re-checks the new row version and is refused: every write accepted under
 * epoch e happens before epoch e + 1 starts.
 */
export const fenceCtes = (n: number) => `fence AS (
       SELECT 1 FROM coordinator_leases
       WHERE $${n}::int IS NOT NULL AND shard = $${n}::int AND leader_agent_id = $${n + 1}::text AND epoch = $${n + 2}::int
         AND lease_expires_at > ${NOW_MS}
       FOR SHARE
     ), ok AS (SELECT ($${n}::int IS NULL OR EXISTS (SELECT 1 FROM fence)) AS ok)`;

const COORDINATOR_LEASE_COLS = `shard, leader_agent_id AS "leaderAgentId", lease_expires_at AS "leaseExpiresAt", epoch`;

const S = {
  now: statement('sh_now', `SELECT ${NOW_MS} AS now`, { idempotent: true }),

  // --- topics & partitions -------------------------------------------------------------------------
  // One statement: the topic row and all its partitions (generate_series), or nothing if it exists.
  createTopic: statement(
    'sh_create_topic',
    `WITH t AS (
       INSERT INTO topics (name, partition_count, retention_ms, config, created_at, updated_at)
       VALUES ($1, $2, $3, $4::json, ${NOW_MS}, ${NOW_MS})
       ON CONFLICT (name) DO NOTHING
       RETURNING *
     ), p AS (
       INSERT INTO partitions (topic, partition_id, high_watermark, log_start_offset, leader_epoch, created_at, updated_at)
       SELECT t.name, g.i, 0, 0, 0, t.created_at, t.created_at
       FROM t CROSS JOIN generate_series(0, t.partition_count - 1) AS g(i)
     )
     SELECT ${TOPIC_COLS} FROM t`,
  ),
  getTopic: statement('sh_get_topic', `SELECT ${TOPIC_COLS} FROM topics WHERE name = $1`, { idempotent: true }),
  getTopicById: statement('sh_get_topic_by_id', `SELECT ${TOPIC_COLS} FROM topics WHERE topic_id = $1::uuid`, {
    idempotent: true,
  }),
  listTopics: statement('sh_list_topics', `SELECT ${TOPIC_COLS} FROM topics ORDER BY name`, { idempotent: true }),
  // Partitions, segments and leases go by ON DELETE CASCADE; committed offsets of the topic here.
  deleteTopic: statement(
    'sh_delete_topic',
    `WITH d AS (DELETE FROM topics WHERE name = $1 RETURNING name),
     o AS (DELETE FROM consumer_offsets WHERE topic = $1 AND EXISTS (SELECT 1 FROM d))
     SELECT count(*)::int AS n FROM d`,
  ),
  lockTopic: statement('sh_lock_topic', `SELECT partition_count AS "partitionCount" FROM topics WHERE name = $1 FOR UPDATE`),
  growTopic: statement(
    'sh_grow_topic',
    `WITH t AS (
       UPDATE topics SET partition_count = $2, updated_at = ${NOW_MS} WHERE name = $1 RETURNING *
     ), p AS (
       INSERT INTO partitions (topic, partition_id, high_watermark, log_start_offset, leader_epoch, created_at, updated_at)
       SELECT t.name, g.i, 0, 0, 0, t.updated_at, t.updated_at
       FROM t CROSS JOIN generate_series($3::int, t.partition_count - 1) AS g(i)
     )
     SELECT ${TOPIC_COLS} FROM t`,
  ),
  updateTopicConfig: statement(
    'sh_update_topic_config',
    `UPDATE topics SET config = $2::json,
       retention_ms = CASE WHEN $3::boolean THEN $4::bigint ELSE retention_ms END,
       updated_at = ${NOW_MS}
     WHERE name = $1 RETURNING ${TOPIC_COLS}`,
  ),
  getPartitions: statement(
    'sh_get_partitions',
    `SELECT ${PARTITION_COLS} FROM partitions WHERE topic = $1 ORDER BY partition_id`,
    { idempotent: true },
  ),
  getPartition: statement(
    'sh_get_partition',
    `SELECT ${PARTITION_COLS} FROM partitions WHERE topic = $1 AND partition_id = $2`,
    { idempotent: true },
  ),
  updateHighWatermark: statement(
    'sh_update_high_watermark',
    `UPDATE partitions SET high_watermark = $3, updated_at = ${NOW_MS}
     WHERE topic = $1 AND partition_id = $2 RETURNING 1 AS ok`,
    { idempotent: true },
  ),
  setLogStartOffset: statement(
    'sh_set_log_start_offset',
    `UPDATE partitions SET log_start_offset = GREATEST(log_start_offset, $3::bigint), updated_at = ${NOW_MS}
     WHERE topic = $1 AND partition_id = $2 AND $3::bigint <= high_watermark
     RETURNING log_start_offset AS "logStartOffset"`,
    { idempotent: true },
  ),

  // --- segments ------------------------------------------------------------------------------------
  addSegment: statement(
    'sh_add_segment',
    `INSERT INTO segments (id, topic, partition_id, base_offset, end_offset, record_count, size_bytes, s3_bucket, s3_key,
       byte_position, byte_length, max_timestamp, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, ${NOW_MS})
     RETURNING ${SEGMENT_COLS}`,
  ),
  // Backward scan of idx_segments_offset_range from the offset: the first row is the segment.
  findSegment: statement(
    'sh_find_segment',
    `SELECT ${SEGMENT_COLS} FROM segments
     WHERE topic = $1 AND partition_id = $2 AND base_offset <= $3 AND end_offset >= $3
     ORDER BY base_offset DESC LIMIT 1`,
    { idempotent: true },
  ),
  // Starts the index range at the segment holding $3 (or the first after it), not at the partition start.
  listSegments: statement(
    'sh_list_segments',
    `SELECT ${SEGMENT_COLS} FROM segments
     WHERE topic = $1 AND partition_id = $2 AND end_offset >= $3
       AND base_offset >= COALESCE((SELECT s.base_offset FROM segments s
             WHERE s.topic = $1 AND s.partition_id = $2 AND s.base_offset <= $3
             ORDER BY s.base_offset DESC LIMIT 1), $3)
     ORDER BY base_offset LIMIT $4`,
    { idempotent: true },
  ),
  segmentStats: statement(
    'sh_segment_stats',
    `SELECT topic, partition_id AS "partitionId", count(*)::int AS "segmentCount",
       COALESCE(sum(record_count), 0)::bigint AS "recordCount", COALESCE(sum(size_bytes), 0)::bigint AS "sizeBytes",
       COALESCE(sum(byte_length), 0)::bigint AS "storedBytes"
     FROM segments WHERE ($1::text IS NULL OR topic = $1)
     GROUP BY topic, partition_id ORDER BY topic, partition_id`,
    { idempotent: true },
  ),
  deleteSegmentsBefore: statement(
    'sh_delete_segments_before',
    `DELETE FROM segments WHERE topic = $1 AND partition_id = $2 AND base_offset < $3 AND end_offset < $3
     RETURNING ${SEGMENT_COLS}`,
    { idempotent: true },
  ),
  // The fenced flush commit, one statement (see metadata/README.md). Lease rows are share-locked first,
  // then partition rows are locked for update, both in key order: the same order a lease takeover uses
  // (lease, then partition), so the two cannot deadlock. Locked rows are read in their latest committed
  // version, so the checks see what the writes will see. If every partition passes, all high watermarks
  // move and all segment rows are inserted; otherwise nothing is written and the fenced ones are listed.
  // The final CASE fails the statement (rolling everything back) should the write counts ever disagree.
  // Tells the other agents (metadata/topic-changes.ts) to drop what they cache about a topic.
  notifyTopicChange: statement('sh_notify_topic_change', `SELECT pg_notify('${TOPIC_CHANGES_CHANNEL}', $1) AS sent`, { idempotent: true }),

  commitFlush: statement(
    'sh_commit_flush',
    `WITH input AS (
       SELECT * FROM unnest($2::text[], $3::int[], $4::int[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[],
                            $9::int[], $10::bigint[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[])
         AS i(topic, partition_id, lease_epoch, expected_hw, seg_id, base_offset, end_offset, record_count, size_bytes,
              s3_bucket, s3_key, byte_position, byte_length, max_timestamp)
     ), lease AS MATERIALIZED (
       SELECT l.topic, l.partition_id, l.leader_agent_id, l.epoch, l.lease_expires_at
       FROM partition_leases l JOIN input i ON l.topic = i.topic AND l.partition_id = i.partition_id
       ORDER BY l.topic, l.partition_id
       FOR SHARE OF l
     ), part AS MATERIALIZED (
       SELECT p.topic, p.partition_id, p.high_watermark
       FROM partitions p JOIN input i ON p.topic = i.topic AND p.partition_id = i.partition_id
       WHERE (SELECT count(*) FROM lease) >= 0
       ORDER BY p.topic, p.partition_id
       FOR UPDATE OF p
     ), chk AS MATERIALIZED (
       SELECT i.topic, i.partition_id, p.high_watermark, l.leader_agent_id, l.epoch,
         CASE WHEN p.topic IS NULL THEN 'unknown_partition'
              WHEN l.topic IS NULL OR l.leader_agent_id <> $1 OR l.epoch <> i.lease_epoch
                   OR l.lease_expires_at <= ${NOW_MS} THEN 'lease'
              WHEN p.high_watermark <> i.expected_hw THEN 'offset'
         END AS reason
       FROM input i
       LEFT JOIN part p ON p.topic = i.topic AND p.partition_id = i.partition_id
       LEFT JOIN lease l ON l.topic = i.topic AND l.partition_id = i.partition_id
     ), ok AS MATERIALIZED (
       SELECT coalesce(bool_and(reason IS NULL), false) AS all_ok FROM chk
     ), upd AS (
       UPDATE partitions p SET high_watermark = i.end_offset + 1, updated_at = ${NOW_MS}
       FROM input i, ok
       WHERE ok.all_ok AND p.topic = i.topic AND p.partition_id = i.partition_id AND p.high_watermark = i.expected_hw
       RETURNING 1
     ), ins AS (
       INSERT INTO segments (id, topic, partition_id, base_offset, end_offset, record_count, size_bytes, s3_bucket, s3_key,
         byte_position, byte_length, max_timestamp, created_at)
       SELECT i.seg_id, i.topic, i.partition_id, i.base_offset, i.end_offset, i.record_count, i.size_bytes, i.s3_bucket,
         i.s3_key, i.byte_position, i.byte_length, i.max_timestamp, ${NOW_MS}
       FROM input i, ok WHERE ok.all_ok
       RETURNING 1
     ), counts AS (
       SELECT (SELECT count(*) FROM upd) AS updated, (SELECT count(*) FROM ins) AS inserted,
              cardinality($2::text[]) AS n, (SELECT all_ok FROM ok) AS all_ok
     )
     SELECT
       (SELECT json_agg(json_build_object('topic', topic, 'partitionId', partition_id, 'reason', reason,
                 'highWatermark', high_watermark, 'leaderAgentId', leader_agent_id, 'leaseEpoch', epoch))
        FROM chk WHERE reason IS NOT NULL) AS fenced,
       CASE WHEN all_ok AND (updated <> n OR inserted <> n)
            THEN ('flush commit invariant violated: updated ' || updated || ', inserted ' || inserted)::int
            ELSE 0 END AS guard
     FROM counts`,
  ),

  // --- consumer offsets & groups -------------------------------------------------------------------
  commitOffset: statement(
    'sh_commit_offset',
    `${UPSERT_OFFSETS} VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7::bigint, ${NOW_MS})) ${ON_OFFSET_CONFLICT}`,
    { idempotent: true },
  ),
  commitOffsets: statement(
    'sh_commit_offsets',
    `WITH ${fenceCtes(8)}, o AS (
       ${UPSERT_OFFSETS}
       SELECT $1, u.topic, u.partition_id, u.committed_offset, u.leader_epoch, u.metadata, COALESCE(u.committed_at, ${NOW_MS})
       FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::bigint[])
         AS u(topic, partition_id, committed_offset, leader_epoch, metadata, committed_at)
       WHERE (SELECT ok FROM ok)
       ${ON_OFFSET_CONFLICT}
       RETURNING 1
     )
     SELECT (SELECT ok FROM ok) AS ok, (SELECT count(*) FROM o)::int AS n`,
    { idempotent: true },
  ),
  fetchAllOffsets: statement(
    'sh_fetch_all_offsets',
    `SELECT ${OFFSET_COLS} FROM consumer_offsets WHERE group_id = $1 ORDER BY topic, partition_id`,
    { idempotent: true },
  ),
  fetchOffsets: statement(
    'sh_fetch_offsets',
    `SELECT ${OFFSET_COLS} FROM consumer_offsets
     WHERE group_id = $1 AND (topic, partition_id) IN (SELECT * FROM unnest($2::text[], $3::int[]))
     ORDER BY topic, partition_id`,
    { idempotent: true },
  ),
  deleteOffsets: statement(
    'sh_delete_offsets',
    `WITH ${fenceCtes(4)}, d AS (
       DELETE FROM consumer_offsets
       WHERE group_id = $1 AND (topic, partition_id) IN (SELECT * FROM unnest($2::text[], $3::int[])) AND (SELECT ok FROM ok)
       RETURNING 1
     )
     SELECT (SELECT ok FROM ok) AS ok, (SELECT count(*) FROM d)::int AS n`,
    { idempotent: true },
  ),
  // Offset expiry (offsets.retention.minutes): the coordinator decides per group which offsets may go;
  // the commit-time condition is repeated in the DELETE so a commit made meanwhile stays.
  groupsWithOffsetsBefore: statement(
    'sh_groups_with_offsets_before',
    `SELECT DISTINCT group_id AS "groupId" FROM consumer_offsets WHERE committed_at < $1 ORDER BY 1`,
    { idempotent: true },
  ),
  expireOffsets: statement(
    'sh_expire_offsets',
    `WITH ${fenceCtes(4)}, d AS (DELETE FROM consumer_offsets
       WHERE group_id = $1 AND committed_at < $2 AND ($3::text[] IS NULL OR topic = ANY($3::text[])) AND (SELECT ok FROM ok)
       RETURNING 1)
     SELECT (SELECT ok FROM ok) AS ok, (SELECT count(*) FROM d)::int AS n`,
    { idempotent: true },
  ),
  saveGroup: statement(
    'sh_save_group',
    `WITH ${fenceCtes(15)}, g AS (
       INSERT INTO consumer_groups AS cg
         (group_id, state, protocol_type, protocol_name, generation, leader_id, members, created_at, updated_at)
       SELECT $1, $2, $3, $4, $5, $6, $7::json, COALESCE($8::bigint, ${NOW_MS}), ${NOW_MS}
       WHERE (SELECT ok FROM ok)
       ON CONFLICT (group_id) DO UPDATE SET state = EXCLUDED.state, protocol_type = EXCLUDED.protocol_type,
         protocol_name = EXCLUDED.protocol_name, generation = EXCLUDED.generation, leader_id = EXCLUDED.leader_id,
         members = EXCLUDED.members, updated_at = EXCLUDED.updated_at
       RETURNING 1
     ), o AS (
       ${UPSERT_OFFSETS}
       SELECT $1, u.topic, u.partition_id, u.committed_offset, u.leader_epoch, u.metadata, COALESCE(u.committed_at, ${NOW_MS})
       FROM unnest($9::text[], $10::int[], $11::bigint[], $12::int[], $13::text[], $14::bigint[])
         AS u(topic, partition_id, committed_offset, leader_epoch, metadata, committed_at)
       WHERE (SELECT ok FROM ok)
       ${ON_OFFSET_CONFLICT}
       RETURNING 1
     )
     SELECT (SELECT ok FROM ok) AS ok, (SELECT count(*) FROM g)::int AS groups, (SELECT count(*) FROM o)::int AS offsets`,
    { idempotent: true },
  ),
  // A group that only has committed offsets (standalone consumers) reads as an Empty group.
  getGroup: statement(
    'sh_get_group',
    `SELECT ${GROUP_COLS} FROM consumer_groups WHERE group_id = $1
     UNION ALL
     SELECT $1::text, 'Empty', NULL, NULL, 0, NULL, '[]'::json, min(committed_at), max(committed_at)
     FROM consumer_offsets
     WHERE group_id = $1 AND NOT EXISTS (SELECT 1 FROM consumer_groups WHERE group_id = $1)
     HAVING count(*) > 0`,
    { idempotent: true },
  ),
  listGroups: statement(
    'sh_list_groups',
    `SELECT ${GROUP_COLS} FROM consumer_groups
     UNION ALL
     SELECT o.group_id, 'Empty', NULL, NULL, 0, NULL, '[]'::json, min(o.committed_at), max(o.committed_at)
     FROM consumer_offsets o
     WHERE NOT EXISTS (SELECT 1 FROM consumer_groups g WHERE g.group_id = o.group_id)
     GROUP BY o.group_id
     ORDER BY 1`,
    { idempotent: true },
  ),
  deleteGroup: statement(
    'sh_delete_group',
    `WITH ${fenceCtes(2)},
     g AS (DELETE FROM consumer_groups WHERE group_id = $1 AND (SELECT ok FROM ok) RETURNING 1),
     o AS (DELETE FROM consumer_offsets WHERE group_id = $1 AND (SELECT ok FROM ok) RETURNING 1)
     SELECT (SELECT ok FROM ok) AS ok, (SELECT count(*) FROM g)::int + (SELECT count(*) FROM o)::int AS n`,
  ),

  // --- agents --------------------------------------------------------------------------------------
  // A new agent gets $5 or the smallest node id not in use; a known one keeps its node id unless $5 says
  // otherwise. Two new agents racing for the same free id: one hits agents_node_id_key and retries.
  // With $6 set, an existing row whose heartbeat is younger than $6 ms belongs to a live agent: nothing
  // is written and no row comes back (two agents racing for one new id: the second sees the first's row),
  // unless $7 says a row at our own address is our dead predecessor's.
  registerAgent: statement(
    'sh_register_agent',
    `INSERT INTO agents AS a (agent_id, node_id, host, port, rack, listeners, last_heartbeat, started_at)
     VALUES ($1,
       COALESCE($5::int, (SELECT min(g.n) FROM generate_series(0, (SELECT count(*)::int FROM agents)) AS g(n)
                          WHERE NOT EXISTS (SELECT 1 FROM agents x WHERE x.node_id = g.n))),
       $2, $3, $4, $8::text, ${NOW_MS}, ${NOW_MS})
     ON CONFLICT (agent_id) DO UPDATE SET node_id = COALESCE($5::int, a.node_id), host = EXCLUDED.host,
       port = EXCLUDED.port, rack = EXCLUDED.rack, listeners = EXCLUDED.listeners, last_heartbeat = EXCLUDED.last_heartbeat, started_at = EXCLUDED.started_at
       WHERE $6::bigint IS NULL OR a.last_heartbeat < ${NOW_MS} - $6::bigint
         OR ($7::boolean AND a.host = EXCLUDED.host AND a.port = EXCLUDED.port)
     RETURNING ${AGENT_COLS}`,
  ),
  agentById: statement(
    'sh_agent_by_id',
    `SELECT ${AGENT_COLS}, ${NOW_MS} - last_heartbeat AS "heartbeatAgeMs" FROM agents WHERE agent_id = $1`,
    { idempotent: true },
  ),
  agentByNodeId: statement(
    'sh_agent_by_node_id',
    `SELECT ${AGENT_COLS} FROM agents WHERE node_id = $1`,
    { idempotent: true },
  ),
  deleteStaleAgent: statement(
    'sh_delete_stale_agent',
    `DELETE FROM agents WHERE node_id = $1 AND agent_id <> $2 AND last_heartbeat < ${NOW_MS} - $3::bigint RETURNING 1 AS ok`,
  ),
  heartbeatAgent: statement(
    'sh_heartbeat_agent',
    `UPDATE agents SET last_heartbeat = ${NOW_MS} WHERE agent_id = $1 AND last_heartbeat > 0 RETURNING 1 AS ok`,
    { idempotent: true },
  ),
  listLiveAgents: statement(
    'sh_list_live_agents',
    `SELECT ${AGENT_COLS} FROM agents WHERE last_heartbeat >= ${NOW_MS} - $1::bigint ORDER BY node_id`,
    { idempotent: true },
  ),
  listAgents: statement('sh_list_agents', `SELECT ${AGENT_COLS} FROM agents ORDER BY node_id`, { idempotent: true }),
  // Safe to retry: a second nextval only skips an id.
  allocateProducerId: statement('sh_allocate_producer_id', `SELECT nextval('producer_ids')::bigint AS id`, { idempotent: true }),
  // Leaving agents also end their leases so that others can take over at once.
  deregisterAgent: statement(
    'sh_deregister_agent',
    `WITH d AS (DELETE FROM agents WHERE agent_id = $1 RETURNING 1),
     l AS (UPDATE partition_leases SET lease_expires_at = LEAST(lease_expires_at, ${NOW_MS})
           WHERE leader_agent_id = $1 RETURNING 1),
     c AS (UPDATE coordinator_leases SET lease_expires_at = LEAST(lease_expires_at, ${NOW_MS})
           WHERE leader_agent_id = $1 RETURNING 1)
     SELECT (SELECT count(*) FROM d)::int AS n`,
    { idempotent: true },
  ),

  // A new run of an agent ends the leases its previous run may still hold, so that it takes them
  // again with the next epoch: statements of the previous run still in flight (a flush commit sent
  // just before a kill -9) are fenced instead of passing as ours.
  endAgentLeases: statement(
    'sh_end_agent_leases',
    `WITH l AS (UPDATE partition_leases SET lease_expires_at = LEAST(lease_expires_at, ${NOW_MS})
                WHERE leader_agent_id = $1 AND lease_expires_at > ${NOW_MS} RETURNING 1),
     c AS (UPDATE coordinator_leases SET lease_expires_at = LEAST(lease_expires_at, ${NOW_MS})
           WHERE leader_agent_id = $1 AND lease_expires_at > ${NOW_MS} RETURNING 1)
     SELECT (SELECT count(*) FROM l)::int AS partitions, (SELECT count(*) FROM c)::int AS shards`,
    { idempotent: true },
  ),

  // The heartbeat stays lapsed: heartbeatAgent refuses an agent whose heartbeat is 0 (register again).
  retireAgent: statement(
    'sh_retire_agent',
    `UPDATE agents SET last_heartbeat = 0 WHERE agent_id = $1`,
    { idempotent: true },
  ),

  announceClusterChange: statement('sh_announce_cluster_change', `SELECT pg_notify('${CLUSTER_CHANGES_CHANNEL}', $1) AS sent`, { idempotent: true }),

  // --- leases --------------------------------------------------------------------------------------
  // Compare-and-set on the database clock. Insert a lease for a partition that has none (epoch =
  // leader_epoch + 1); else update it only if we hold it unexpired (extend, same epoch) or it expired
  // (take over, epoch + 1); the partition's leader_epoch follows in the same statement. Rows are visited
  // in key order (the caller sorts), so concurrent batch acquisitions cannot deadlock.
  acquireLeases: statement(
    'sh_acquire_leases',
    `WITH input AS (
       SELECT u.topic, u.partition_id, p.leader_epoch, u.ord
       FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS u(topic, partition_id, ord)
       JOIN partitions p ON p.topic = u.topic AND p.partition_id = u.partition_id
     ), l AS (
       INSERT INTO partition_leases AS pl (topic, partition_id, leader_agent_id, lease_expires_at, acquired_at, epoch)
       SELECT topic, partition_id, $3, ${NOW_MS} + $4::bigint, ${NOW_MS}, leader_epoch + 1 FROM input ORDER BY ord
       ON CONFLICT (topic, partition_id) DO UPDATE SET
         leader_agent_id = EXCLUDED.leader_agent_id,
         lease_expires_at = EXCLUDED.lease_expires_at,
         acquired_at = CASE WHEN pl.leader_agent_id = EXCLUDED.leader_agent_id AND pl.lease_expires_at > ${NOW_MS}
                            THEN pl.acquired_at ELSE EXCLUDED.acquired_at END,
         epoch = CASE WHEN pl.leader_agent_id = EXCLUDED.leader_agent_id AND pl.lease_expires_at > ${NOW_MS}
                      THEN pl.epoch ELSE GREATEST(pl.epoch + 1, EXCLUDED.epoch) END
       WHERE pl.leader_agent_id = EXCLUDED.leader_agent_id OR pl.lease_expires_at <= ${NOW_MS}
       RETURNING pl.topic, pl.partition_id, pl.leader_agent_id, pl.lease_expires_at, pl.epoch
     ), pe AS (
       UPDATE partitions p SET leader_epoch = l.epoch, updated_at = ${NOW_MS}
       FROM l WHERE p.topic = l.topic AND p.partition_id = l.partition_id AND p.leader_epoch <> l.epoch
     )
     SELECT ${LEASE_COLS} FROM l ORDER BY topic, partition_id`,
  ),
  partitionExists: statement(
    'sh_partition_exists',
    `SELECT 1 AS ok FROM partitions WHERE topic = $1 AND partition_id = $2`,
    { idempotent: true },
  ),
  renewLease: statement(
    'sh_renew_lease',
    `UPDATE partition_leases SET lease_expires_at = ${NOW_MS} + $5::bigint
     WHERE topic = $1 AND partition_id = $2 AND leader_agent_id = $3 AND epoch = $4 AND lease_expires_at > ${NOW_MS}
     RETURNING ${LEASE_COLS}`,
    { idempotent: true },
  ),
  renewAgentLeases: statement(
    'sh_renew_agent_leases',
    `UPDATE partition_leases SET lease_expires_at = ${NOW_MS} + $2::bigint
     WHERE leader_agent_id = $1 AND lease_expires_at > ${NOW_MS}
     RETURNING ${LEASE_COLS}`,
    { idempotent: true },
  ),
  releaseLease: statement(
    'sh_release_lease',
    `UPDATE partition_leases SET lease_expires_at = LEAST(lease_expires_at, ${NOW_MS})
     WHERE topic = $1 AND partition_id = $2 AND leader_agent_id = $3`,
    { idempotent: true },
  ),
  releaseLeases: statement(
    'sh_release_leases',
    `UPDATE partition_leases pl SET lease_expires_at = LEAST(pl.lease_expires_at, ${NOW_MS})
     FROM unnest($1::text[], $2::int[]) AS u(topic, partition_id)
     WHERE pl.topic = u.topic AND pl.partition_id = u.partition_id AND pl.leader_agent_id = $3`,
    { idempotent: true },
  ),
  listLeases: statement(
    'sh_list_leases',
    `SELECT ${LEASE_COLS} FROM partition_leases WHERE ($1::text IS NULL OR topic = $1) ORDER BY topic, partition_id`,
    { idempotent: true },
  ),

  // --- coordinator shard leases ----------------------------------------------------------------------
  // As partition leases: a shard without a row gets epoch 1; our unexpired lease is extended (same
  // epoch); an expired one (ours too) is taken over with epoch + 1; another agent's unexpired lease is
  // left alone (absent from the result). Shards in ascending order, so batch acquisitions cannot deadlock.
  acquireCoordinatorLeases: statement(
    'sh_acquire_coordinator_leases',
    `INSERT INTO coordinator_leases AS cl (shard, leader_agent_id, lease_expires_at, acquired_at, epoch)
     SELECT s.shard, $2, ${NOW_MS} + $3::bigint, ${NOW_MS}, 1 FROM unnest($1::int[]) AS s(shard) ORDER BY s.shard
     ON CONFLICT (shard) DO UPDATE SET
       leader_agent_id = EXCLUDED.leader_agent_id,
       lease_expires_at = EXCLUDED.lease_expires_at,
       acquired_at = CASE WHEN cl.leader_agent_id = EXCLUDED.leader_agent_id AND cl.lease_expires_at > ${NOW_MS}
                          THEN cl.acquired_at ELSE EXCLUDED.acquired_at END,
       epoch = CASE WHEN cl.leader_agent_id = EXCLUDED.leader_agent_id AND cl.lease_expires_at > ${NOW_MS}
                    THEN cl.epoch ELSE cl.epoch + 1 END
     WHERE cl.leader_agent_id = EXCLUDED.leader_agent_id OR cl.lease_expires_at <= ${NOW_MS}
     RETURNING ${COORDINATOR_LEASE_COLS}`,
  ),
  // One statement renews every unexpired shard lease of the agent (epochs unchanged).
  renewCoordinatorLeases: statement(
    'sh_renew_coordinator_leases',
    `UPDATE coordinator_leases SET lease_expires_at = ${NOW_MS} + $2::bigint
     WHERE leader_agent_id = $1 AND lease_expires_at > ${NOW_MS}
     RETURNING ${COORDINATOR_LEASE_COLS}`,
    { idempotent: true },
  ),
  releaseCoordinatorLeases: statement(
    'sh_release_coordinator_leases',
    `UPDATE coordinator_leases AS cl SET lease_expires_at = LEAST(cl.lease_expires_at, ${NOW_MS})
     FROM unnest($2::int[], $3::int[]) AS r(shard, epoch)
     WHERE cl.shard = r.shard AND cl.epoch = r.epoch AND cl.leader_agent_id = $1`,
    { idempotent: true },
  ),
  listCoordinatorLeases: statement(
    'sh_list_coordinator_leases',
    `SELECT ${COORDINATOR_LEASE_COLS} FROM coordinator_leases ORDER BY shard`,
    { idempotent: true },
  ),

  // The recorded value wins: the first agent's insert records it, later ones read it back.
  agreeClusterSetting: statement(
    'sh_agree_cluster_setting',
    `WITH i AS (INSERT INTO cluster_settings (name, value, set_at) VALUES ($1, $2, ${NOW_MS})
                ON CONFLICT (name) DO NOTHING RETURNING value)
     SELECT value FROM i UNION ALL SELECT value FROM cluster_settings WHERE name = $1 LIMIT 1`,
    { idempotent: true },
  ),

  // --- producer state snapshots ---------------------------------------------------------------------
  // Only for partitions whose unexpired lease $1 holds at that epoch (a fenced leader saves nothing); a
  // snapshot never replaces one of a later epoch or further offset. States travel as hex text, which
  // both drivers pass through unchanged.
  saveProducerSnapshots: statement(
    'sh_save_producer_snapshots',
    `INSERT INTO producer_snapshots AS ps (topic, partition_id, lease_epoch, end_offset, state, saved_at)
     SELECT u.topic, u.partition_id, u.lease_epoch, u.end_offset, decode(u.state, 'hex'), ${NOW_MS}
     FROM unnest($2::text[], $3::int[], $4::int[], $5::bigint[], $6::text[]) AS u(topic, partition_id, lease_epoch, end_offset, state)
     JOIN partition_leases pl ON pl.topic = u.topic AND pl.partition_id = u.partition_id
     WHERE pl.leader_agent_id = $1 AND pl.epoch = u.lease_epoch AND pl.lease_expires_at > ${NOW_MS}
     ORDER BY u.topic, u.partition_id
     ON CONFLICT (topic, partition_id) DO UPDATE SET
       lease_epoch = EXCLUDED.lease_epoch, end_offset = EXCLUDED.end_offset, state = EXCLUDED.state, saved_at = EXCLUDED.saved_at
     WHERE (ps.lease_epoch, ps.end_offset) <= (EXCLUDED.lease_epoch, EXCLUDED.end_offset)
     RETURNING 1 AS ok`,
    { idempotent: true },
  ),
  loadProducerSnapshot: statement(
    'sh_load_producer_snapshot',
    `SELECT lease_epoch AS "leaseEpoch", end_offset AS "endOffset", encode(state, 'hex') AS state
     FROM producer_snapshots WHERE topic = $1 AND partition_id = $2`,
    { idempotent: true },
  ),

  // --- ACLs ----------------------------------------------------------------------------------------
  // The notification is part of the statement, so it is sent when (and only if) the change commits.
  listAcls: statement(
    'sh_list_acls',
    `SELECT ${ACL_COLS} FROM acls ORDER BY resource_type, pattern_type, resource_name, principal, host, operation, permission_type`,
    { idempotent: true },
  ),
  createAcls: statement(
    'sh_create_acls',
    `WITH i AS (
       INSERT INTO acls (resource_type, pattern_type, resource_name, principal, host, operation, permission_type, created_at)
       SELECT DISTINCT u.*, ${NOW_MS} FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS u(resource_type, pattern_type, resource_name, principal, host, operation, permission_type)
       ON CONFLICT DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM i)::int AS created, pg_notify('${ACL_CHANGES_CHANNEL}', 'create') AS sent`,
    { idempotent: true },
  ),
  deleteAcls: statement(
    'sh_delete_acls',
    `WITH d AS (
       DELETE FROM acls a
       USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS u(resource_type, pattern_type, resource_name, principal, host, operation, permission_type)
       WHERE a.resource_type = u.resource_type AND a.pattern_type = u.pattern_type AND a.resource_name = u.resource_name
         AND a.principal = u.principal AND a.host = u.host AND a.operation = u.operation AND a.permission_type = u.permission_type
       RETURNING a.*)
     SELECT ${ACL_COLS}, pg_notify('${ACL_CHANGES_CHANNEL}', 'delete') AS sent FROM d`,
  ),
} as const;

function invalid(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_REQUEST, message);
}

function unknownPartition(topic: string, partitionId: number): KafkaError {
  return new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic-partition ${topic}-${partitionId}`);
}

function checkAgentId(agentId: unknown): asserts agentId is string {
  if (typeof agentId !== 'string' || agentId.length === 0) throw invalid('agent id must be a non-empty string');
}

function checkPartitionRef(topic: unknown, partitionId: unknown): void {
  assertTopicName(topic);
  assertPartitionId(partitionId);
}

function uniqueConstraint(err: unknown): string | undefined {
  const e = rootCause(err) as { code?: unknown; constraint?: unknown };
  return e?.code === '23505' && typeof e.constraint === 'string' ? e.constraint : e?.code === '23505' ? '' : undefined;
}

interface OffsetArrays {
  topics: string[];
  partitions: number[];
  offsets: number[];
  epochs: number[];
  metadata: Array<string | null>;
  timestamps: Array<number | null>;
}

/** Validates a batch of offsets and turns it into column arrays (a repeated partition: the last wins). */
function offsetArrays(offsets: OffsetCommitInput[]): OffsetArrays {
  if (!Array.isArray(offsets)) throw invalid('offsets must be an array');
  const byKey = new Map<string, OffsetCommitInput>();
  for (const o of offsets) {
    checkPartitionRef(o.topic, o.partitionId);
    assertSafeInteger(o.offset, 'committed offset');
    // Any value, as Kafka stores it: kafkajs commits -2 / -1 (earliest / latest) to reset a group and
    // resolves them when it reads them back.
    assertInt32(o.leaderEpoch ?? -1, 'committed leader epoch', -1);
    if (o.metadata !== null && o.metadata !== undefined && typeof o.metadata !== 'string') {
      throw invalid('offset metadata must be a string or null');
    }
    if (o.commitTimestamp !== undefined) assertSafeInteger(o.commitTimestamp, 'commit timestamp');
    byKey.set(`${o.topic}\u0000${o.partitionId}`, o);
  }
  const a: OffsetArrays = { topics: [], partitions: [], offsets: [], epochs: [], metadata: [], timestamps: [] };
  for (const o of byKey.values()) {
    a.topics.push(o.topic);
    a.partitions.push(o.partitionId);
    a.offsets.push(o.offset);
    a.epochs.push(o.leaderEpoch ?? -1);
    a.metadata.push(toStoredOrNull(o.metadata, 'offset metadata'));
    a.timestamps.push(o.commitTimestamp ?? null);
  }
  return a;
}

// Rows as the caller sees them: client strings unescaped (stored-text.ts).
function offsetFromRow(r: CommittedOffset): CommittedOffset {
  r.groupId = fromStored(r.groupId);
  r.metadata = fromStoredOrNull(r.metadata);
  return r;
}

function groupFromRow(r: GroupRecord): GroupRecord {
  r.groupId = fromStored(r.groupId);
  r.protocolType = fromStoredOrNull(r.protocolType);
  r.protocolName = fromStoredOrNull(r.protocolName);
  r.leaderId = fromStoredOrNull(r.leaderId);
  return r;
}

/** The stored form of a (validated) group id. */
const storedGroupId = (groupId: string) => toStored(groupId, 'group id');

/** The three fence parameters of a group write (all null: unconditional). */
function fenceParams(fence: CoordinatorFence | undefined): [number | null, string | null, number | null] {
  if (fence === undefined) return [null, null, null];
  assertInt32(fence.shard, 'coordinator shard', 0);
  checkAgentId(fence.agentId);
  assertInt32(fence.epoch, 'coordinator epoch', 0);
  return [fence.shard, fence.agentId, fence.epoch];
}

/** A fenced write that found the lease gone (expired, released, taken over): nothing was written. */
function checkFence(row: { ok: boolean } | undefined, fence: CoordinatorFence | undefined): void {
  if (fence === undefined || row?.ok === true) return;
  throw new KafkaError(
    ErrorCode.NOT_COORDINATOR,
    `agent ${fence.agentId} no longer holds coordinator shard ${fence.shard} with epoch ${fence.epoch}`,
  );
}

function partitionArrays(partitions: Array<{ topic: string; partitionId: number }>): [string[], number[]] {
  if (!Array.isArray(partitions)) throw invalid('partitions must be an array');
  const topics: string[] = [];
  const ids: number[] = [];
  for (const p of partitions) {
    if (!isValidTopicName(p.topic) || !isPartitionId(p.partitionId)) continue; // cannot exist
    topics.push(p.topic);
    ids.push(p.partitionId);
  }
  return [topics, ids];
}

export class SqlMetadataStore implements MetadataStore {
  readonly kind: 'postgres' | 'pglite';
  private closed = false;
  private readonly onClose: () => Promise<void>;

  constructor(
    private readonly db: Driver,
    onClose: () => Promise<void> = async () => {},
  ) {
    this.kind = db.kind;
    this.onClose = onClose;
  }

  /** The driver, for tests and tools that need raw SQL. */
  get driver(): Driver {
    return this.db;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.db.close();
    } finally {
      await this.onClose();
    }
  }

  private q<R = Row>(stmt: (typeof S)[keyof typeof S], params: unknown[] = []): Promise<R[]> {
    if (this.closed) {
      return Promise.reject(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed'));
    }
    return this.db.query<R>(stmt, params);
  }

  async now(): Promise<number> {
    const [row] = await this.q<{ now: number }>(S.now);
    return row!.now;
  }

  // --- topics & partitions ---------------------------------------------------------------------------

  /** After a topic change committed: other agents drop their cached copy (PostgreSQL only; best effort, the TTL backs it up). */
  private async announce(topic: string): Promise<void> {
    if (this.db.kind !== 'postgres') return;
    await this.q(S.notifyTopicChange, [topic]).catch(() => {});
  }

  async createTopic(input: CreateTopicInput): Promise<TopicRecord> {
    assertTopicName(input.name);
    assertPartitionCount(input.partitionCount);
    assertRetentionMs(input.retentionMs);
    assertTopicConfig(input.config);
    const rows = await this.q<TopicRecord>(S.createTopic, [
      input.name,
      input.partitionCount,
      input.retentionMs ?? null,
      JSON.stringify(input.config ?? {}),
    ]);
    if (rows.length === 0) {
      throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${input.name}" already exists`);
    }
    await this.announce(input.name);
    return rows[0]!;
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    if (!isValidTopicName(name)) return undefined;
    const [row] = await this.q<TopicRecord>(S.getTopic, [name]);
    return row;
  }

  async getTopicById(topicId: string): Promise<TopicRecord | undefined> {
    if (!isUuid(topicId)) return undefined;
    const [row] = await this.q<TopicRecord>(S.getTopicById, [topicId]);
    return row;
  }

  listTopics(): Promise<TopicRecord[]> {
    return this.q<TopicRecord>(S.listTopics);
  }

  async deleteTopic(name: string): Promise<boolean> {
    if (!isValidTopicName(name)) return false;
    const [row] = await this.q<{ n: number }>(S.deleteTopic, [name]);
    if (row!.n > 0) await this.announce(name);
    return row!.n > 0;
  }

  async addPartitions(name: string, newPartitionCount: number): Promise<TopicRecord> {
    assertTopicName(name);
    assertPartitionCount(newPartitionCount);
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed');
    const grown = await this.db.transaction('addPartitions', async (tx) => {
      const [cur] = await tx.query<{ partitionCount: number }>(S.lockTopic, [name]);
      if (!cur) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${name}"`);
      if (newPartitionCount <= cur.partitionCount) {
        throw new KafkaError(
          ErrorCode.INVALID_PARTITIONS,
          `topic "${name}" has ${cur.partitionCount} partitions; the new count must be larger, got ${newPartitionCount}`,
        );
      }
      const [row] = await tx.query<TopicRecord>(S.growTopic, [name, newPartitionCount, cur.partitionCount]);
      return row!;
    });
    await this.announce(name);
    return grown;
  }

  async updateTopicConfig(
    name: string,
    config: Record<string, string>,
    retentionMs?: number | null,
  ): Promise<TopicRecord> {
    assertTopicName(name);
    assertTopicConfig(config);
    assertRetentionMs(retentionMs);
    const [row] = await this.q<TopicRecord>(S.updateTopicConfig, [
      name,
      JSON.stringify(config ?? {}),
      retentionMs !== undefined,
      retentionMs ?? null,
    ]);
    if (!row) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${name}"`);
    await this.announce(name);
    return row;
  }

  async getPartitions(topic: string): Promise<PartitionRecord[]> {
    if (!isValidTopicName(topic)) return [];
    return this.q<PartitionRecord>(S.getPartitions, [topic]);
  }

  async getPartition(topic: string, partitionId: number): Promise<PartitionRecord | undefined> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) return undefined;
    const [row] = await this.q<PartitionRecord>(S.getPartition, [topic, partitionId]);
    return row;
  }

  async updateHighWatermark(topic: string, partitionId: number, highWatermark: number): Promise<void> {
    checkPartitionRef(topic, partitionId);
    assertNonNegative(highWatermark, 'high watermark');
    const rows = await this.q(S.updateHighWatermark, [topic, partitionId, highWatermark]);
    if (rows.length === 0) throw unknownPartition(topic, partitionId);
  }

  async setLogStartOffset(topic: string, partitionId: number, offset: number): Promise<number> {
    checkPartitionRef(topic, partitionId);
    assertNonNegative(offset, 'log start offset');
    const [row] = await this.q<{ logStartOffset: number }>(S.setLogStartOffset, [topic, partitionId, offset]);
    if (row) return row.logStartOffset;
    const partition = await this.getPartition(topic, partitionId);
    if (!partition) throw unknownPartition(topic, partitionId);
    throw new KafkaError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `log start offset ${offset} is beyond the high watermark ${partition.highWatermark} of ${topic}-${partitionId}`,
    );
  }

  // --- segments --------------------------------------------------------------------------------------

  async addSegment(segment: NewSegment): Promise<SegmentRecord> {
    assertSegment(segment);
    const [row] = await this.q<SegmentRecord>(S.addSegment, [
      segment.id ?? randomUUID(),
      segment.topic,
      segment.partitionId,
      segment.baseOffset,
      segment.endOffset,
      segment.recordCount,
      segment.sizeBytes,
      segment.s3Bucket,
      segment.s3Key,
      segment.bytePosition,
      segment.byteLength,
      segment.maxTimestamp,
    ]);
    return row!;
  }

  async findSegmentForOffset(topic: string, partitionId: number, offset: number): Promise<SegmentRecord | undefined> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) return undefined;
    assertNonNegative(offset, 'offset');
    const [row] = await this.q<SegmentRecord>(S.findSegment, [topic, partitionId, offset]);
    return row;
  }

  async listSegments(topic: string, partitionId: number, fromOffset = 0, limit?: number): Promise<SegmentRecord[]> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) return [];
    assertNonNegative(fromOffset, 'fromOffset');
    if (limit !== undefined) assertNonNegative(limit, 'limit');
    return this.q<SegmentRecord>(S.listSegments, [topic, partitionId, fromOffset, limit ?? null]);
  }

  async segmentStats(topic?: string): Promise<PartitionSegmentStats[]> {
    if (topic !== undefined && !isValidTopicName(topic)) return [];
    return this.q<PartitionSegmentStats>(S.segmentStats, [topic ?? null]);
  }

  async deleteSegmentsBefore(topic: string, partitionId: number, offset: number): Promise<SegmentRecord[]> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) return [];
    assertNonNegative(offset, 'offset');
    return this.q<SegmentRecord>(S.deleteSegmentsBefore, [topic, partitionId, offset]);
  }

  async commitFlush(agentId: string, partitions: FlushCommitPartition[]): Promise<FlushCommitResult> {
    checkAgentId(agentId);
    if (!Array.isArray(partitions)) throw invalid('partitions must be an array');
    if (partitions.length === 0) return { committed: true };
    const n = partitions.length;
    const cols = {
      topic: new Array<string>(n),
      partition: new Array<number>(n),
      epoch: new Array<number>(n),
      expected: new Array<number>(n),
      id: new Array<string>(n),
      base: new Array<number>(n),
      end: new Array<number>(n),
      records: new Array<number>(n),
      size: new Array<number>(n),
      bucket: new Array<string>(n),
      key: new Array<string>(n),
      position: new Array<number>(n),
      length: new Array<number>(n),
      maxTs: new Array<number>(n),
    };
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const p = partitions[i]!;
      checkPartitionRef(p.topic, p.partitionId);
      assertInt32(p.leaseEpoch, 'lease epoch', 0);
      assertNonNegative(p.expectedHighWatermark, 'expected high watermark');
      const s = p.segment;
      assertSegment(s);
      const name = `${p.topic}-${p.partitionId}`;
      if (s.topic !== p.topic || s.partitionId !== p.partitionId) {
        throw invalid(`flush commit entry ${name} carries a segment of ${s.topic}-${s.partitionId}`);
      }
      if (s.baseOffset !== p.expectedHighWatermark) {
        throw invalid(
          `segment of ${name} starts at ${s.baseOffset}, not at the expected high watermark ${p.expectedHighWatermark}`,
        );
      }
      const key = `${p.topic}\u0000${p.partitionId}`;
      if (seen.has(key)) throw invalid(`flush commit lists ${name} twice`);
      seen.add(key);
      cols.topic[i] = p.topic;
      cols.partition[i] = p.partitionId;
      cols.epoch[i] = p.leaseEpoch;
      cols.expected[i] = p.expectedHighWatermark;
      cols.id[i] = s.id ?? randomUUID();
      cols.base[i] = s.baseOffset;
      cols.end[i] = s.endOffset;
      cols.records[i] = s.recordCount;
      cols.size[i] = s.sizeBytes;
      cols.bucket[i] = s.s3Bucket;
      cols.key[i] = s.s3Key;
      cols.position[i] = s.bytePosition;
      cols.length[i] = s.byteLength;
      cols.maxTs[i] = s.maxTimestamp;
    }
    const [row] = await this.q<{ fenced: FencedPartition[] | null }>(S.commitFlush, [
      agentId,
      cols.topic,
      cols.partition,
      cols.epoch,
      cols.expected,
      cols.id,
      cols.base,
      cols.end,
      cols.records,
      cols.size,
      cols.bucket,
      cols.key,
      cols.position,
      cols.length,
      cols.maxTs,
    ]);
    const fenced = row?.fenced;
    if (!fenced || fenced.length === 0) return { committed: true };
    return {
      committed: false,
      fenced: fenced.map((f) => {
        const out: FencedPartition = { topic: f.topic, partitionId: f.partitionId, reason: f.reason };
        if (f.highWatermark !== null && f.highWatermark !== undefined) out.highWatermark = Number(f.highWatermark);
        if (f.leaderAgentId !== null && f.leaderAgentId !== undefined) out.leaderAgentId = f.leaderAgentId;
        if (f.leaseEpoch !== null && f.leaseEpoch !== undefined) out.leaseEpoch = f.leaseEpoch;
        return out;
      }),
    };
  }

  // --- consumer offsets & groups ---------------------------------------------------------------------

  async commitOffset(groupId: string, offset: OffsetCommitInput): Promise<void> {
    assertGroupId(groupId);
    const a = offsetArrays([offset]);
    await this.q(S.commitOffset, [
      storedGroupId(groupId),
      a.topics[0],
      a.partitions[0],
      a.offsets[0],
      a.epochs[0],
      a.metadata[0],
      a.timestamps[0],
    ]);
  }

  async commitOffsets(groupId: string, offsets: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void> {
    assertGroupId(groupId);
    const a = offsetArrays(offsets);
    if (a.topics.length === 0) return;
    const [row] = await this.q<{ ok: boolean }>(S.commitOffsets, [
      storedGroupId(groupId), a.topics, a.partitions, a.offsets, a.epochs, a.metadata, a.timestamps, ...fenceParams(fence),
    ]);
    checkFence(row, fence);
  }

  async fetchOffsets(
    groupId: string,
    partitions?: Array<{ topic: string; partitionId: number }>,
  ): Promise<CommittedOffset[]> {
    assertGroupId(groupId);
    const stored = storedGroupId(groupId);
    if (partitions === undefined) return (await this.q<CommittedOffset>(S.fetchAllOffsets, [stored])).map(offsetFromRow);
    const [topics, ids] = partitionArrays(partitions);
    if (topics.length === 0) return [];
    return (await this.q<CommittedOffset>(S.fetchOffsets, [stored, topics, ids])).map(offsetFromRow);
  }

  async deleteOffsets(groupId: string, partitions: Array<{ topic: string; partitionId: number }>, fence?: CoordinatorFence): Promise<void> {
    assertGroupId(groupId);
    const [topics, ids] = partitionArrays(partitions);
    if (topics.length === 0) return;
    const [row] = await this.q<{ ok: boolean }>(S.deleteOffsets, [storedGroupId(groupId), topics, ids, ...fenceParams(fence)]);
    checkFence(row, fence);
  }

  async listGroupsWithOffsetsBefore(committedBefore: number): Promise<string[]> {
    assertNonNegative(committedBefore, 'commit time');
    const rows = await this.q<{ groupId: string }>(S.groupsWithOffsetsBefore, [committedBefore]);
    return rows.map((r) => fromStored(r.groupId));
  }

  async expireOffsets(groupId: string, committedBefore: number, topics?: string[], fence?: CoordinatorFence): Promise<number> {
    assertGroupId(groupId);
    assertNonNegative(committedBefore, 'commit time');
    if (topics !== undefined && (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string'))) throw invalid('topics must be an array of names');
    if (topics !== undefined && topics.length === 0) return 0;
    const [row] = await this.q<{ ok: boolean; n: number }>(S.expireOffsets, [storedGroupId(groupId), committedBefore, topics ?? null, ...fenceParams(fence)]);
    checkFence(row, fence);
    return row!.n;
  }

  async saveGroup(group: GroupRecord, offsets: OffsetCommitInput[] = [], fence?: CoordinatorFence): Promise<void> {
    assertGroupId(group.groupId);
    if (typeof group.state !== 'string' || group.state.length === 0) throw invalid('group state must be set');
    assertInt32(group.generation, 'group generation', -1);
    if (!Array.isArray(group.members)) throw invalid('group members must be an array');
    const a = offsetArrays(offsets);
    const [row] = await this.q<{ ok: boolean }>(S.saveGroup, [
      storedGroupId(group.groupId),
      group.state,
      toStoredOrNull(group.protocolType, 'protocol type'),
      toStoredOrNull(group.protocolName, 'protocol name'),
      group.generation,
      toStoredOrNull(group.leaderId, 'leader id'),
      JSON.stringify(group.members),
      group.createdAt > 0 ? group.createdAt : null,
      a.topics,
      a.partitions,
      a.offsets,
      a.epochs,
      a.metadata,
      a.timestamps,
      ...fenceParams(fence),
    ]);
    checkFence(row, fence);
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    if (typeof groupId !== 'string' || groupId.length === 0) return undefined;
    const [row] = await this.q<GroupRecord>(S.getGroup, [toStored(groupId, 'group id')]);
    return row && groupFromRow(row);
  }

  async listGroups(): Promise<GroupRecord[]> {
    return (await this.q<GroupRecord>(S.listGroups)).map(groupFromRow);
  }

  async deleteGroup(groupId: string, fence?: CoordinatorFence): Promise<boolean> {
    if (typeof groupId !== 'string' || groupId.length === 0) return false;
    const [row] = await this.q<{ ok: boolean; n: number }>(S.deleteGroup, [toStored(groupId, 'group id'), ...fenceParams(fence)]);
    checkFence(row, fence);
    return row!.n > 0;
  }

  // --- agents & leases -------------------------------------------------------------------------------

  async registerAgent(input: {
    agentId: string;
    host: string;
    port: number;
    rack?: string | null;
    nodeId?: number;
    staleAfterMs?: number;
    liveWithinMs?: number;
    takeOverSameAddress?: boolean;
    listeners?: string | null;
  }): Promise<AgentRecord> {
    checkAgentId(input.agentId);
    if (input.listeners != null && (typeof input.listeners !== 'string' || input.listeners.length > 4096)) throw invalid('agent listeners must be at most 4096 characters');
    if (typeof input.host !== 'string' || input.host.length === 0) throw invalid('agent host must be set');
    assertInt32(input.port, 'agent port', 1);
    if (input.port > 65535) throw invalid(`agent port must be at most 65535, got ${input.port}`);
    if (input.nodeId !== undefined) assertInt32(input.nodeId, 'node id', 0);
    const staleAfterMs = input.staleAfterMs ?? 30_000;
    assertPositiveMs(staleAfterMs, 'staleAfterMs');
    if (input.liveWithinMs !== undefined) assertPositiveMs(input.liveWithinMs, 'liveWithinMs');
    const params = [input.agentId, input.host, input.port, input.rack ?? null, input.nodeId ?? null, input.liveWithinMs ?? null, input.takeOverSameAddress === true, input.listeners ?? null];
    for (let attempt = 0; ; attempt++) {
      try {
        const [row] = await this.q<AgentRecord>(S.registerAgent, params);
        if (row !== undefined) return row;
        // Refused: the id belongs to a live agent. Name it (it may have stopped since: then try again).
        const [holder] = await this.q<AgentRecord & { heartbeatAgeMs: number }>(S.agentById, [input.agentId]);
        if (holder === undefined || holder.heartbeatAgeMs >= input.liveWithinMs!) {
          if (attempt >= 5) throw new KafkaError(ErrorCode.INVALID_REQUEST, `agent id ${input.agentId}: registration keeps racing with another agent`);
          continue;
        }
        const { heartbeatAgeMs, ...record } = holder;
        throw new AgentIdInUseError(record, Number(heartbeatAgeMs));
      } catch (err) {
        if (err instanceof AgentIdInUseError) throw err;
        if (uniqueConstraint(err) === undefined || attempt >= 5) throw err;
        if (input.nodeId === undefined) continue; // lost a race for the same free node id
        const taken = await this.q(S.deleteStaleAgent, [input.nodeId, input.agentId, staleAfterMs]);
        if (taken.length > 0) continue;
        const [holder] = await this.q<AgentRecord>(S.agentByNodeId, [input.nodeId]);
        if (!holder) continue;
        throw new KafkaError(
          ErrorCode.INVALID_REQUEST,
          `node id ${input.nodeId} is registered to agent ${holder.agentId} (${holder.host}:${holder.port}), ` +
            `which sent a heartbeat less than ${staleAfterMs} ms ago`,
          { cause: err },
        );
      }
    }
  }

  async heartbeatAgent(agentId: string): Promise<void> {
    checkAgentId(agentId);
    const rows = await this.q(S.heartbeatAgent, [agentId]);
    if (rows.length === 0) {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `agent ${agentId} is not registered (register it again)`);
    }
  }

  async listLiveAgents(maxAgeMs: number): Promise<AgentRecord[]> {
    assertNonNegative(maxAgeMs, 'maxAgeMs');
    return this.q<AgentRecord>(S.listLiveAgents, [maxAgeMs]);
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.q<AgentRecord>(S.listAgents);
  }

  async deregisterAgent(agentId: string): Promise<void> {
    checkAgentId(agentId);
    await this.q(S.deregisterAgent, [agentId]);
  }

  async agreeClusterSetting(name: string, value: string): Promise<string> {
    if (typeof name !== 'string' || name.length === 0 || name.length > 255) throw invalid('cluster setting name must be 1-255 characters');
    if (typeof value !== 'string' || value.length > 4096) throw invalid('cluster setting value must be at most 4096 characters');
    const rows = await this.q<{ value: string }>(S.agreeClusterSetting, [name, value]);
    return rows[0]!.value;
  }

  async endAgentLeases(agentId: string): Promise<{ partitions: number; shards: number }> {
    checkAgentId(agentId);
    const [row] = await this.q<{ partitions: number; shards: number }>(S.endAgentLeases, [agentId]);
    return row ?? { partitions: 0, shards: 0 };
  }

  async retireAgent(agentId: string): Promise<void> {
    checkAgentId(agentId);
    await this.q(S.retireAgent, [agentId]);
  }

  async listAcls(): Promise<AclBinding[]> {
    const rows = await this.q<StoredAcl>(S.listAcls);
    return rows.map(fromStoredAcl).filter((b): b is AclBinding => b !== undefined);
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<number> {
    if (bindings.length === 0) return 0;
    const [row] = await this.q<{ created: number }>(S.createAcls, aclColumns(bindings));
    return Number(row?.created ?? 0);
  }

  async deleteAcls(bindings: readonly AclBinding[]): Promise<AclBinding[]> {
    if (bindings.length === 0) return [];
    const rows = await this.q<StoredAcl>(S.deleteAcls, aclColumns(bindings));
    return rows.map(fromStoredAcl).filter((b): b is AclBinding => b !== undefined);
  }

  async announceClusterChange(agentId: string): Promise<void> {
    if (this.kind === 'pglite') return; // one agent per data directory: nobody to tell
    await this.q(S.announceClusterChange, [agentId]);
  }

  async allocateProducerId(): Promise<number> {
    const [row] = await this.q<{ id: number }>(S.allocateProducerId);
    return Number(row!.id);
  }

  async acquirePartitionLease(
    topic: string,
    partitionId: number,
    agentId: string,
    ttlMs: number,
  ): Promise<LeaseRecord | undefined> {
    checkPartitionRef(topic, partitionId);
    const [lease] = await this.acquirePartitionLeases(agentId, [{ topic, partitionId }], ttlMs);
    if (lease) return lease;
    const exists = await this.q(S.partitionExists, [topic, partitionId]);
    if (exists.length === 0) throw unknownPartition(topic, partitionId);
    return undefined;
  }

  async acquirePartitionLeases(
    agentId: string,
    partitions: Array<{ topic: string; partitionId: number }>,
    ttlMs: number,
  ): Promise<LeaseRecord[]> {
    checkAgentId(agentId);
    assertPositiveMs(ttlMs, 'lease ttlMs');
    if (!Array.isArray(partitions)) throw invalid('partitions must be an array');
    const unique = new Map<string, { topic: string; partitionId: number }>();
    for (const p of partitions) {
      checkPartitionRef(p.topic, p.partitionId);
      unique.set(`${p.topic}\u0000${p.partitionId}`, p);
    }
    if (unique.size === 0) return [];
    const sorted = [...unique.values()].sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partitionId - b.partitionId,
    );
    return this.q<LeaseRecord>(S.acquireLeases, [
      sorted.map((p) => p.topic),
      sorted.map((p) => p.partitionId),
      agentId,
      ttlMs,
    ]);
  }

  async renewPartitionLease(
    topic: string,
    partitionId: number,
    agentId: string,
    epoch: number,
    ttlMs: number,
  ): Promise<LeaseRecord | undefined> {
    checkPartitionRef(topic, partitionId);
    checkAgentId(agentId);
    assertInt32(epoch, 'lease epoch', 0);
    assertPositiveMs(ttlMs, 'lease ttlMs');
    const [row] = await this.q<LeaseRecord>(S.renewLease, [topic, partitionId, agentId, epoch, ttlMs]);
    return row;
  }

  async renewAgentLeases(agentId: string, ttlMs: number): Promise<LeaseRecord[]> {
    checkAgentId(agentId);
    assertPositiveMs(ttlMs, 'lease ttlMs');
    return this.q<LeaseRecord>(S.renewAgentLeases, [agentId, ttlMs]);
  }

  async releasePartitionLease(topic: string, partitionId: number, agentId: string): Promise<void> {
    checkPartitionRef(topic, partitionId);
    checkAgentId(agentId);
    await this.q(S.releaseLease, [topic, partitionId, agentId]);
  }

  async releasePartitionLeases(agentId: string, partitions: Array<{ topic: string; partitionId: number }>): Promise<void> {
    checkAgentId(agentId);
    if (!Array.isArray(partitions)) throw invalid('partitions must be an array');
    for (const p of partitions) checkPartitionRef(p.topic, p.partitionId);
    if (partitions.length === 0) return;
    // Key order, as the other multi-row lease statements, so they cannot deadlock.
    const sorted = [...partitions].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partitionId - b.partitionId));
    await this.q(S.releaseLeases, [sorted.map((p) => p.topic), sorted.map((p) => p.partitionId), agentId]);
  }

  async listPartitionLeases(topic?: string): Promise<LeaseRecord[]> {
    if (topic !== undefined && !isValidTopicName(topic)) return [];
    return this.q<LeaseRecord>(S.listLeases, [topic ?? null]);
  }

  // --- coordinator shard leases ----------------------------------------------------------------------

  async acquireCoordinatorLeases(agentId: string, shards: number[], ttlMs: number): Promise<CoordinatorLease[]> {
    checkAgentId(agentId);
    assertPositiveMs(ttlMs, 'lease ttlMs');
    if (!Array.isArray(shards)) throw invalid('shards must be an array');
    // Negative shards are agents' membership leases (see schema.ts).
    for (const s of shards) assertInt32(s, 'coordinator shard');
    const sorted = [...new Set(shards)].sort((a, b) => a - b);
    if (sorted.length === 0) return [];
    return this.q<CoordinatorLease>(S.acquireCoordinatorLeases, [sorted, agentId, ttlMs]);
  }

  async renewCoordinatorLeases(agentId: string, ttlMs: number): Promise<CoordinatorLease[]> {
    checkAgentId(agentId);
    assertPositiveMs(ttlMs, 'lease ttlMs');
    return this.q<CoordinatorLease>(S.renewCoordinatorLeases, [agentId, ttlMs]);
  }

  async releaseCoordinatorLeases(agentId: string, leases: Array<{ shard: number; epoch: number }>): Promise<void> {
    checkAgentId(agentId);
    if (!Array.isArray(leases)) throw invalid('leases must be an array');
    for (const l of leases) {
      assertInt32(l.shard, 'coordinator shard');
      assertInt32(l.epoch, 'lease epoch', 0);
    }
    if (leases.length === 0) return;
    await this.q(S.releaseCoordinatorLeases, [agentId, leases.map((l) => l.shard), leases.map((l) => l.epoch)]);
  }

  listCoordinatorLeases(): Promise<CoordinatorLease[]> {
    return this.q<CoordinatorLease>(S.listCoordinatorLeases);
  }

  // --- producer state snapshots ----------------------------------------------------------------------

  async saveProducerSnapshots(agentId: string, snapshots: ProducerSnapshotInput[]): Promise<number> {
    checkAgentId(agentId);
    if (!Array.isArray(snapshots)) throw invalid('snapshots must be an array');
    for (const x of snapshots) {
      checkPartitionRef(x.topic, x.partitionId);
      assertInt32(x.leaseEpoch, 'lease epoch', 0);
      if (!Number.isSafeInteger(x.endOffset) || x.endOffset < 0) throw invalid('snapshot end offset must be a non-negative integer');
      if (!Buffer.isBuffer(x.state)) throw invalid('snapshot state must be bytes');
    }
    if (snapshots.length === 0) return 0;
    const rows = await this.q(S.saveProducerSnapshots, [
      agentId,
      snapshots.map((x) => x.topic),
      snapshots.map((x) => x.partitionId),
      snapshots.map((x) => x.leaseEpoch),
      snapshots.map((x) => x.endOffset),
      snapshots.map((x) => x.state.toString('hex')),
    ]);
    return rows.length;
  }

  async loadProducerSnapshot(topic: string, partitionId: number): Promise<ProducerSnapshotRecord | undefined> {
    checkPartitionRef(topic, partitionId);
    const [row] = await this.q<{ leaseEpoch: number; endOffset: number | string; state: string }>(S.loadProducerSnapshot, [topic, partitionId]);
    return row && { leaseEpoch: row.leaseEpoch, endOffset: Number(row.endOffset), state: Buffer.from(row.state, 'hex') };
  }
}

interface StoredAcl {
  resourceType: string;
  patternType: string;
  resourceName: string;
  principal: string;
  host: string;
  operation: string;
  permissionType: string;
}

/** Seven parallel arrays (unnest parameters) of the stored forms. */
function aclColumns(bindings: readonly AclBinding[]): string[][] {
  const cols: string[][] = [[], [], [], [], [], [], []];
  for (const b of bindings) {
    cols[0]!.push(resourceTypeName(b.resourceType));
    cols[1]!.push(patternTypeName(b.patternType));
    cols[2]!.push(toStored(b.resourceName, 'resource name'));
    cols[3]!.push(toStored(b.principal, 'principal'));
    cols[4]!.push(toStored(b.host, 'host'));
    cols[5]!.push(operationName(b.operation));
    cols[6]!.push(permissionName(b.permissionType));
  }
  return cols;
}

/** A row's binding; undefined for a name this version does not know (written by a newer one). */
function fromStoredAcl(r: StoredAcl): AclBinding | undefined {
  const resourceType = resourceTypeCode(r.resourceType);
  const patternType = patternTypeCode(r.patternType);
  const operation = operationCode(r.operation);
  const permissionType = permissionCode(r.permissionType);
  if (resourceType === undefined || patternType === undefined || operation === undefined || permissionType === undefined) return undefined;
  return {
    resourceType,
    patternType,
    resourceName: fromStored(r.resourceName),
    principal: fromStored(r.principal),
    host: fromStored(r.host),
    operation,
    permissionType,
  };
}
