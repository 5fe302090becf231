// Transaction state in PostgreSQL/PGlite (tables transactions, txn_offsets, aborted_txns; migration
// 0006). Every statement is one round trip. Coordinator writes carry the coordinator shard fence of
// the transactional id (or, for TxnOffsetCommit, of the group), checked in the same statement as for
// groups; aborted-index writes carry the partition lease (agent and epoch), like producer snapshots.
import { statement, type Driver } from '../../metadata/driver.js';
import { fenceCtes, NOW_MS } from '../../metadata/sql-store.js';
import { fromStored, toStored, toStoredOrNull } from '../../metadata/stored-text.js';
import type { CoordinatorFence } from '../../metadata/types.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort';

export const TXN_STATES: readonly TxnState[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'];

export interface TxnRecord {
  transactionalId: string;
  shard: number;
  producerId: number;
  producerEpoch: number;
  state: TxnState;
  timeoutMs: number;
  partitions: Array<[string, number]>;
  groups: string[];
  /** Database clock; -1 when no transaction is in progress. */
  startedAt: number;
  updatedAt: number;
}

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  /** The abort marker's offset; null until known. */
  lastOffset: number | null;
}

export interface TxnOffsetInput {
  topic: string;
  partitionId: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

const TXN_COLS = `transactional_id AS "transactionalId", shard, producer_id AS "producerId", producer_epoch AS "producerEpoch",
  state, timeout_ms AS "timeoutMs", partitions, groups, started_at AS "startedAt", updated_at AS "updatedAt"`;

const S = {
  get: statement('sh_txn_get', `SELECT ${TXN_COLS} FROM transactions WHERE transactional_id = $1`, { idempotent: true }),
  byProducer: statement('sh_txn_by_producer', `SELECT ${TXN_COLS} FROM transactions WHERE producer_id = $1`, { idempotent: true }),
  list: statement('sh_txn_list', `SELECT ${TXN_COLS} FROM transactions ORDER BY transactional_id`, { idempotent: true }),
  listOpen: statement(
    'sh_txn_list_open',
    `SELECT ${TXN_COLS}, ${NOW_MS} AS "dbNow" FROM transactions
     WHERE shard = ANY($1::int[]) AND state IN ('Ongoing', 'PrepareCommit', 'PrepareAbort') ORDER BY transactional_id`,
    { idempotent: true },
  ),
  // The row as decided under the fence; with $11 = 'commit' the transaction's pending offsets become
  // committed offsets, with 'abort' they are dropped (all in this statement).
  save: statement(
    'sh_txn_save',
    `WITH ${fenceCtes(12)}, t AS (
       INSERT INTO transactions AS tx (transactional_id, shard, producer_id, producer_epoch, state, timeout_ms, partitions, groups, started_at, updated_at)
       SELECT $1, $2, $3, $4, $5, $6, $7::json, $8::json,
              CASE WHEN $9::bigint = -2 THEN ${NOW_MS} ELSE $9::bigint END, ${NOW_MS}
       WHERE (SELECT ok FROM ok)
       ON CONFLICT (transactional_id) DO UPDATE SET shard = EXCLUDED.shard, producer_id = EXCLUDED.producer_id,
         producer_epoch = EXCLUDED.producer_epoch, state = EXCLUDED.state, timeout_ms = EXCLUDED.timeout_ms,
         partitions = EXCLUDED.partitions, groups = EXCLUDED.groups, started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at
       RETURNING started_at, updated_at
     ), o AS (
       INSERT INTO consumer_offsets AS co (group_id, topic, partition_id, committed_offset, leader_epoch, metadata, committed_at)
       SELECT x.group_id, x.topic, x.partition_id, x.committed_offset, x.leader_epoch, x.metadata, x.committed_at
       FROM txn_offsets x WHERE x.transactional_id = $1 AND $11::text = 'commit' AND (SELECT ok FROM ok)
         AND EXISTS (SELECT 1 FROM topics WHERE name = x.topic)
       ON CONFLICT (group_id, topic, partition_id) DO UPDATE SET
         committed_offset = EXCLUDED.committed_offset, leader_epoch = EXCLUDED.leader_epoch,
         metadata = EXCLUDED.metadata, committed_at = EXCLUDED.committed_at
       RETURNING 1
     ), d AS (
       DELETE FROM txn_offsets WHERE transactional_id = $1 AND $11::text IN ('commit', 'abort') AND (SELECT ok FROM ok) RETURNING 1
     )
     SELECT (SELECT ok FROM ok) AS ok, (SELECT started_at FROM t) AS "startedAt", (SELECT updated_at FROM t) AS "updatedAt",
            (SELECT count(*) FROM o)::int AS moved, (SELECT count(*) FROM d)::int AS dropped, $10::int AS unused`,
  ),
  // TxnOffsetCommit, under the group's shard fence, only while the transaction is open with that
  // producer id and epoch and has the group (AddOffsetsToTxn).
  addOffsets: statement(
    'sh_txn_add_offsets',
    `WITH ${fenceCtes(11)}, tx AS (
       SELECT 1 FROM transactions WHERE transactional_id = $1 AND producer_id = $3 AND producer_epoch = $4 AND state = 'Ongoing'
     ), i AS (
       INSERT INTO txn_offsets AS x (transactional_id, group_id, topic, partition_id, producer_id, committed_offset, leader_epoch, metadata, committed_at)
       SELECT $1, $2, u.topic, u.partition_id, $3, u.committed_offset, u.leader_epoch, u.metadata, ${NOW_MS}
       FROM unnest($5::text[], $6::int[], $7::bigint[], $8::int[], $9::text[]) AS u(topic, partition_id, committed_offset, leader_epoch, metadata)
       WHERE (SELECT ok FROM ok) AND EXISTS (SELECT 1 FROM tx)
       ON CONFLICT (transactional_id, group_id, topic, partition_id) DO UPDATE SET
         producer_id = EXCLUDED.producer_id, committed_offset = EXCLUDED.committed_offset, leader_epoch = EXCLUDED.leader_epoch,
         metadata = EXCLUDED.metadata, committed_at = EXCLUDED.committed_at
       RETURNING 1
     )
     SELECT (SELECT ok FROM ok) AS ok, EXISTS (SELECT 1 FROM tx) AS open, (SELECT count(*) FROM i)::int AS n, $10::int AS unused`,
    { idempotent: true },
  ),
  pendingOffsets: statement(
    'sh_txn_pending_offsets',
    `SELECT topic, partition_id AS "partitionId" FROM txn_offsets WHERE group_id = $1`,
    { idempotent: true },
  ),
  // Only by the holder of the partition's unexpired lease at that epoch.
  addAborted: statement(
    'sh_txn_add_aborted',
    `WITH l AS (
       SELECT 1 FROM partition_leases WHERE topic = $2 AND partition_id = $3 AND leader_agent_id = $1 AND epoch = $4
         AND lease_expires_at > ${NOW_MS} FOR SHARE
     ), i AS (
       INSERT INTO aborted_txns (topic, partition_id, producer_id, first_offset, last_offset)
       SELECT $2, $3, $5, $6, NULL WHERE EXISTS (SELECT 1 FROM l)
       ON CONFLICT DO NOTHING RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM l) AS ok`,
    { idempotent: true },
  ),
  // Entries whose abort marker is below the log start offset (retention, DeleteRecords): no fetch can
  // reach their records any more.
  pruneAborted: statement(
    'sh_txn_prune_aborted',
    `DELETE FROM aborted_txns WHERE topic = $1 AND partition_id = $2 AND last_offset < $3`,
    { idempotent: true },
  ),
  setAbortedLast: statement(
    'sh_txn_set_aborted_last',
    `UPDATE aborted_txns SET last_offset = $5 WHERE topic = $1 AND partition_id = $2 AND producer_id = $3 AND first_offset = $4 AND last_offset IS NULL`,
    { idempotent: true },
  ),
  loadAborted: statement(
    'sh_txn_load_aborted',
    `SELECT producer_id AS "producerId", first_offset AS "firstOffset", last_offset AS "lastOffset"
     FROM aborted_txns WHERE topic = $1 AND partition_id = $2 AND (last_offset IS NULL OR last_offset >= $3) ORDER BY first_offset`,
    { idempotent: true },
  ),
} as const;

function fenceParams(fence: CoordinatorFence): [number, string, number] {
  return [fence.shard, fence.agentId, fence.epoch];
}

function notCoordinator(fence: CoordinatorFence): KafkaError {
  return new KafkaError(ErrorCode.NOT_COORDINATOR, `agent ${fence.agentId} no longer holds coordinator shard ${fence.shard} with epoch ${fence.epoch}`);
}

type Raw = Omit<TxnRecord, 'transactionalId' | 'groups'> & { transactionalId: string; groups: string[] | string; partitions: Array<[string, number]> | string };

function parse(r: Raw): TxnRecord {
  const partitions = typeof r.partitions === 'string' ? (JSON.parse(r.partitions) as Array<[string, number]>) : r.partitions;
  const groups = typeof r.groups === 'string' ? (JSON.parse(r.groups) as string[]) : r.groups;
  return {
    transactionalId: fromStored(r.transactionalId),
    shard: r.shard,
    producerId: Number(r.producerId),
    producerEpoch: r.producerEpoch,
    state: r.state,
    timeoutMs: r.timeoutMs,
    partitions,
    groups,
    startedAt: Number(r.startedAt),
    updatedAt: Number(r.updatedAt),
  };
}

export class TxnStore {
  constructor(private readonly driver: Driver) {}

  async get(transactionalId: string): Promise<TxnRecord | undefined> {
    const [r] = await this.driver.query<Raw>(S.get, [toStored(transactionalId, 'transactional id')]);
    return r && parse(r);
  }

  async byProducer(producerId: number): Promise<TxnRecord | undefined> {
    const [r] = await this.driver.query<Raw>(S.byProducer, [producerId]);
    return r && parse(r);
  }

  async list(): Promise<TxnRecord[]> {
    return (await this.driver.query<Raw>(S.list)).map(parse);
  }

  /** Open and deciding transactions of the given shards, with the database clock. */
  async listOpen(shards: number[]): Promise<{ txns: TxnRecord[]; dbNow: number | undefined }> {
    const rows = await this.driver.query<Raw & { dbNow: number }>(S.listOpen, [shards]);
    return { txns: rows.map(parse), dbNow: rows[0] && Number(rows[0].dbNow) };
  }

  /**
   * Writes the row under the fence (NOT_COORDINATOR when the shard lease is gone); startedAt -2 means
   * "now on the database clock". Returns the stored times.
   */
  async save(t: Omit<TxnRecord, 'updatedAt'>, fence: CoordinatorFence, offsets: 'commit' | 'abort' | 'keep' = 'keep'): Promise<{ startedAt: number; updatedAt: number }> {
    const [row] = await this.driver.query<{ ok: boolean; startedAt: number; updatedAt: number }>(S.save, [
      toStored(t.transactionalId, 'transactional id'),
      t.shard,
      t.producerId,
      t.producerEpoch,
      t.state,
      t.timeoutMs,
      JSON.stringify(t.partitions),
      JSON.stringify(t.groups),
      t.startedAt,
      0,
      offsets,
      ...fenceParams(fence),
    ]);
    if (row?.ok !== true) throw notCoordinator(fence);
    return { startedAt: Number(row.startedAt), updatedAt: Number(row.updatedAt) };
  }

  /** Pending offsets of an open transaction; false when it is not open with that producer id and epoch. */
  async addOffsets(transactionalId: string, groupId: string, producerId: number, producerEpoch: number, offsets: TxnOffsetInput[], fence: CoordinatorFence): Promise<boolean> {
    const [row] = await this.driver.query<{ ok: boolean; open: boolean }>(S.addOffsets, [
      toStored(transactionalId, 'transactional id'),
      toStored(groupId, 'group id'),
      producerId,
      producerEpoch,
      offsets.map((o) => o.topic),
      offsets.map((o) => o.partitionId),
      offsets.map((o) => o.offset),
      offsets.map((o) => o.leaderEpoch),
      offsets.map((o) => toStoredOrNull(o.metadata, 'offset metadata')),
      0,
      ...fenceParams(fence),
    ]);
    if (row?.ok !== true) throw notCoordinator(fence);
    return row.open;
  }

  /** Partitions of a group with offsets waiting for a transaction (OffsetFetch require_stable). */
  async pendingOffsets(groupId: string): Promise<Array<{ topic: string; partitionId: number }>> {
    return this.driver.query(S.pendingOffsets, [toStored(groupId, 'group id')]);
  }

  /** false: the lease is not ours at that epoch (nothing written). */
  async addAborted(agentId: string, leaseEpoch: number, topic: string, partitionId: number, producerId: number, firstOffset: number): Promise<boolean> {
    const [row] = await this.driver.query<{ ok: boolean }>(S.addAborted, [agentId, topic, partitionId, leaseEpoch, producerId, firstOffset]);
    return row?.ok === true;
  }

  async setAbortedLast(topic: string, partitionId: number, producerId: number, firstOffset: number, lastOffset: number): Promise<void> {
    await this.driver.query(S.setAbortedLast, [topic, partitionId, producerId, firstOffset, lastOffset]);
  }

  async pruneAborted(topic: string, partitionId: number, logStartOffset: number): Promise<void> {
    await this.driver.query(S.pruneAborted, [topic, partitionId, logStartOffset]);
  }

  async loadAborted(topic: string, partitionId: number, fromOffset: number): Promise<AbortedTxn[]> {
    const rows = await this.driver.query<AbortedTxn>(S.loadAborted, [topic, partitionId, fromOffset]);
    return rows.map((r) => ({ producerId: Number(r.producerId), firstOffset: Number(r.firstOffset), lastOffset: r.lastOffset === null ? null : Number(r.lastOffset) }));
  }
}
