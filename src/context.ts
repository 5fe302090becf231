// Everything a handler may use: settings, stores, the partition log, leadership, the group
// coordinator, the clock and the logger. Built once by the agent (src/agent.ts); handlers never see a
// socket.
import type { Transactions } from './transactions/index.js';
import type { MetadataStore } from '../metadata/types.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Clock } from './cluster/leases.js';
import type { GroupCoordinator } from './coordinator/index.js';
import type { AgentMetrics } from './metrics/agent-metrics.js';
import type { CredentialStore } from './security/credentials.js';
import type { Authorizer } from './security/authorizer.js';

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** Advertised listeners, `NAME://host:port,...` (absent: host:port only). */
  listeners?: string | null;
}

/** A partition as its leader sees it. */
export interface PartitionView {
  highWatermark: number;
  logStartOffset: number;
  /** Leader epoch (= lease epoch). */
  leaderEpoch: number;
  /** No transactions yet: equals the high watermark. */
  lastStableOffset: number;
}

/**
 * The partition log: produce and fetch for partitions this agent leads. Every method first makes
 * sure this agent leads the partition (taking its lease when free) and throws KafkaError
 * (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, retriable storage errors) otherwise.
 */
export interface PartitionLog {
  /**
   * Ensures this agent leads the partition (taking its lease when free) and, after a takeover and
   * for an idempotent producer's batch, has read its idempotent producers back from the log; resolves
   * to the leader epoch.
   */
  /** `forBatch`: the batch about to be appended; only an idempotent producer's batch waits for the
   * producer state of a partition just taken over to be read back. */
  lead(topic: string, partitionId: number, forBatch?: Buffer): Promise<number>;
  /**
   * Appends one validated batch to a partition this agent leads (see lead()). Offsets are assigned in
   * place in call order: two appends called one after the other land in that order. Resolves after
   * the flush commit.
   */
  append(topic: string, partitionId: number, batch: Buffer): Promise<{ baseOffset: number; lastOffset: number; logStartOffset: number }>;
  /** `stable`: the last stable offset must account for every open transaction (read_committed). */
  state(topic: string, partitionId: number, opts?: { stable?: boolean }): Promise<PartitionView>;
  /** Whole committed batches starting with the one holding `offset`; first batch whole, then up to maxBytes; below `upTo` when given. */
  read(topic: string, partitionId: number, offset: number, maxBytes: number, upTo?: number): Promise<Buffer[]>;
  /**
   * Resolves as soon as any of the partitions has a high watermark above its given offset, or after
   * timeoutMs (long-poll Fetch).
   */
  waitForData(partitions: Array<{ topic: string; partitionId: number; offset: number }>, timeoutMs: number): Promise<void>;
  /** ListOffsets by time: the first offset whose timestamp is ≥ timestamp. */
  offsetForTimestamp(topic: string, partitionId: number, timestamp: number): Promise<{ offset: number; timestamp: number } | undefined>;
  /** ListOffsets MAX_TIMESTAMP: the offset and time of the record with the largest timestamp. */
  maxTimestamp(topic: string, partitionId: number): Promise<{ offset: number; timestamp: number } | undefined>;
  /** DeleteRecords: moves the log start offset; returns the new low watermark. */
  deleteRecords(topic: string, partitionId: number, offset: number): Promise<number>;
  /** The topic was deleted: drop leadership, buffered data and caches of its partitions. */
  forgetTopic(topic: string): void;
}

export interface BrokerContext {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  readonly clusterId: string;
  /** This agent's broker id. */
  readonly nodeId: number;
  /** The metadata store, behind the agent's read-through cache. */
  readonly metadata: MetadataStore;
  readonly partitions: PartitionLog;
  /** Live agents (this one included), as Kafka brokers. */
  brokers(): Promise<BrokerInfo[]>;
  /**
   * Leader of every partition of a topic (index = partition id): the live lease holder, else this
   * agent (it takes the lease when the partition is first served).
   */
  leaders(topic: string, partitionCount: number): Promise<Array<{ nodeId: number; leaderEpoch: number }>>;
  /** The classic consumer group coordinator. */
  readonly groups: GroupCoordinator;
  /**
   * After this agent changed a topic: resolves once every other live agent confirmed it applied the
   * change (deleted: it serves the topic no more), or after a bounded wait (logged). Absent or
   * immediate with one agent.
   */
  topicChangeApplied?(topic: string): Promise<void>;
  /** Transactions (coordinator and leader side); absent: transactional ids are refused. */
  readonly transactions?: Transactions;
  /** SASL credentials (user_credentials table); absent in tests without a database. */
  readonly credentials?: CredentialStore;
  /** ACL decisions (src/security/authorize.ts); absent when the authorizer is off (everything allowed). */
  readonly authorizer?: Authorizer;
  /** After this agent changed ACLs: resolves once its authorizer holds the database's current set. */
  aclsChanged?(): Promise<void>;
  /** The agent's metrics; absent when they are off (--http-port 0). */
  readonly metrics?: Pick<AgentMetrics, 'produced' | 'fetched'>;
}
