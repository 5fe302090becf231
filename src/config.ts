// Every setting of the agent in one declarative table: its flag, its environment variable, its
// default and how it is parsed. The README's settings table is rendered from this table
// (`node dist/src/cli.js settings --markdown`), and a bad value is rejected at start with a message
// naming the setting.

export type SettingType = 'int' | 'decimal' | 'string' | 'bool' | 'url';

export interface SettingSpec<T> {
  /** Flag name without the leading dashes, e.g. 'port'. */
  flag: string;
  /** Environment variable. */
  env: string;
  type: SettingType;
  default: T;
  /** Shown in the README when the default depends on other settings. */
  defaultText?: string;
  min?: number;
  max?: number;
  describe: string;
}

import { parseConnectionOverrides, UNLIMITED_CONNECTIONS } from './network/connection-quotas.js';
import { largestFrameFor } from './network/memory-pool.js';
import { resolveListeners, usesTls } from './network/listeners.js';
import { isSaslMechanism, type SaslMechanism } from './security/sasl/mechanisms.js';

/** sasl.enabled.mechanisms as a list (at least one, each known). */
export function saslMechanismsOf(text: string): SaslMechanism[] {
  const list = text.split(',').map((m) => m.trim().toUpperCase()).filter((m) => m !== '');
  if (list.length === 0) throw new Error('at least one mechanism is needed');
  for (const m of list) if (!isSaslMechanism(m)) throw new Error(`"${m}" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`);
  return [...new Set(list)] as SaslMechanism[];
}

const MiB = 1024 * 1024;

function int(flag: string, env: string, def: number, describe: string, range: { min?: number; max?: number; defaultText?: string } = {}): SettingSpec<number> {
  return { flag, env, type: 'int', default: def, describe, ...range };
}
function decimal(flag: string, env: string, def: number, describe: string, range: { min?: number; max?: number } = {}): SettingSpec<number> {
  return { flag, env, type: 'decimal', default: def, describe, ...range };
}
function str(flag: string, env: string, def: string, describe: string, defaultText?: string): SettingSpec<string> {
  return { flag, env, type: 'string', default: def, describe, defaultText };
}
function bool(flag: string, env: string, def: boolean, describe: string): SettingSpec<boolean> {
  return { flag, env, type: 'bool', default: def, describe };
}

/** -1 / '' mean "derived from other settings" (see defaultText). */
export const SETTINGS = {
  host: str('host', 'STREAMHOUSE_HOST', '0.0.0.0', 'Address the Kafka listener binds to.'),
  port: int('port', 'STREAMHOUSE_PORT', 9092, 'Kafka listener port.', { min: 0, max: 65535 }),
  advertisedHost: str('advertised-host', 'STREAMHOUSE_ADVERTISED_HOST', '', 'Host name clients are told to connect to.', '`localhost` when host is 0.0.0.0, else host'),
  advertisedPort: int('advertised-port', 'STREAMHOUSE_ADVERTISED_PORT', -1, 'Port clients are told to connect to.', { min: -1, max: 65535, defaultText: 'port' }),
  listeners: str('listeners', 'STREAMHOUSE_LISTENERS', '', 'Kafka listeners, Kafka\'s syntax: `NAME://host:port,...` (e.g. `PLAINTEXT://:9092,SASL_SSL://:9094`); a name is a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) or mapped to one by listener-security-protocol-map; an empty host binds every interface (listeners).', 'one PLAINTEXT listener on host:port'),
  advertisedListeners: str('advertised-listeners', 'STREAMHOUSE_ADVERTISED_LISTENERS', '', 'Per listener name, the address clients are told (Metadata, FindCoordinator, DescribeCluster answer each client with the addresses of the listener it connected to): `NAME://host:port,...` (advertised.listeners).', 'each listener\'s host (`localhost` when it binds every interface) and port'),
  listenerSecurityProtocolMap: str('listener-security-protocol-map', 'STREAMHOUSE_LISTENER_SECURITY_PROTOCOL_MAP', '', 'Security protocol of listener names that are not protocol names: `NAME:PROTOCOL,...` (listener.security.protocol.map).'),
  sslCertFile: str('ssl-cert-file', 'STREAMHOUSE_SSL_CERT_FILE', '', 'PEM certificate (chain) of SSL and SASL_SSL listeners. Polled: a changed file is loaded for new connections without a restart.'),
  sslKeyFile: str('ssl-key-file', 'STREAMHOUSE_SSL_KEY_FILE', '', 'PEM private key of ssl-cert-file (unencrypted).'),
  sslCaFile: str('ssl-ca-file', 'STREAMHOUSE_SSL_CA_FILE', '', 'PEM CA bundle that client certificates must chain to (needed by ssl-client-auth required or requested).'),
  sslClientAuth: str('ssl-client-auth', 'STREAMHOUSE_SSL_CLIENT_AUTH', 'none', 'Client certificates on SSL listeners: `required`, `requested` (verified when presented) or `none`. A verified certificate\'s subject is the principal, `User:CN=...,OU=...` (ssl.client.auth); SASL replaces it on SASL_SSL.'),
  sslReloadIntervalMs: int('ssl-reload-interval-ms', 'STREAMHOUSE_SSL_RELOAD_INTERVAL_MS', 10_000, 'How often the TLS files are checked for changes.', { min: 100 }),
  saslEnabledMechanisms: str('sasl-enabled-mechanisms', 'STREAMHOUSE_SASL_ENABLED_MECHANISMS', 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN', 'SASL mechanisms of SASL listeners, among PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (sasl.enabled.mechanisms). Users: `streamhouse users create`.'),
  connectionsMaxReauthMs: int('connections-max-reauth-ms', 'STREAMHOUSE_CONNECTIONS_MAX_REAUTH_MS', 0, 'SASL session lifetime (KIP-368): clients re-authenticate within it, and the first request after it that does not re-authenticate closes the connection. 0: sessions do not expire (connections.max.reauth.ms).', { min: 0, max: 2 ** 31 - 1 }),
  connectionFailedAuthenticationDelayMs: int('connection-failed-authentication-delay-ms', 'STREAMHOUSE_CONNECTION_FAILED_AUTHENTICATION_DELAY_MS', 100, 'A failed authentication is answered (and its connection closed) only after this, to slow down password guessing; at most 1,000 failures wait at once (connection.failed.authentication.delay.ms).', { min: 0, max: 10_000 }),
  nodeId: int('node-id', 'STREAMHOUSE_NODE_ID', -1, 'Kafka broker id of this agent.', { min: -1, max: 2 ** 31 - 1, defaultText: 'assigned once per agent id, stable across restarts' }),
  agentId: str('agent-id', 'STREAMHOUSE_AGENT_ID', '', 'Identity of this agent in the agents and partition_leases tables; unique per live agent (a second agent starting with the id of a live one is refused).', 'a random id created once in the data directory (`<data-dir>/agent-id`), stable across restarts'),
  rack: str('rack', 'STREAMHOUSE_RACK', '', 'Rack reported in Metadata (empty = none).'),
  clusterId: str('cluster-id', 'STREAMHOUSE_CLUSTER_ID', 'c3RyZWFtaG91c2UtY2x1cw', 'Cluster id reported to clients.'),
  dataDir: str('data-dir', 'STREAMHOUSE_DATA_DIR', './data', 'Data directory: PGlite database, local object store, the lock file and the agent id.'),
  databaseUrl: { flag: 'database-url', env: 'DATABASE_URL', type: 'url', default: '', describe: 'PostgreSQL URL (sslmode honoured). Empty = embedded PGlite under the data directory.' } as SettingSpec<string>,
  dbPoolMax: int('db-pool-max', 'STREAMHOUSE_DB_POOL_MAX', 20, 'PostgreSQL pool: max connections.', { min: 1, max: 10000 }),
  dbPoolMin: int('db-pool-min', 'STREAMHOUSE_DB_POOL_MIN', 0, 'PostgreSQL pool: connections kept open.', { min: 0, max: 10000 }),
  dbAcquireTimeoutMs: int('db-acquire-timeout-ms', 'STREAMHOUSE_DB_ACQUIRE_TIMEOUT_MS', 30_000, 'PostgreSQL pool: wait for a free connection.', { min: 1 }),
  dbIdleTimeoutMs: int('db-idle-timeout-ms', 'STREAMHOUSE_DB_IDLE_TIMEOUT_MS', 600_000, 'PostgreSQL pool: close idle connections after.', { min: 1 }),
  dbStatementTimeoutMs: int('db-statement-timeout-ms', 'STREAMHOUSE_DB_STATEMENT_TIMEOUT_MS', 15_000, 'PostgreSQL: statement_timeout of every statement (the server cancels it and rolls it back); the client gives up 5 s later and the server ends a transaction idle that long. 0: none. PGlite runs in-process with one session, where no statement waits on another, and does not enforce it.', { min: 0, max: 3_600_000 }),
  s3Bucket: str('s3-bucket', 'S3_BUCKET', '', 'S3 bucket for segment objects. Empty = local directory under the data directory.'),
  s3Endpoint: str('s3-endpoint', 'S3_ENDPOINT', '', 'S3 endpoint URL (MinIO, other S3-compatible servers). Empty = AWS.'),
  s3Region: str('s3-region', 'S3_REGION', 'us-east-1', 'S3 region.'),
  s3ForcePathStyle: bool('s3-force-path-style', 'S3_FORCE_PATH_STYLE', false, 'Use path-style S3 URLs (needed by most S3-compatible servers).'),
  s3Prefix: str('s3-prefix', 'S3_PREFIX', '', 'Key prefix for every object in the bucket.'),
  flushMs: int('flush-ms', 'STREAMHOUSE_FLUSH_MS', -1, 'Flush cycle interval.', { min: -1, max: 60_000, defaultText: '5 (local directory), 100 (S3)' }),
  flushBytes: int('flush-bytes', 'STREAMHOUSE_FLUSH_BYTES', 8 * MiB, 'Buffered bytes that trigger a flush before flush-ms.', { min: 1024 }),
  maxBufferedBytes: int('max-buffered-bytes', 'STREAMHOUSE_MAX_BUFFERED_BYTES', 64 * MiB, 'Produce backpressure: new produce requests wait above this.', { min: 1024 }),
  tailCacheBytes: int('tail-cache-bytes', 'STREAMHOUSE_TAIL_CACHE_BYTES', 64 * MiB, 'Recently committed data kept in memory for tail consumers.', { min: 0 }),
  blockCacheBytes: int('block-cache-bytes', 'STREAMHOUSE_BLOCK_CACHE_BYTES', 64 * MiB, 'Decompressed segment blocks kept for historical reads.', { min: 0 }),
  maxFrameBytes: int('max-frame-bytes', 'STREAMHOUSE_MAX_FRAME_BYTES', 100 * MiB, 'Largest request frame accepted (socket.request.max.bytes).', { min: 1024, max: 2 ** 31 - 1 }),
  queuedMaxRequestBytes: int('queued-max-request-bytes', 'STREAMHOUSE_QUEUED_MAX_REQUEST_BYTES', 256 * MiB, 'Memory for requests being received or handled, partial frames included, for the whole agent: a frame\'s size is reserved when its size prefix arrives and released when it is answered; a connection whose frame does not fit is not read until memory is released (queued.max.request.bytes). Frames above 1 MiB share three quarters of it, the rest is kept for smaller requests; at least 4/3 of max-frame-bytes.', { min: 1024, max: 2 ** 53 - 1 }),
  requestReceiveTimeoutMs: int('request-receive-timeout-ms', 'STREAMHOUSE_REQUEST_RECEIVE_TIMEOUT_MS', 30_000, 'Once the first byte of a request arrives, the whole request must arrive within this, else the connection is closed (waiting for request memory included).', { min: 1 }),
  maxConnections: int('max-connections', 'STREAMHOUSE_MAX_CONNECTIONS', 10_000, 'Concurrent client connections (max.connections).', { min: 1 }),
  maxConnectionsPerIp: int('max-connections-per-ip', 'STREAMHOUSE_MAX_CONNECTIONS_PER_IP', UNLIMITED_CONNECTIONS, 'Concurrent connections from one IP address; more are closed at accept (max.connections.per.ip).', { min: 0, max: UNLIMITED_CONNECTIONS, defaultText: `${UNLIMITED_CONNECTIONS} (no limit, as Kafka)` }),
  maxConnectionsPerIpOverrides: str('max-connections-per-ip-overrides', 'STREAMHOUSE_MAX_CONNECTIONS_PER_IP_OVERRIDES', '', 'Per-address exceptions to max-connections-per-ip: `ip:count,ip:count` (max.connections.per.ip.overrides; IP addresses, not host names).'),
  connectionsMaxIdleMs: int('connections-max-idle-ms', 'STREAMHOUSE_CONNECTIONS_MAX_IDLE_MS', 600_000, 'Close connections with no complete request or response for longer (connections.max.idle.ms); bytes of an incomplete request do not count.', { min: 1 }),
  maxDecompressedBytes: int('max-decompressed-bytes', 'STREAMHOUSE_MAX_DECOMPRESSED_BYTES', 64 * MiB, 'Most bytes one compressed record batch may decompress to (Produce validation, ListOffsets by timestamp). Produce: MESSAGE_TOO_LARGE above it.', { min: 1024, max: 2 ** 31 - 1 }),
  maxInflightBytes: int('max-inflight-bytes', 'STREAMHOUSE_MAX_INFLIGHT_BYTES', 64 * MiB, 'Per connection: stop reading while unanswered requests hold more bytes.', { min: 1024 }),
  fetchMaxBytes: int('fetch-max-bytes', 'STREAMHOUSE_FETCH_MAX_BYTES', 57_671_680, 'Largest Fetch response: the smaller of this and the request\'s max_bytes, still at least one batch (fetch.max.bytes, 55 MiB).', { min: 1024, max: 2 ** 31 - 1 }),
  autoCreateTopics: bool('auto-create-topics', 'STREAMHOUSE_AUTO_CREATE_TOPICS', true, 'Create unknown topics when a Metadata request names them (auto.create.topics.enable).'),
  numPartitions: int('num-partitions', 'STREAMHOUSE_NUM_PARTITIONS', 1, 'Partitions of auto-created topics and of CreateTopics with -1.', { min: 1, max: 100_000 }),
  leaseTtlMs: int('lease-ttl-ms', 'STREAMHOUSE_LEASE_TTL_MS', 10_000, 'Partition lease duration (database clock). A crashed agent\'s partitions move within it (plus one placement retry); an agent that cannot renew stops serving a tenth of it before its leases can expire (self-fencing).', { min: 1000 }),
  leaseRenewIntervalMs: int('lease-renew-interval-ms', 'STREAMHOUSE_LEASE_RENEW_INTERVAL_MS', -1, 'How often an agent renews all its partition leases (one statement). Renewal interval plus a tenth of lease-ttl-ms must stay below lease-ttl-ms.', { min: -1, defaultText: 'a quarter of lease-ttl-ms (2500)' }),
  placementIntervalMs: int('placement-interval-ms', 'STREAMHOUSE_PLACEMENT_INTERVAL_MS', 1000, 'How often an agent recomputes which partitions are intended for it (rendezvous hashing over the live agents) and takes or hands off leases; also at once when the live set or the topics change, and every 200 ms while part of its share is still held elsewhere.', { min: 50 }),
  logRetentionCheckIntervalMs: int('log-retention-check-interval-ms', 'STREAMHOUSE_LOG_RETENTION_CHECK_INTERVAL_MS', 300_000, 'How often each agent applies retention.ms / retention.bytes to the partitions it leads (log.retention.check.interval.ms).', { min: 100 }),
  producerIdExpirationMs: int('producer-id-expiration-ms', 'STREAMHOUSE_PRODUCER_ID_EXPIRATION_MS', 86_400_000, 'Idempotent producers idle this long are forgotten by partition leaders (producer.id.expiration.ms).', { min: 1000 }),
  coordinatorShards: int('coordinator-shards', 'STREAMHOUSE_COORDINATOR_SHARDS', 50, 'Coordinator shards: a group belongs to shard abs(hashCode(group id)) % this (as Kafka\'s offsets.topic.num.partitions), each coordinated by the agent holding its lease (lease-ttl-ms, renewed every third of it, at most every second). The same on every agent sharing a database: the first agent records it there and an agent started with another value is refused.', { min: 1, max: 10_000 }),
  agentHeartbeatMs: int('agent-heartbeat-ms', 'STREAMHOUSE_AGENT_HEARTBEAT_MS', 2_000, 'Agent heartbeat interval; an agent is live for 3 intervals after its last heartbeat (database clock). Three intervals must not exceed lease-ttl-ms, else a crashed agent\'s partitions wait for its liveness to lapse.', { min: 100 }),
  groupInitialRebalanceDelayMs: int('group-initial-rebalance-delay-ms', 'STREAMHOUSE_GROUP_INITIAL_REBALANCE_DELAY_MS', 3_000, 'group.initial.rebalance.delay.ms', { min: 0 }),
  groupMinSessionTimeoutMs: int('group-min-session-timeout-ms', 'STREAMHOUSE_GROUP_MIN_SESSION_TIMEOUT_MS', 6_000, 'group.min.session.timeout.ms', { min: 1 }),
  groupMaxSessionTimeoutMs: int('group-max-session-timeout-ms', 'STREAMHOUSE_GROUP_MAX_SESSION_TIMEOUT_MS', 1_800_000, 'group.max.session.timeout.ms', { min: 1 }),
  offsetMetadataMaxBytes: int('offset-metadata-max-bytes', 'STREAMHOUSE_OFFSET_METADATA_MAX_BYTES', 4096, 'Longest metadata an OffsetCommit may attach to an offset, counted as Kafka does (string length, UTF-16 units); longer is answered OFFSET_METADATA_TOO_LARGE for that partition (offset.metadata.max.bytes).', { min: 0, max: 2 ** 31 - 1 }),
  offsetsRetentionMs: int('offsets-retention-ms', 'STREAMHOUSE_OFFSETS_RETENTION_MS', 604_800_000, 'Committed offsets older than this are deleted once their group has been Empty as long, or when no member subscribes to their topic (offsets.retention.minutes, 7 days).', { min: 1000 }),
  offsetsRetentionCheckIntervalMs: int('offsets-retention-check-interval-ms', 'STREAMHOUSE_OFFSETS_RETENTION_CHECK_INTERVAL_MS', 600_000, 'How often each agent expires offsets of the groups it coordinates (offsets.retention.check.interval.ms).', { min: 100 }),
  objectPendingTimeoutMs: int('object-pending-timeout-ms', 'STREAMHOUSE_OBJECT_PENDING_TIMEOUT_MS', 900_000, 'Object registry: a segment object registered for upload and not referenced by a commit within this (database clock) is deleted; a commit naming it later is refused. Must exceed the longest upload plus commit (retries included).', { min: 1000 }),
  objectDeleteGraceMs: int('object-delete-grace-ms', 'STREAMHOUSE_OBJECT_DELETE_GRACE_MS', 600_000, 'Object registry: an object no segment row references any more (merged, compacted, retention) is deleted this long after its last row went (database clock), so reads in flight finish.', { min: 0 }),
  objectCleanupIntervalMs: int('object-cleanup-interval-ms', 'STREAMHOUSE_OBJECT_CLEANUP_INTERVAL_MS', 60_000, 'How often each agent runs a bounded pass of the object registry cleaner (batches of 200 claimed by one statement each).', { min: 100 }),
  mergeTargetBytes: int('merge-target-bytes', 'STREAMHOUSE_MERGE_TARGET_BYTES', 64 * MiB, 'Merging: the leader of a partition rewrites runs of its small segments (chunks of the multi-partition flush objects) into one per-partition object of about this size.', { min: 64 * 1024, max: 1024 * MiB }),
  mergeMaxAgeMs: int('merge-max-age-ms', 'STREAMHOUSE_MERGE_MAX_AGE_MS', 600_000, 'Merging: segments older than this (database clock) are merged even when their run is below merge-target-bytes; a partition keeps at most about this window of unmerged segments.', { min: 1000 }),
  mergeBytesPerSecond: int('merge-bytes-per-second', 'STREAMHOUSE_MERGE_BYTES_PER_SECOND', 32 * MiB, 'Merging: bytes per second at most, per agent (each row read counts its batch bytes, the output counts its batch bytes encoded and its object bytes written; one partition at a time, one block compressed at a time, a turn of the event loop between rows), so merging yields to produce and fetch.', { min: 64 * 1024 }),
  mergeIntervalMs: int('merge-interval-ms', 'STREAMHOUSE_MERGE_INTERVAL_MS', 30_000, 'How often each agent looks for segments to merge in the partitions it leads. 0: no merging.', { min: 0 }),
  embeddedVacuumIntervalMs: int('embedded-vacuum-interval-ms', 'STREAMHOUSE_EMBEDDED_VACUUM_INTERVAL_MS', 60_000, 'Embedded database only (no database-url): how often the agent vacuums the tables past autovacuum\'s default thresholds (dead rows, inserts, transaction id age; PGlite has no autovacuum), one table per statement; the first pass after start covers every table holding data. PostgreSQL runs its own autovacuum. 0: never.', { min: 0 }),
  compactionIntervalMs: int('compaction-interval-ms', 'STREAMHOUSE_COMPACTION_INTERVAL_MS', 30_000, 'How often each agent cleans the partitions it leads of topics with cleanup.policy=compact (newest record per key; delete.retention.ms, min/max.compaction.lag.ms, min.cleanable.dirty.ratio, segment.ms/segment.bytes as Kafka). 0: no compaction.', { min: 0 }),
  authorizer: bool('authorizer', 'STREAMHOUSE_AUTHORIZER', false, 'Check every request against the ACLs kept in the metadata database (Kafka\'s StandardAuthorizer semantics: deny wins, super users pass). Off: every request is allowed and CreateAcls/DescribeAcls/DeleteAcls answer SECURITY_DISABLED, as Kafka without authorizer.class.name.'),
  superUsers: str('super-users', 'STREAMHOUSE_SUPER_USERS', '', 'Principals allowed everything whatever the ACLs say, separated by semicolons: `User:admin;User:ops` (super.users).'),
  allowEveryoneIfNoAclFound: bool('allow-everyone-if-no-acl-found', 'STREAMHOUSE_ALLOW_EVERYONE_IF_NO_ACL_FOUND', false, 'With the authorizer on: a resource that no ACL names (no literal, wildcard or matching prefixed ACL of any principal) is open to everyone (allow.everyone.if.no.acl.found).'),
  logLevel: str('log-level', 'STREAMHOUSE_LOG_LEVEL', 'info', 'Log level: fatal, error, warn, info, debug, trace, silent.'),
  poisonReleasedFrames: bool('poison-released-frames', 'STREAMHOUSE_POISON_RELEASED_FRAMES', false, 'Debugging: overwrite Produce request memory once released, so a use after release fails loudly (the tests turn it on).'),
  httpPort: int('http-port', 'STREAMHOUSE_HTTP_PORT', 9644, 'HTTP port of /metrics (Prometheus), /healthz, /readyz and the web console (/console). 0: no HTTP endpoint, no console, and no metrics are collected.', { min: 0, max: 65535 }),
  httpHost: str('http-host', 'STREAMHOUSE_HTTP_HOST', '', 'Address the HTTP endpoint binds to.', '`127.0.0.1` on the embedded default (no database-url), else host'),
  pricePutPer1000: decimal('price-put-per-1000', 'STREAMHOUSE_PRICE_PUT_PER_1000', 0.005, 'Object store price in USD of 1,000 PUT (and LIST) requests, for the estimated cost metrics (S3 Standard, us-east-1).', { min: 0 }),
  priceGetPer1000: decimal('price-get-per-1000', 'STREAMHOUSE_PRICE_GET_PER_1000', 0.0004, 'Object store price in USD of 1,000 GET requests, for the estimated cost metrics (S3 Standard, us-east-1).', { min: 0 }),
  priceStorageGbMonth: decimal('price-storage-gb-month', 'STREAMHOUSE_PRICE_STORAGE_GB_MONTH', 0.023, 'Object store price in USD of storing 1 GB for a month, for the estimated cost metrics (S3 Standard, us-east-1, first 50 TB).', { min: 0 }),
  consoleSampleMs: int('console-sample-ms', 'STREAMHOUSE_CONSOLE_SAMPLE_MS', 10_000, 'How often the web console samples throughput and consumer lag for its charts (kept for 360 samples: 1 hour at the default; at most 1,000 groups). 0: no sampling.', { min: 0 }),
  statsIntervalMs: int('stats-interval-ms', 'STREAMHOUSE_STATS_INTERVAL_MS', 10_000, 'Interval of the "writer stats" line logged at debug level (0: never).', { min: 0 }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type Config = { [K in SettingName]: (typeof SETTINGS)[K]['default'] extends number ? number : (typeof SETTINGS)[K]['default'] extends boolean ? boolean : string };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function parseValue(name: SettingName, spec: SettingSpec<unknown>, raw: string | number | boolean, source: string): number | string | boolean {
  const where = `setting ${spec.flag} (--${spec.flag} / ${spec.env}) from ${source}`;
  switch (spec.type) {
    case 'int': {
      const s = String(raw).trim();
      if (!/^-?\d+$/.test(s)) throw new ConfigError(`${where}: "${raw}" is not an integer`);
      const n = Number(s);
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${where}: "${raw}" is out of range`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${where}: ${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(`${where}: ${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'decimal': {
      const s = String(raw).trim();
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new ConfigError(`${where}: "${raw}" is not a number`);
      const n = Number(s);
      if (!Number.isFinite(n)) throw new ConfigError(`${where}: "${raw}" is out of range`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${where}: ${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(`${where}: ${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      throw new ConfigError(`${where}: "${raw}" is not a boolean (true/false)`);
    }
    case 'url': {
      const s = String(raw).trim();
      if (s === '') return s;
      try {
        const u = new URL(s);
        if (!['postgres:', 'postgresql:'].includes(u.protocol)) throw new Error('protocol');
      } catch {
        throw new ConfigError(`${where}: not a postgres:// or postgresql:// URL`);
      }
      return s;
    }
    case 'string': {
      const s = String(raw);
      if (name === 'logLevel' && !LOG_LEVELS.has(s)) throw new ConfigError(`${where}: "${s}" is not one of ${[...LOG_LEVELS].join(', ')}`);
      return s;
    }
  }
}

/**
 * Resolves every setting: command-line flags (already parsed, keyed by setting name) win over
 * environment variables, which win over defaults. Derived defaults are filled in afterwards.
 */
export function resolveConfig(flags: Partial<Record<SettingName, string | number | boolean>>, env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, number | string | boolean> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as Array<[SettingName, SettingSpec<unknown>]>) {
    const flag = flags[name];
    const fromEnv = env[spec.env];
    if (flag !== undefined) out[name] = parseValue(name, spec, flag, 'the command line');
    else if (fromEnv !== undefined && fromEnv !== '') out[name] = parseValue(name, spec, fromEnv, 'the environment');
    else out[name] = spec.default as number | string | boolean;
  }
  const cfg = out as Config;
  if (cfg.advertisedHost === '') cfg.advertisedHost = cfg.host === '0.0.0.0' || cfg.host === '::' ? 'localhost' : cfg.host;
  if (cfg.advertisedPort === -1) cfg.advertisedPort = cfg.port;
  // The embedded default is a development setup: its metrics stay on this machine unless asked.
  if (cfg.httpHost === '') cfg.httpHost = cfg.databaseUrl === '' ? '127.0.0.1' : cfg.host;
  // agentId '' = the data directory's own id, read (or created) by the agent once it holds the directory's lock.
  if (cfg.flushMs === -1) cfg.flushMs = cfg.s3Bucket === '' ? 5 : 100;
  if (largestFrameFor(cfg.queuedMaxRequestBytes) < cfg.maxFrameBytes) {
    throw new ConfigError(`setting queued-max-request-bytes (${cfg.queuedMaxRequestBytes}) must be at least 4/3 of max-frame-bytes (${cfg.maxFrameBytes}): a quarter of it is kept for requests up to 1 MiB`);
  }
  try {
    parseConnectionOverrides(cfg.maxConnectionsPerIpOverrides);
  } catch (err) {
    const spec = SETTINGS.maxConnectionsPerIpOverrides;
    throw new ConfigError(`setting ${spec.flag} (--${spec.flag} / ${spec.env}): ${(err as Error).message}`);
  }
  if (cfg.leaseRenewIntervalMs === -1) cfg.leaseRenewIntervalMs = Math.floor(cfg.leaseTtlMs / 4);
  if (cfg.leaseRenewIntervalMs < 100 || cfg.leaseRenewIntervalMs + Math.floor(cfg.leaseTtlMs / 10) >= cfg.leaseTtlMs) {
    throw new ConfigError(`setting lease-renew-interval-ms (${cfg.leaseRenewIntervalMs}) must be at least 100 and, plus a tenth of lease-ttl-ms, below lease-ttl-ms (${cfg.leaseTtlMs})`);
  }
  if (3 * cfg.agentHeartbeatMs > cfg.leaseTtlMs) {
    throw new ConfigError(`setting agent-heartbeat-ms (${cfg.agentHeartbeatMs}): an agent is live for 3 heartbeats, which must not exceed lease-ttl-ms (${cfg.leaseTtlMs})`);
  }
  if (cfg.httpPort !== 0 && cfg.httpPort === cfg.port) {
    throw new ConfigError(`setting http-port (${cfg.httpPort}) must differ from port, the Kafka listener's (0 turns the HTTP endpoint off)`);
  }
  try {
    const listeners = resolveListeners(cfg);
    if (listeners.some((l) => usesTls(l.securityProtocol)) && (cfg.sslCertFile === '' || cfg.sslKeyFile === '')) {
      throw new Error('an SSL or SASL_SSL listener needs ssl-cert-file and ssl-key-file');
    }
    if (cfg.httpPort !== 0 && listeners.some((l) => l.port === cfg.httpPort)) throw new Error(`http-port (${cfg.httpPort}) must differ from every listener's port`);
  } catch (err) {
    throw new ConfigError(`setting listeners (--listeners / STREAMHOUSE_LISTENERS): ${(err as Error).message}`);
  }
  if (!['required', 'requested', 'none'].includes(cfg.sslClientAuth)) throw new ConfigError(`setting ssl-client-auth: "${cfg.sslClientAuth}" is not required, requested or none`);
  if (cfg.sslClientAuth !== 'none' && cfg.sslCaFile === '') throw new ConfigError(`setting ssl-client-auth ${cfg.sslClientAuth} needs ssl-ca-file`);
  try {
    saslMechanismsOf(cfg.saslEnabledMechanisms);
  } catch (err) {
    throw new ConfigError(`setting sasl-enabled-mechanisms: ${(err as Error).message}`);
  }
  for (const p of cfg.superUsers.split(';').map((x) => x.trim()).filter((x) => x !== '')) {
    if (p.indexOf(':') <= 0) throw new ConfigError(`setting super-users (--super-users / STREAMHOUSE_SUPER_USERS): "${p}" is not a principal (Type:name, e.g. User:admin)`);
  }
  if (cfg.dbPoolMin > cfg.dbPoolMax) throw new ConfigError(`setting db-pool-min (${cfg.dbPoolMin}) exceeds db-pool-max (${cfg.dbPoolMax})`);
  if (cfg.groupMinSessionTimeoutMs > cfg.groupMaxSessionTimeoutMs) {
    throw new ConfigError(`setting group-min-session-timeout-ms exceeds group-max-session-timeout-ms`);
  }
  if (cfg.s3Bucket === '' && (cfg.s3Endpoint !== '' || cfg.s3Prefix !== '')) {
    throw new ConfigError('setting s3-bucket (S3_BUCKET) is required when S3_ENDPOINT or S3_PREFIX is set');
  }
  return cfg;
}

/** The README settings table. */
export function settingsMarkdown(): string {
  const rows = ['| flag | environment | default | meaning |', '|---|---|---|---|'];
  for (const spec of Object.values(SETTINGS) as Array<SettingSpec<unknown>>) {
    const def = spec.defaultText ?? (spec.default === '' ? '(empty)' : String(spec.default));
    rows.push(`| \`--${spec.flag}\` | \`${spec.env}\` | ${def} | ${spec.describe} |`);
  }
  return rows.join('\n');
}
