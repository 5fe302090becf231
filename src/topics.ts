// Topics as Kafka describes them: the legal names, the topic configs we support (Kafka's names,
// defaults and validation), the broker configs DescribeConfigs reports, and auto-creation. The
// handlers for Metadata, CreateTopics, DescribeConfigs, AlterConfigs… and Produce read topics through
// this module, so one table decides what a config means everywhere.
import { ErrorCode, KafkaError } from '../protocol/index.js';
import type { TopicRecord } from '../metadata/types.js';
import { SETTINGS, type Config, type SettingName } from './config.js';
import type { BrokerContext, BrokerInfo } from './context.js';

// ---------------------------------------------------------------------------------------------
// Wire enums that live outside the message schemas (Kafka's Java enums).

/** DescribeConfigs / AlterConfigs resource types (ConfigResource.Type). */
export const ConfigResourceType = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

/** Where a described config value comes from (DescribeConfigsResponse.ConfigSource). */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;
export type ConfigSourceValue = (typeof ConfigSource)[keyof typeof ConfigSource];

/** DescribeConfigs v3+ configType (DescribeConfigsResponse.ConfigType). */
export const ConfigType = { UNKNOWN: 0, BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7, CLASS: 8, PASSWORD: 9 } as const;
export type ConfigTypeName = Exclude<keyof typeof ConfigType, 'UNKNOWN'>;

/** IncrementalAlterConfigs operations (AlterConfigOp.OpType). */
export const ConfigOperation = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/** ACL operation codes; authorized-operation fields are bit sets of these. */
export const AclOperation = {
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
} as const;

const bits = (...ops: number[]) => ops.reduce((acc, op) => acc | (1 << op), 0);
const A = AclOperation;
/** No authorizer: every operation Kafka supports on a topic is allowed. */
export const TOPIC_AUTHORIZED_OPERATIONS = bits(A.READ, A.WRITE, A.CREATE, A.DELETE, A.ALTER, A.DESCRIBE, A.DESCRIBE_CONFIGS, A.ALTER_CONFIGS);
/** No authorizer: every operation Kafka supports on the cluster is allowed. */
export const CLUSTER_AUTHORIZED_OPERATIONS = bits(A.CREATE, A.CLUSTER_ACTION, A.DESCRIBE_CONFIGS, A.ALTER_CONFIGS, A.IDEMPOTENT_WRITE, A.ALTER, A.DESCRIBE);
/** The schema default of *AuthorizedOperations fields: "not requested". */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * The controller we report. Agents have no controller; clients only need a live node id here, and the
 * lowest one is stable while membership is.
 */
export function controllerIdOf(brokers: readonly BrokerInfo[], self: number): number {
  let id = Infinity;
  for (const b of brokers) if (b.nodeId < id) id = b.nodeId;
  return id === Infinity ? self : id;
}

// ---------------------------------------------------------------------------------------------
// Topic names and partition counts

// One rule for the whole agent: the metadata store checks names and counts before any SQL, and the
// handlers answer with the same words.
import { assertTopicName, topicNameProblem } from '../metadata/validate.js';

export { MAX_TOPIC_NAME_LENGTH, MAX_PARTITIONS_PER_TOPIC, topicNameProblem, assertTopicName } from '../metadata/validate.js';

/**
 * Kafka's checks on one partition's manual replica list (CreateTopics, CreatePartitions): non-empty,
 * live brokers only, no broker twice, and as many replicas as the other partitions. Throws
 * INVALID_REPLICA_ASSIGNMENT.
 */
export function checkReplicaAssignment(brokerIds: readonly number[], expectedSize: number | undefined, liveBrokers: ReadonlySet<number>): void {
  const reject = (message: string) => new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, message);
  if (brokerIds.length === 0) throw reject('The manual partition assignment includes an empty replica list.');
  const ids = new Set<number>();
  for (const id of brokerIds) {
    if (!liveBrokers.has(id)) throw reject(`The manual partition assignment includes broker ${id}, but no such broker is registered.`);
    if (ids.has(id)) throw reject(`The manual partition assignment includes the broker ${id} more than once.`);
    ids.add(id);
  }
  if (expectedSize !== undefined && brokerIds.length !== expectedSize) {
    throw reject(
      `The manual partition assignment includes a partition with ${brokerIds.length} replica(s), but this is not consistent with previous partitions, which have ${expectedSize} replica(s).`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Topic configs

export interface TopicConfigDef {
  readonly name: string;
  readonly type: 'BOOLEAN' | 'STRING' | 'INT' | 'LONG' | 'DOUBLE' | 'LIST';
  /** Kafka's default, in the canonical form DescribeConfigs prints. */
  readonly default: string;
  /** The broker config that supplies the default (Kafka's synonym); null: none, the default is fixed. */
  readonly brokerName: string | null;
  /**
   * Set when Kafka leaves that broker config unset (null) and derives the default from a coarser one
   * (log.retention.ms from log.retention.hours): DescribeConfigs then lists no synonym for the topic
   * config, and the broker describes brokerName as null next to the coarser config.
   */
  readonly derivedFrom?: { readonly name: string; readonly value: string };
  readonly doc: string;
  readonly min?: number | bigint;
  readonly max?: number | bigint;
  /** Allowed values of a STRING, or of each LIST element. */
  readonly oneOf?: readonly string[];
  /** Extra check on the canonical value; returns the problem. */
  readonly check?: (value: string) => string | undefined;
}

const LONG_MAX = '9223372036854775807';
const INT_RANGE = [-(2n ** 31n), 2n ** 31n - 1n] as const;
const LONG_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;

function def(
  name: string,
  type: TopicConfigDef['type'],
  dflt: string,
  brokerName: string | null,
  doc: string,
  extra: Partial<Pick<TopicConfigDef, 'min' | 'max' | 'oneOf' | 'check' | 'derivedFrom'>> = {},
): TopicConfigDef {
  return { name, type, default: dflt, brokerName, doc, ...extra };
}

/** Kafka's rule for the throttled-replicas lists: `*`, or `partition:broker` pairs. */
function throttledReplicasProblem(value: string): string | undefined {
  if (value === '' || value === '*') return undefined;
  return value.split(',').every((x) => /^\d+:\d+$/.test(x)) ? undefined : 'must be the wildcard (*) or a list of partitionId:brokerId pairs';
}

const DEFS: readonly TopicConfigDef[] = [
  def('cleanup.policy', 'LIST', 'delete', 'log.cleanup.policy', 'Retention policy for old segments: delete, compact, or both.', {
    oneOf: ['compact', 'delete'],
    // Retention needs at least one policy; Kafka of this era accepts an empty list.
    check: (v) => (v === '' ? 'the list must name at least one policy' : undefined),
  }),
  def('compression.type', 'STRING', 'producer', 'compression.type', 'Codec for stored batches; "producer" keeps what the producer sent.', {
    oneOf: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'],
  }),
  def('compression.gzip.level', 'INT', '-1', 'compression.gzip.level', 'gzip level when compression.type is gzip.', {
    min: -1,
    max: 9,
    check: (v) => (v === '0' ? 'must be -1 or between 1 and 9' : undefined),
  }),
  def('compression.lz4.level', 'INT', '9', 'compression.lz4.level', 'lz4 level when compression.type is lz4.', { min: 1, max: 17 }),
  def('compression.zstd.level', 'INT', '3', 'compression.zstd.level', 'zstd level when compression.type is zstd.', { min: -131072, max: 22 }),
  def('delete.retention.ms', 'LONG', '86400000', 'log.cleaner.delete.retention.ms', 'How long delete tombstones stay on compacted topics.', { min: 0 }),
  def('file.delete.delay.ms', 'LONG', '60000', 'log.segment.delete.delay.ms', 'Delay before a deleted segment is removed from storage.', { min: 0 }),
  def('follower.replication.throttled.replicas', 'LIST', '', null, 'Accepted for compatibility (reassignment throttling); there are no followers to throttle.', {
    check: throttledReplicasProblem,
  }),
  def('flush.messages', 'LONG', LONG_MAX, 'log.flush.interval.messages', 'Accepted for compatibility; every batch is committed before it is acknowledged.', { min: 1 }),
  def('flush.ms', 'LONG', LONG_MAX, 'log.flush.interval.ms', 'Accepted for compatibility; every batch is committed before it is acknowledged.', {
    min: 0,
    derivedFrom: { name: 'log.flush.scheduler.interval.ms', value: LONG_MAX },
  }),
  def('index.interval.bytes', 'INT', '4096', 'log.index.interval.bytes', 'Accepted for compatibility; segment indexes are built per batch.', { min: 0 }),
  def('leader.replication.throttled.replicas', 'LIST', '', null, 'Accepted for compatibility (reassignment throttling); there are no followers to throttle.', {
    check: throttledReplicasProblem,
  }),
  def('max.compaction.lag.ms', 'LONG', LONG_MAX, 'log.cleaner.max.compaction.lag.ms', 'Longest time a record stays uncompacted.', { min: 1 }),
  def('max.message.bytes', 'INT', '1048588', 'message.max.bytes', 'Largest record batch accepted, after compression.', { min: 0 }),
  def('message.timestamp.after.max.ms', 'LONG', LONG_MAX, 'log.message.timestamp.after.max.ms', 'How far ahead of the broker clock a CreateTime timestamp may be.', { min: 0 }),
  def('message.timestamp.before.max.ms', 'LONG', LONG_MAX, 'log.message.timestamp.before.max.ms', 'How far behind the broker clock a CreateTime timestamp may be.', { min: 0 }),
  // Deprecated by Kafka 3.6 (KIP-937) in favour of the two above and removed in Kafka 4; accepted for
  // the clients and tools that still set it (kafkajs's suite does): it bounds both directions, unless
  // before.max.ms / after.max.ms are set themselves.
  def('message.timestamp.difference.max.ms', 'LONG', LONG_MAX, 'log.message.timestamp.difference.max.ms', 'Deprecated: the bound of message.timestamp.before.max.ms and after.max.ms when those are unset.', { min: 0 }),
  def('message.timestamp.type', 'STRING', 'CreateTime', 'log.message.timestamp.type', 'CreateTime keeps the producer timestamp; LogAppendTime stamps the broker time.', {
    oneOf: ['CreateTime', 'LogAppendTime'],
  }),
  def('min.cleanable.dirty.ratio', 'DOUBLE', '0.5', 'log.cleaner.min.cleanable.ratio', 'Share of uncompacted log that triggers compaction.', { min: 0, max: 1 }),
  def('min.compaction.lag.ms', 'LONG', '0', 'log.cleaner.min.compaction.lag.ms', 'Shortest time a record stays uncompacted.', { min: 0 }),
  def('min.insync.replicas', 'INT', '1', 'min.insync.replicas', 'Accepted for compatibility; durability comes from the object store.', { min: 1 }),
  def('preallocate', 'BOOLEAN', 'false', 'log.preallocate', 'Accepted for compatibility; segments are objects, nothing is preallocated.'),
  def('retention.bytes', 'LONG', '-1', 'log.retention.bytes', 'Size a partition may grow to before old segments are deleted; -1 = no limit.'),
  def('retention.ms', 'LONG', '604800000', 'log.retention.ms', 'Age after which old segments are deleted; -1 = no limit.', {
    min: -1,
    derivedFrom: { name: 'log.retention.hours', value: '168' },
    // The metadata store keeps retention_ms as -1 or positive; 0 would delete everything at once.
    check: (v) => (v === '0' ? 'must be -1 or positive' : undefined),
  }),
  def('segment.bytes', 'INT', '1073741824', 'log.segment.bytes', 'Segment objects are cut by the flush cycle and merged to merge-target-bytes; compaction cleans only records followed by at least this many newer bytes (or older than segment.ms): the rolled part of the log.', { min: 14 }),
  def('segment.index.bytes', 'INT', '10485760', 'log.index.size.max.bytes', 'Accepted for compatibility.', { min: 4 }),
  def('segment.jitter.ms', 'LONG', '0', 'log.roll.jitter.ms', 'Accepted for compatibility.', { min: 0, derivedFrom: { name: 'log.roll.jitter.hours', value: '0' } }),
  def('segment.ms', 'LONG', '604800000', 'log.roll.ms', 'Segment objects are cut by the flush cycle; compaction cleans only records older than this (or followed by segment.bytes of newer data): the rolled part of the log.', {
    min: 1,
    derivedFrom: { name: 'log.roll.hours', value: '168' },
  }),
  def('unclean.leader.election.enable', 'BOOLEAN', 'false', 'unclean.leader.election.enable', 'Accepted for compatibility; any agent may lead any partition without data loss.'),
];

/** Every topic config we accept, by name (sorted). */
export const TOPIC_CONFIGS: ReadonlyMap<string, TopicConfigDef> = new Map(
  [...DEFS].sort((a, b) => (a.name < b.name ? -1 : 1)).map((d) => [d.name, d]),
);

function invalidConfig(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_CONFIG, message);
}

function parseInteger(s: string, range: readonly [bigint, bigint]): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < range[0] || n > range[1] ? undefined : n;
}

/** Parses a value of config `d` into its canonical string, or returns why it is invalid. */
function canonical(d: TopicConfigDef, raw: string): { value: string } | { problem: string } {
  const s = raw.trim();
  switch (d.type) {
    case 'BOOLEAN': {
      const b = s.toLowerCase();
      return b === 'true' || b === 'false' ? { value: b } : { problem: 'expected true or false' };
    }
    case 'INT':
    case 'LONG': {
      const n = parseInteger(s, d.type === 'INT' ? INT_RANGE : LONG_RANGE);
      if (n === undefined) return { problem: `expected a ${d.type === 'INT' ? '32' : '64'}-bit integer` };
      if (d.min !== undefined && n < BigInt(d.min)) return { problem: `value must be at least ${d.min}` };
      if (d.max !== undefined && n > BigInt(d.max)) return { problem: `value must be no more than ${d.max}` };
      return { value: n.toString() };
    }
    case 'DOUBLE': {
      const n = s === '' ? NaN : Number(s);
      if (!Number.isFinite(n)) return { problem: 'expected a number' };
      if (d.min !== undefined && n < Number(d.min)) return { problem: `value must be at least ${d.min}` };
      if (d.max !== undefined && n > Number(d.max)) return { problem: `value must be no more than ${d.max}` };
      return { value: String(n) };
    }
    case 'STRING':
      if (d.oneOf !== undefined && !d.oneOf.includes(s)) return { problem: `String must be one of: ${d.oneOf.join(', ')}` };
      return { value: s };
    case 'LIST': {
      const items = s === '' ? [] : s.split(',').map((x) => x.trim());
      const out: string[] = [];
      for (const item of items) {
        if (d.oneOf !== undefined && !d.oneOf.includes(item)) return { problem: `'${item}' is not one of [${d.oneOf.join(', ')}]` };
        if (!out.includes(item)) out.push(item);
      }
      return { value: out.join(',') };
    }
  }
}

/**
 * The canonical form of one topic config value (trimmed, booleans lower-case, integers in plain
 * decimal, list items deduplicated). Throws INVALID_CONFIG for an unknown name or a bad value.
 */
export function normalizeTopicConfigValue(name: string, value: string | null): string {
  const d = TOPIC_CONFIGS.get(name);
  if (d === undefined) throw invalidConfig(`Unknown topic config name: ${name}`);
  if (value === null) throw invalidConfig(`Null value not supported for topic configs: ${name}`);
  const r = canonical(d, value);
  const problem = 'problem' in r ? r.problem : d.check?.(r.value);
  if (problem !== undefined) throw invalidConfig(`Invalid value ${value} for configuration ${name}: ${problem}`);
  return (r as { value: string }).value;
}

/**
 * Validates a whole set of topic overrides (names, values, and the rules between values) and returns
 * it in canonical form. Throws INVALID_CONFIG.
 */
export function validateTopicConfig(config: Readonly<Record<string, string | null>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(config).sort()) out[name] = normalizeTopicConfigValue(name, config[name] ?? null);
  const minLag = BigInt(out['min.compaction.lag.ms'] ?? TOPIC_CONFIGS.get('min.compaction.lag.ms')!.default);
  const maxLag = BigInt(out['max.compaction.lag.ms'] ?? TOPIC_CONFIGS.get('max.compaction.lag.ms')!.default);
  if (minLag > maxLag) {
    throw invalidConfig(`conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`);
  }
  return out;
}

/** The retention_ms column for a set of overrides: null = broker default (no override). */
export function retentionMsColumn(config: Readonly<Record<string, string>>): number | null {
  const v = config['retention.ms'];
  if (v === undefined) return null;
  const n = Number(v);
  // Beyond 2^53 ms (285,000 years) is "forever" in practice; the column wants a safe integer.
  return Number.isSafeInteger(n) ? n : -1;
}

/** LIST configs are the only ones IncrementalAlterConfigs may APPEND to or SUBTRACT from. */
export function isListConfig(name: string): boolean {
  return TOPIC_CONFIGS.get(name)?.type === 'LIST';
}

export interface TopicConfigEntry {
  name: string;
  value: string;
  /** DYNAMIC_TOPIC_CONFIG when set on the topic, DEFAULT_CONFIG otherwise. */
  source: ConfigSourceValue;
  def: TopicConfigDef;
}

/** Every supported config of a topic with its effective value, sorted by name. */
export function topicConfigEntries(overrides: Readonly<Record<string, string>>): TopicConfigEntry[] {
  const out: TopicConfigEntry[] = [];
  for (const d of TOPIC_CONFIGS.values()) {
    const set = overrides[d.name];
    out.push(
      set === undefined
        ? { name: d.name, value: d.default, source: ConfigSource.DEFAULT_CONFIG, def: d }
        : { name: d.name, value: set, source: ConfigSource.DYNAMIC_TOPIC_CONFIG, def: d },
    );
  }
  return out;
}

/** The effective value of one topic config (the override, else Kafka's default). */
export function topicConfigValue(topic: Pick<TopicRecord, 'config'>, name: string): string {
  const v = topic.config[name];
  if (v !== undefined) return v;
  const d = TOPIC_CONFIGS.get(name);
  if (d === undefined) throw new Error(`unknown topic config ${name}`);
  return d.default;
}

/** The configs the broker acts on, typed. LONG maxima (Long.MAX_VALUE) become ~9.22e18. */
export interface ResolvedTopicConfig {
  cleanupPolicy: Array<'compact' | 'delete'>;
  /** cleanup.policy includes compact: records must have keys. */
  compacted: boolean;
  compressionType: 'uncompressed' | 'zstd' | 'lz4' | 'snappy' | 'gzip' | 'producer';
  deleteRetentionMs: number;
  maxCompactionLagMs: number;
  maxMessageBytes: number;
  messageTimestampAfterMaxMs: number;
  messageTimestampBeforeMaxMs: number;
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  minCompactionLagMs: number;
  minInsyncReplicas: number;
  /** -1 = no size limit. */
  retentionBytes: number;
  /** -1 = no time limit. */
  retentionMs: number;
  segmentBytes: number;
  segmentMs: number;
}

const resolvedCache = new WeakMap<object, ResolvedTopicConfig>();

/**
 * Effective configs of a topic. Cached per config object: the metadata cache hands out the same
 * record until the topic changes, so Produce pays for this once per topic version.
 */
export function resolveTopicConfig(topic: Pick<TopicRecord, 'config'>): ResolvedTopicConfig {
  const hit = resolvedCache.get(topic.config);
  if (hit !== undefined) return hit;
  const str = (name: string) => topicConfigValue(topic, name);
  const num = (name: string) => Number(str(name));
  const cleanupPolicy = str('cleanup.policy').split(',').filter((p) => p !== '') as Array<'compact' | 'delete'>;
  const resolved: ResolvedTopicConfig = {
    cleanupPolicy,
    compacted: cleanupPolicy.includes('compact'),
    compressionType: str('compression.type') as ResolvedTopicConfig['compressionType'],
    deleteRetentionMs: num('delete.retention.ms'),
    maxCompactionLagMs: num('max.compaction.lag.ms'),
    maxMessageBytes: num('max.message.bytes'),
    messageTimestampAfterMaxMs: num(str('message.timestamp.after.max.ms') === LONG_MAX ? 'message.timestamp.difference.max.ms' : 'message.timestamp.after.max.ms'),
    messageTimestampBeforeMaxMs: num(str('message.timestamp.before.max.ms') === LONG_MAX ? 'message.timestamp.difference.max.ms' : 'message.timestamp.before.max.ms'),
    messageTimestampType: str('message.timestamp.type') as ResolvedTopicConfig['messageTimestampType'],
    minCompactionLagMs: num('min.compaction.lag.ms'),
    minInsyncReplicas: num('min.insync.replicas'),
    retentionBytes: num('retention.bytes'),
    retentionMs: num('retention.ms'),
    segmentBytes: num('segment.bytes'),
    segmentMs: num('segment.ms'),
  };
  resolvedCache.set(topic.config, resolved);
  return resolved;
}

// ---------------------------------------------------------------------------------------------
// Broker configs (DescribeConfigs on a BROKER resource): Kafka's names for our settings, then the
// broker-level defaults of every topic config. All read-only: settings are fixed at start.

export interface BrokerConfigEntry {
  name: string;
  value: string | null;
  type: ConfigTypeName;
  source: ConfigSourceValue;
  doc: string;
}

/** Set from a flag or the environment (differs from the table's default), or left at the default. */
function sourceOf(config: Config, ...settings: SettingName[]): ConfigSourceValue {
  return settings.some((s) => config[s] !== SETTINGS[s].default) ? ConfigSource.STATIC_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG;
}

export function brokerConfigEntries(broker: Pick<BrokerContext, 'config' | 'nodeId'>): BrokerConfigEntry[] {
  const c = broker.config;
  const e = (name: string, value: string | number | boolean | null, type: ConfigTypeName, source: ConfigSourceValue, doc: string): BrokerConfigEntry => ({
    name,
    value: value === null ? null : String(value),
    type,
    source,
    doc,
  });
  const DEFAULT = ConfigSource.DEFAULT_CONFIG;
  const entries: BrokerConfigEntry[] = [
    e('advertised.listeners', `PLAINTEXT://${c.advertisedHost}:${c.advertisedPort}`, 'STRING', sourceOf(c, 'advertisedHost', 'advertisedPort'), 'Address clients are told to connect to.'),
    e('auto.create.topics.enable', c.autoCreateTopics, 'BOOLEAN', sourceOf(c, 'autoCreateTopics'), 'Create unknown topics on Metadata and Produce.'),
    e('broker.id', broker.nodeId, 'INT', sourceOf(c, 'nodeId'), 'Node id of this agent.'),
    e('broker.rack', c.rack === '' ? null : c.rack, 'STRING', sourceOf(c, 'rack'), 'Rack of this agent.'),
    e('connections.max.idle.ms', c.connectionsMaxIdleMs, 'LONG', sourceOf(c, 'connectionsMaxIdleMs'), 'Idle connections are closed after this long.'),
    e('default.replication.factor', 1, 'INT', DEFAULT, 'Replication factor of auto-created topics; durability comes from the object store.'),
    e('delete.topic.enable', true, 'BOOLEAN', DEFAULT, 'Topics can be deleted.'),
    e('group.initial.rebalance.delay.ms', c.groupInitialRebalanceDelayMs, 'INT', sourceOf(c, 'groupInitialRebalanceDelayMs'), 'Wait for more members before the first rebalance of a group.'),
    e('group.max.session.timeout.ms', c.groupMaxSessionTimeoutMs, 'INT', sourceOf(c, 'groupMaxSessionTimeoutMs'), 'Largest session timeout a member may ask for.'),
    e('group.min.session.timeout.ms', c.groupMinSessionTimeoutMs, 'INT', sourceOf(c, 'groupMinSessionTimeoutMs'), 'Smallest session timeout a member may ask for.'),
    e('listeners', `PLAINTEXT://${c.host}:${c.port}`, 'STRING', sourceOf(c, 'host', 'port'), 'Address the Kafka listener binds to.'),
    e('fetch.max.bytes', c.fetchMaxBytes, 'INT', sourceOf(c, 'fetchMaxBytes'), 'Largest Fetch response, still at least one batch.'),
    e('max.connections', c.maxConnections, 'INT', sourceOf(c, 'maxConnections'), 'Concurrent client connections.'),
    e('max.connections.per.ip', c.maxConnectionsPerIp, 'INT', sourceOf(c, 'maxConnectionsPerIp'), 'Concurrent connections from one IP address.'),
    e('max.connections.per.ip.overrides', c.maxConnectionsPerIpOverrides, 'STRING', sourceOf(c, 'maxConnectionsPerIpOverrides'), 'Per-address exceptions to max.connections.per.ip (ip:count,ip:count).'),
    e('node.id', broker.nodeId, 'INT', sourceOf(c, 'nodeId'), 'Node id of this agent.'),
    e('num.partitions', c.numPartitions, 'INT', sourceOf(c, 'numPartitions'), 'Partitions of auto-created topics and of CreateTopics with -1.'),
    e('queued.max.request.bytes', c.queuedMaxRequestBytes, 'LONG', sourceOf(c, 'queuedMaxRequestBytes'), 'Memory for requests being received or handled, for the whole agent.'),
    e('socket.request.max.bytes', c.maxFrameBytes, 'INT', sourceOf(c, 'maxFrameBytes'), 'Largest request accepted.'),
  ];
  const seen = new Set(entries.map((x) => x.name));
  for (const d of TOPIC_CONFIGS.values()) {
    if (d.brokerName === null || seen.has(d.brokerName)) continue;
    seen.add(d.brokerName);
    if (d.derivedFrom === undefined) {
      entries.push(e(d.brokerName, d.default, d.type, DEFAULT, `Default of the topic config ${d.name}.`));
      continue;
    }
    entries.push(e(d.brokerName, null, d.type, DEFAULT, `Default of the topic config ${d.name}; unset: ${d.derivedFrom.name} applies.`));
    const unit = d.derivedFrom.name.endsWith('.hours') ? 'INT' : d.type;
    entries.push(e(d.derivedFrom.name, d.derivedFrom.value, unit, DEFAULT, `Default of the topic config ${d.name} when ${d.brokerName} is unset.`));
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Auto-creation (Metadata, Produce)

type AutoCreateBroker = Pick<BrokerContext, 'config' | 'metadata'> & { readonly log?: BrokerContext['log'] };

/** In-flight auto-creations per store, so concurrent requests for one new topic make one insert. */
const inFlight = new WeakMap<object, Map<string, Promise<TopicRecord>>>();

/**
 * Creates `name` with the default partition count and no overrides. Another agent or request may
 * create it at the same time: TOPIC_ALREADY_EXISTS is answered by reading the topic back. Throws
 * INVALID_TOPIC_EXCEPTION for an illegal name. The caller checks config.autoCreateTopics.
 */
export function autoCreateTopic(broker: AutoCreateBroker, name: string): Promise<TopicRecord> {
  const problem = topicNameProblem(name);
  if (problem !== undefined) return Promise.reject(new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem));
  let pending = inFlight.get(broker.metadata);
  if (pending === undefined) inFlight.set(broker.metadata, (pending = new Map()));
  const running = pending.get(name);
  if (running !== undefined) return running;
  const p = (async () => {
    try {
      const created = await broker.metadata.createTopic({ name, partitionCount: broker.config.numPartitions, retentionMs: null, config: {} });
      broker.log?.info({ topic: name, partitions: created.partitionCount }, 'auto-created topic');
      return created;
    } catch (err) {
      if (!(err instanceof KafkaError) || err.code !== ErrorCode.TOPIC_ALREADY_EXISTS) throw err;
      const existing = await broker.metadata.getTopic(name);
      // Created and deleted again in between: report it as still being created.
      if (existing === undefined) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `topic ${name} is being created`);
      return existing;
    }
  })().finally(() => pending!.delete(name));
  pending.set(name, p);
  return p;
}

/**
 * The topic, auto-creating it when it is unknown, `allowAutoCreate` (the request's wish) and
 * auto.create.topics.enable allow it; undefined when it does not exist and may not be created.
 */
export async function getOrAutoCreateTopic(broker: AutoCreateBroker, name: string, allowAutoCreate = true): Promise<TopicRecord | undefined> {
  const topic = await broker.metadata.getTopic(name);
  if (topic !== undefined || !allowAutoCreate || !broker.config.autoCreateTopics) return topic;
  return autoCreateTopic(broker, name);
}

// ---------------------------------------------------------------------------------------------
// Config changes (AlterConfigs, IncrementalAlterConfigs)

/** Kafka's rule for a BROKER resource name: '' (the cluster-wide default) or this node's id. */
export function brokerResourceProblem(name: string, nodeId: number): string | undefined {
  if (name === '') return undefined;
  if (!/^-?\d+$/.test(name)) return `Broker id must be an integer, but it is: ${name}`;
  if (Number(name) !== nodeId) return `Unexpected broker id, expected ${nodeId} or empty string, but received ${name}`;
  return undefined;
}

/**
 * Splits the names of a change to a BROKER resource: `readOnly`, the broker configs we report
 * (DescribeConfigs), which our flags and environment fix at start; `unknown`, every other name. Kafka
 * validates only the broker configs it knows and keeps any other name as a dynamic config that
 * nothing reads (kafkajs's alterConfigs spec sets `cleanup.policy` on a broker): we accept those too,
 * and they change nothing here either.
 */
export function brokerConfigChange(broker: Pick<BrokerContext, 'config' | 'nodeId'>, names: readonly string[]): { readOnly: string[]; unknown: string[] } {
  const known = new Set(brokerConfigEntries(broker).map((e) => e.name));
  return { readOnly: names.filter((n) => known.has(n)), unknown: names.filter((n) => !known.has(n)) };
}

/** Broker settings come from flags and the environment at start; nothing changes them at run time. */
export function brokerConfigsReadOnly(names: readonly string[]): KafkaError {
  return new KafkaError(
    ErrorCode.INVALID_REQUEST,
    `Cannot update these configs dynamically: ${names.join(', ')}. Broker configs are read-only here; set them with flags or environment variables.`,
  );
}

/**
 * Replaces a topic's overrides with `compute(current overrides)` after validating the result; with
 * validateOnly, only validates. Throws KafkaError (INVALID_REQUEST for the empty "default topic"
 * name, INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG). Two concurrent changes
 * of one topic: the later write wins whole.
 */
export async function alterTopicConfig(
  broker: Pick<BrokerContext, 'metadata'> & { readonly log?: BrokerContext['log'] },
  name: string,
  compute: (current: Readonly<Record<string, string>>) => Record<string, string | null>,
  validateOnly: boolean,
): Promise<Record<string, string>> {
  if (name === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.');
  assertTopicName(name);
  const topic = await broker.metadata.getTopic(name);
  if (topic === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`);
  const next = validateTopicConfig(compute(topic.config));
  if (!validateOnly) {
    await broker.metadata.updateTopicConfig(name, next, retentionMsColumn(next));
    broker.log?.info({ topic: name, config: next }, 'altered topic config');
  }
  return next;
}

/**
 * What AlterConfigs and IncrementalAlterConfigs share once a resource's own checks passed: a topic
 * gets the computed config set, the broker configs we report are read-only (other names are accepted
 * and unused, see brokerConfigChange), other resource types are refused.
 * Throws KafkaError.
 */
export async function alterConfigResource(
  broker: Pick<BrokerContext, 'metadata' | 'nodeId' | 'config'> & { readonly log?: BrokerContext['log'] },
  resource: { resourceType: number; resourceName: string },
  configNames: readonly string[],
  compute: (current: Readonly<Record<string, string>>) => Record<string, string | null>,
  validateOnly: boolean,
): Promise<void> {
  switch (resource.resourceType) {
    case ConfigResourceType.TOPIC:
      await alterTopicConfig(broker, resource.resourceName, compute, validateOnly);
      return;
    case ConfigResourceType.BROKER: {
      const problem = brokerResourceProblem(resource.resourceName, broker.nodeId);
      if (problem !== undefined) throw new KafkaError(ErrorCode.INVALID_REQUEST, problem);
      const { readOnly, unknown } = brokerConfigChange(broker, configNames);
      if (readOnly.length > 0) throw brokerConfigsReadOnly(readOnly);
      if (unknown.length > 0 && !validateOnly) {
        broker.log?.info({ broker: resource.resourceName, configs: unknown }, 'accepted broker configs this agent does not use (as Kafka keeps unknown broker configs); nothing changes');
      }
      return;
    }
    default:
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown resource type ${resource.resourceType}`);
  }
}

/** Names that appear more than once. */
export function duplicates(names: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const n of names) (seen.has(n) ? dup : seen).add(n);
  return dup;
}

export function resourceKey(r: { resourceType: number; resourceName: string }): string {
  return `${r.resourceType}:${r.resourceName}`;
}

/** Resources named twice in one request: Kafka answers every occurrence INVALID_REQUEST and changes none. */
export function duplicateResources(resources: ReadonlyArray<{ resourceType: number; resourceName: string }>): Set<string> {
  return duplicates(resources.map(resourceKey));
}
