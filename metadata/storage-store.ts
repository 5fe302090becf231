// Storage maintenance in the metadata database: the object registry (segment_objects), the fenced swap
// of many segment rows for one (merging, compaction) and retention decided from per-partition
// aggregates. Kept apart from sql-store.ts: only storage/ and the retention task use it. Every time
// here is the database clock; every delete decision is made from database state.
import { randomUUID } from 'node:crypto';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { statement, type Driver } from './driver.js';
import { assertSegment, isPartitionId, isValidTopicName } from './validate.js';
import type { NewSegment } from './types.js';

const NOW_MS = `(floor(extract(epoch from now()) * 1000))::bigint`;

export type ObjectState = 'pending' | 'live' | 'unreferenced' | 'deleting' | 'deleted';

export interface ClaimedObject {
  key: string;
  bucket: string;
  /** The state it was claimed from. */
  from: ObjectState;
}

export interface ObjectRegistryStats {
  state: ObjectState;
  objects: number;
  sizeBytes: number;
  liveBytes: number;
}

/** What the segment writer and the merger need: register before upload, give up an upload. */
export interface ObjectRegistry {
  registerObject(o: { key: string; bucket: string; sizeBytes: number; agentId: string }): Promise<void>;
  /** Registers several keys at once, before their uploads (size unknown: 0 until a row names the object). */
  reserveObjects?(o: { keys: string[]; bucket: string; agentId: string }): Promise<void>;
  /** Uploads known never to be committed: pending → deleting (only unreferenced ones); returns the keys claimed. */
  abandonObjects(keys: string[]): Promise<string[]>;
  /** After the store deleted them: deleting → deleted (a tombstone until purgeTombstones). */
  markObjectsDeleted(keys: string[]): Promise<number>;
}

export interface CleanupBounds {
  /** A pending (registered, never referenced) object older than this is deleted. */
  pendingTimeoutMs: number;
  /** An object whose last row went this long ago is deleted (readers in flight keep working until then). */
  deleteGraceMs: number;
  /** A claim older than this (its cleaner died) is taken again. */
  reclaimAfterMs: number;
}

export interface RetentionAggregate {
  /** Base offset of the newest segment (always kept), or undefined without segments. */
  lastBase: number | undefined;
  /** Base offset of the first segment not expired by time (undefined: all expired, or no time limit). */
  timeKeep: number | undefined;
  /** Base offset of the first segment of the newest suffix within the size limit (undefined: none fits, or no limit). */
  sizeKeep: number | undefined;
}

export interface SegmentSwap {
  topic: string;
  partitionId: number;
  agentId: string;
  leaseEpoch: number;
  /** The rows replaced (all must still exist, else nothing changes). */
  removeIds: string[];
  /** The rows that replace them (one for a merge; compaction may write one per output object). */
  add: NewSegment[];
  /** Compaction: the cleaner checkpoint written by the same statement when the swap applies. */
  checkpoint?: CompactionCheckpoint;
  /** Compaction: aborted-transactions index entries (aborted_txns) whose batches are all gone, deleted by the same statement. */
  dropAborted?: Array<{ producerId: number; firstOffset: number }>;
}

/** The log cleaner's checkpoint of a partition (table compaction_checkpoints). */
export interface CompactionCheckpoint {
  /** The first offset not cleaned yet: the dirty section starts here. */
  firstDirtyOffset: number;
  /** The earliest delete horizon pending in the cleaned section (null: none). */
  deleteHorizon: number | null;
}

export type SwapResult = 'swapped' | 'lease' | 'changed';

/** A partition's small rows from an offset on (see mergeCandidates). */
export interface MergeCandidates {
  rows: number;
  bytes: number;
  /** The oldest created_at among them after the first in offset order (null: fewer than two). */
  oldestAfterFirst: number | null;
  dbNow: number;
}

const S = {
  register: statement(
    'sh_register_object',
    `INSERT INTO segment_objects (key, bucket, state, size_bytes, agent_id, created_at, state_changed_at)
     VALUES ($1, $2, 'pending', $3, $4, ${NOW_MS}, ${NOW_MS})`,
  ),
  reserve: statement(
    'sh_reserve_objects',
    `INSERT INTO segment_objects (key, bucket, state, size_bytes, agent_id, created_at, state_changed_at)
     SELECT k, $2, 'pending', 0, $3, ${NOW_MS}, ${NOW_MS} FROM unnest($1::text[]) AS u(k)`,
  ),
  abandon: statement(
    'sh_abandon_objects',
    `UPDATE segment_objects SET state = 'deleting', state_changed_at = ${NOW_MS}
     WHERE key = ANY($1::text[]) AND state = 'pending' AND ref_count = 0 RETURNING key`,
    { idempotent: true },
  ),
  markDeleted: statement(
    'sh_mark_objects_deleted',
    `UPDATE segment_objects SET state = 'deleted', state_changed_at = ${NOW_MS}
     WHERE key = ANY($1::text[]) AND state = 'deleting' AND ref_count = 0`,
    { idempotent: true },
  ),
  // One bounded batch, oldest first; rows another cleaner holds are skipped. FOR UPDATE re-checks the
  // conditions on the newest row version, so a commit that referenced the object meanwhile wins.
  claim: statement(
    'sh_claim_object_deletions',
    `WITH c AS (
       SELECT key, state FROM segment_objects
       WHERE ref_count = 0 AND (
         (state = 'pending' AND state_changed_at < ${NOW_MS} - $1)
         OR (state = 'unreferenced' AND state_changed_at < ${NOW_MS} - $2)
         OR (state = 'deleting' AND state_changed_at < ${NOW_MS} - $3))
       ORDER BY state_changed_at LIMIT $4
       FOR UPDATE SKIP LOCKED
     )
     UPDATE segment_objects o SET state = 'deleting', state_changed_at = ${NOW_MS}
     FROM c WHERE o.key = c.key
     RETURNING o.key, o.bucket, c.state AS "from"`,
  ),
  claimTombstones: statement(
    'sh_claim_tombstones',
    `SELECT key, bucket, state AS "from" FROM segment_objects
     WHERE ref_count = 0 AND state = 'deleted' AND state_changed_at < ${NOW_MS} - $1
     ORDER BY state_changed_at LIMIT $2`,
    { idempotent: true },
  ),
  purge: statement(
    'sh_purge_tombstones',
    `DELETE FROM segment_objects WHERE key = ANY($1::text[]) AND state = 'deleted' AND ref_count = 0`,
    { idempotent: true },
  ),
  adopt: statement(
    'sh_adopt_objects',
    `INSERT INTO segment_objects (key, bucket, state, size_bytes, agent_id, created_at, state_changed_at)
     SELECT k, $2, 'pending', s, '', ${NOW_MS}, ${NOW_MS} FROM unnest($1::text[], $3::bigint[]) AS u(k, s)
     ON CONFLICT (key) DO NOTHING RETURNING key`,
    { idempotent: true },
  ),
  known: statement('sh_known_objects', `SELECT key FROM segment_objects WHERE key = ANY($1::text[])`, { idempotent: true }),
  stats: statement(
    'sh_object_registry_stats',
    `SELECT state, count(*)::int AS objects, COALESCE(sum(size_bytes), 0)::bigint AS "sizeBytes",
       COALESCE(sum(live_bytes), 0)::bigint AS "liveBytes"
     FROM segment_objects GROUP BY state ORDER BY state`,
    { idempotent: true },
  ),
  settingGet: statement('sh_storage_setting_get', `SELECT value FROM cluster_settings WHERE name = $1`, { idempotent: true }),
  settingSet: statement(
    'sh_storage_setting_set',
    `INSERT INTO cluster_settings (name, value, set_at) VALUES ($1, $2, ${NOW_MS})
     ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_at = excluded.set_at`,
    { idempotent: true },
  ),
  // Retention from aggregates, computed in the database over the partition's rows from the log start:
  // the newest row, the first row not expired by time, the first row of the newest suffix within the
  // size limit (a window sum). Nothing but three numbers leaves the database.
  retention: statement(
    'sh_retention_aggregate',
    `WITH s AS (
       SELECT base_offset, max_timestamp,
              sum(size_bytes) OVER (ORDER BY base_offset DESC ROWS UNBOUNDED PRECEDING) AS suffix
       FROM segments WHERE topic = $1 AND partition_id = $2 AND end_offset >= $3
     )
     SELECT (SELECT max(base_offset) FROM s) AS "lastBase",
            (SELECT min(base_offset) FROM s WHERE $4::bigint IS NOT NULL AND max_timestamp >= $4::bigint) AS "timeKeep",
            (SELECT min(base_offset) FROM s WHERE $5::bigint IS NOT NULL AND suffix <= $5::bigint) AS "sizeKeep"`,
    { idempotent: true },
  ),
  // The fenced swap: only the holder of the partition's unexpired lease at that epoch, and only if every
  // row to replace still exists (locked here, so retention cannot take one meanwhile). The old rows are
  // found by primary key (topic and partition are checked, not indexed: without statistics, as on PGlite,
  // the planner walked the partition's whole offset index instead — 5-12 ms per swap at 20,000 rows). The triggers on
  // segments move the reference counts of the old objects and the new one in the same transaction.
  swap: statement(
    'sh_swap_segments',
    `WITH lease AS MATERIALIZED (
       SELECT 1 FROM partition_leases
       WHERE topic = $1 AND partition_id = $2 AND leader_agent_id = $3 AND epoch = $4 AND lease_expires_at > ${NOW_MS}
       FOR SHARE
     ), old AS MATERIALIZED (
       SELECT id FROM segments
       WHERE id = ANY($5::text[]) AND topic || '' = $1 AND partition_id + 0 = $2 AND EXISTS (SELECT 1 FROM lease)
       ORDER BY base_offset FOR UPDATE
     ), ok AS MATERIALIZED (
       SELECT EXISTS (SELECT 1 FROM lease) AND (SELECT count(*) FROM old) = cardinality($5::text[]) AS ok
     ), del AS (
       DELETE FROM segments s USING ok WHERE ok.ok AND s.id IN (SELECT id FROM old) RETURNING 1
     ), cp AS (
       INSERT INTO compaction_checkpoints (topic, partition_id, first_dirty_offset, delete_horizon, updated_at)
       SELECT $1, $2, $16::bigint, $17::bigint, ${NOW_MS} FROM ok WHERE ok.ok AND $16::bigint IS NOT NULL
       ON CONFLICT (topic, partition_id) DO UPDATE
         SET first_dirty_offset = excluded.first_dirty_offset, delete_horizon = excluded.delete_horizon, updated_at = excluded.updated_at
       RETURNING 1
     ), dropped AS (
       DELETE FROM aborted_txns a USING ok
       WHERE ok.ok AND a.topic = $1 AND a.partition_id = $2
         AND (a.producer_id, a.first_offset) IN (SELECT * FROM unnest($18::bigint[], $19::bigint[]))
       RETURNING 1
     ), ins AS (
       INSERT INTO segments (id, topic, partition_id, base_offset, end_offset, record_count, size_bytes, s3_bucket, s3_key,
         byte_position, byte_length, max_timestamp, created_at)
       SELECT i.id, $1, $2, i.b, i.e, i.rc, i.sz, i.bk, i.k, i.pos, i.len, i.ts, ${NOW_MS}
       FROM unnest($6::text[], $7::bigint[], $8::bigint[], $9::int[], $10::bigint[], $11::text[], $12::text[], $13::bigint[],
                   $14::bigint[], $15::bigint[]) AS i(id, b, e, rc, sz, bk, k, pos, len, ts), ok
       WHERE ok.ok
       RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM lease) AS "leaseOk", (SELECT ok FROM ok) AS ok,
            (SELECT count(*) FROM del)::int AS deleted, (SELECT count(*) FROM ins)::int AS inserted,
            (SELECT count(*) FROM cp)::int AS checkpointed, (SELECT count(*) FROM dropped)::int AS dropped`,
  ),
  checkpointGet: statement(
    'sh_compaction_checkpoint_get',
    `SELECT first_dirty_offset AS "firstDirtyOffset", delete_horizon AS "deleteHorizon"
     FROM compaction_checkpoints WHERE topic = $1 AND partition_id = $2`,
    { idempotent: true },
  ),
  // A cleaning that swapped nothing still moves the checkpoint: only the lease holder at that epoch.
  checkpointSet: statement(
    'sh_compaction_checkpoint_set',
    `WITH lease AS MATERIALIZED (
       SELECT 1 FROM partition_leases
       WHERE topic = $1 AND partition_id = $2 AND leader_agent_id = $3 AND epoch = $4 AND lease_expires_at > ${NOW_MS}
       FOR SHARE
     ), dropped AS (
       DELETE FROM aborted_txns a
       WHERE EXISTS (SELECT 1 FROM lease) AND a.topic = $1 AND a.partition_id = $2
         AND (a.producer_id, a.first_offset) IN (SELECT * FROM unnest($7::bigint[], $8::bigint[]))
       RETURNING 1
     )
     INSERT INTO compaction_checkpoints (topic, partition_id, first_dirty_offset, delete_horizon, updated_at)
     SELECT $1, $2, $5, $6, ${NOW_MS} FROM lease
     ON CONFLICT (topic, partition_id) DO UPDATE
       SET first_dirty_offset = excluded.first_dirty_offset, delete_horizon = excluded.delete_horizon, updated_at = excluded.updated_at
     RETURNING 1 AS ok`,
    { idempotent: true },
  ),
  // What a merge pass needs to know before listing rows: the small rows from an offset on (count,
  // bytes) and the oldest creation time among them after the first (a run's age is its second row's).
  // An aggregate over the index: listing thousands of rows only to find nothing due would hold
  // PGlite's single session for tens of milliseconds per partition and pass.
  mergeCandidates: statement(
    'sh_merge_candidates',
    `SELECT count(*)::int AS rows, COALESCE(sum(byte_length), 0)::bigint AS bytes,
            (SELECT min(x.created_at) FROM (SELECT created_at FROM segments
               WHERE topic = $1 AND partition_id = $2 AND base_offset >= $3 AND byte_length < $4
               ORDER BY base_offset OFFSET 1) x)::bigint AS "oldestAfterFirst",
            ${NOW_MS} AS "dbNow"
     FROM segments WHERE topic = $1 AND partition_id = $2 AND base_offset >= $3 AND byte_length < $4`,
    { idempotent: true },
  ),
  partitionShape: statement(
    'sh_partition_storage_shape',
    `SELECT topic, partition_id AS "partitionId", count(*)::int AS rows, count(DISTINCT s3_key)::int AS objects,
            COALESCE(sum(size_bytes), 0)::bigint AS "sizeBytes"
     FROM segments WHERE ($1::text IS NULL OR topic = $1) GROUP BY topic, partition_id ORDER BY topic, partition_id`,
    { idempotent: true },
  ),
} as const;

function keysArg(keys: string[]): string[] {
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || k.length === 0)) throw invalid('object keys must be non-empty strings');
  return keys;
}

function invalid(msg: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_REQUEST, msg);
}

function nonNegative(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${name} must be a non-negative integer`);
  return n;
}

function msArg(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${name} must be a non-negative integer (ms)`);
  return n;
}

export class SqlStorageMetadata implements ObjectRegistry {
  constructor(private readonly db: Driver) {}

  async registerObject(o: { key: string; bucket: string; sizeBytes: number; agentId: string }): Promise<void> {
    keysArg([o.key]);
    msArg(o.sizeBytes, 'sizeBytes');
    await this.db.query(S.register, [o.key, o.bucket, o.sizeBytes, o.agentId]);
  }

  async reserveObjects(o: { keys: string[]; bucket: string; agentId: string }): Promise<void> {
    if (o.keys.length === 0) return;
    await this.db.query(S.reserve, [keysArg(o.keys), o.bucket, o.agentId]);
  }

  async abandonObjects(keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.query<{ key: string }>(S.abandon, [keysArg(keys)]);
    return rows.map((r) => r.key);
  }

  async markObjectsDeleted(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return (await this.db.query(S.markDeleted, [keysArg(keys)])).length;
  }

  /** Claims at most `limit` objects to delete (→ deleting) by the bounds, oldest first. */
  async claimObjectDeletions(bounds: CleanupBounds, limit: number): Promise<ClaimedObject[]> {
    return this.db.query<ClaimedObject>(S.claim, [
      msArg(bounds.pendingTimeoutMs, 'pendingTimeoutMs'),
      msArg(bounds.deleteGraceMs, 'deleteGraceMs'),
      msArg(bounds.reclaimAfterMs, 'reclaimAfterMs'),
      msArg(limit, 'limit'),
    ]);
  }

  /** Tombstones older than `olderThanMs`, at most `limit`. */
  async tombstones(olderThanMs: number, limit: number): Promise<ClaimedObject[]> {
    return this.db.query<ClaimedObject>(S.claimTombstones, [msArg(olderThanMs, 'olderThanMs'), msArg(limit, 'limit')]);
  }

  async purgeTombstones(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    await this.db.query(S.purge, [keysArg(keys)]);
    return keys.length;
  }

  /** Objects found in the store without a registry row (written before the registry): registered as
   * pending now (database clock), so they are deleted after the pending bound unless a row references them. */
  async adoptObjects(bucket: string, objects: Array<{ key: string; size: number }>): Promise<number> {
    if (objects.length === 0) return 0;
    const rows = await this.db.query(S.adopt, [keysArg(objects.map((o) => o.key)), bucket, objects.map((o) => Math.max(0, Math.trunc(o.size)))]);
    return rows.length;
  }

  async knownObjects(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    return new Set((await this.db.query<{ key: string }>(S.known, [keysArg(keys)])).map((r) => r.key));
  }

  async objectStats(): Promise<ObjectRegistryStats[]> {
    return this.db.query<ObjectRegistryStats>(S.stats);
  }

  async getSetting(name: string): Promise<string | undefined> {
    const [row] = await this.db.query<{ value: string }>(S.settingGet, [name]);
    return row?.value;
  }

  async setSetting(name: string, value: string): Promise<void> {
    await this.db.query(S.settingSet, [name, value]);
  }

  /** Retention numbers of one partition from its rows at or after `fromOffset` (see RetentionAggregate). */
  async retentionAggregate(
    topic: string,
    partitionId: number,
    fromOffset: number,
    opts: { minTimestamp?: number; maxBytes?: number },
  ): Promise<RetentionAggregate> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) return { lastBase: undefined, timeKeep: undefined, sizeKeep: undefined };
    const [row] = await this.db.query<{ lastBase: number | null; timeKeep: number | null; sizeKeep: number | null }>(S.retention, [
      topic,
      partitionId,
      msArg(fromOffset, 'fromOffset'),
      opts.minTimestamp ?? null,
      opts.maxBytes ?? null,
    ]);
    const n = (v: number | null | undefined) => (v === null || v === undefined ? undefined : Number(v));
    return { lastBase: n(row?.lastBase), timeKeep: n(row?.timeKeep), sizeKeep: n(row?.sizeKeep) };
  }

  /** Replaces rows of one partition by new ones in one fenced statement (see SegmentSwap). */
  async swapSegments(swap: SegmentSwap): Promise<SwapResult> {
    if (!isValidTopicName(swap.topic) || !isPartitionId(swap.partitionId)) throw invalid('unknown topic-partition');
    if (swap.removeIds.length === 0) throw invalid('a swap replaces at least one row');
    for (const s of swap.add) {
      assertSegment(s);
      if (s.topic !== swap.topic || s.partitionId !== swap.partitionId) throw invalid('a swap adds rows of its own partition only');
    }
    const a = swap.add;
    const [row] = await this.db.query<{ leaseOk: boolean; ok: boolean; deleted: number; inserted: number; checkpointed: number }>(S.swap, [
      swap.topic,
      swap.partitionId,
      swap.agentId,
      swap.leaseEpoch,
      swap.removeIds,
      a.map((s) => s.id ?? randomUUID()),
      a.map((s) => s.baseOffset),
      a.map((s) => s.endOffset),
      a.map((s) => s.recordCount),
      a.map((s) => s.sizeBytes),
      a.map((s) => s.s3Bucket),
      a.map((s) => s.s3Key),
      a.map((s) => s.bytePosition),
      a.map((s) => s.byteLength),
      a.map((s) => s.maxTimestamp),
      swap.checkpoint === undefined ? null : msArg(swap.checkpoint.firstDirtyOffset, 'firstDirtyOffset'),
      swap.checkpoint?.deleteHorizon ?? null,
      (swap.dropAborted ?? []).map((e) => e.producerId),
      (swap.dropAborted ?? []).map((e) => e.firstOffset),
    ]);
    if (!row?.leaseOk) return 'lease';
    if (!row.ok) return 'changed';
    if (row.deleted !== swap.removeIds.length || row.inserted !== a.length || row.checkpointed !== (swap.checkpoint === undefined ? 0 : 1)) {
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `segment swap of ${swap.topic}-${swap.partitionId} wrote ${row.deleted}/${row.inserted} rows`);
    }
    return 'swapped';
  }

  /** The cleaner checkpoint of a partition (undefined: never cleaned). */
  async compactionCheckpoint(topic: string, partitionId: number): Promise<CompactionCheckpoint | undefined> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) return undefined;
    const [row] = await this.db.query<{ firstDirtyOffset: number; deleteHorizon: number | null }>(S.checkpointGet, [topic, partitionId]);
    if (row === undefined) return undefined;
    return { firstDirtyOffset: Number(row.firstDirtyOffset), deleteHorizon: row.deleteHorizon === null ? null : Number(row.deleteHorizon) };
  }

  /** Sets the cleaner checkpoint, only as the holder of the partition's unexpired lease at `leaseEpoch`. */
  async setCompactionCheckpoint(
    c: { topic: string; partitionId: number; agentId: string; leaseEpoch: number; dropAborted?: Array<{ producerId: number; firstOffset: number }> } & CompactionCheckpoint,
  ): Promise<boolean> {
    if (!isValidTopicName(c.topic) || !isPartitionId(c.partitionId)) throw invalid('unknown topic-partition');
    const drop = c.dropAborted ?? [];
    const rows = await this.db.query(S.checkpointSet, [
      c.topic,
      c.partitionId,
      c.agentId,
      c.leaseEpoch,
      msArg(c.firstDirtyOffset, 'firstDirtyOffset'),
      c.deleteHorizon,
      drop.map((e) => e.producerId),
      drop.map((e) => e.firstOffset),
    ]);
    return rows.length === 1;
  }

  /** The small rows (byte_length < smallBelow) of a partition from `fromOffset` on: count, bytes, oldest creation after the first. */
  async mergeCandidates(topic: string, partitionId: number, fromOffset: number, smallBelow: number): Promise<MergeCandidates> {
    if (!isValidTopicName(topic) || !isPartitionId(partitionId)) throw invalid('unknown topic-partition');
    const [row] = await this.db.query<MergeCandidates>(S.mergeCandidates, [topic, partitionId, nonNegative(fromOffset, 'fromOffset'), nonNegative(smallBelow, 'smallBelow')]);
    return { rows: row?.rows ?? 0, bytes: Number(row?.bytes ?? 0), oldestAfterFirst: row?.oldestAfterFirst == null ? null : Number(row.oldestAfterFirst), dbNow: Number(row?.dbNow ?? Date.now()) };
  }

  /** Rows, distinct objects and bytes per partition (tests, bench, the simulated week). */
  async partitionShape(topic?: string): Promise<Array<{ topic: string; partitionId: number; rows: number; objects: number; sizeBytes: number }>> {
    return this.db.query(S.partitionShape, [topic ?? null]);
  }
}
