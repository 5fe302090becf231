// The admin commands' Kafka client: one connection per broker, requests encoded and responses decoded
// with protocol/, answered in order per connection (as every Kafka broker does). Versions are
// negotiated with ApiVersions, so the commands work against any broker that speaks the APIs they use.
// Only what the admin commands need: no retries beyond trying each bootstrap address in turn.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { usesSasl, usesTls } from '../network/listeners.js';
import { authenticate, tlsOptions, type ClientSecurity } from '../security/sasl/client.js';
import {
  ApiKey,
  ErrorCode,
  FrameDecoder,
  decodeResponse,
  encodeRequest,
  errorName,
  isRetriable,
  type ApiKeyValue,
  type ApiRequestInput,
  type ApiResponse,
  type MetadataResponse,
  type MetadataResponseBroker,
} from '../../protocol/index.js';
import { AdminError } from './errors.js';

const CLIENT_ID = 'streamhouse-admin';

interface Pending {
  apiKey: ApiKeyValue;
  apiVersion: number;
  correlationId: number;
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One TCP connection to one broker. */
export class BrokerConnection {
  private readonly decoder = new FrameDecoder();
  private readonly pending: Pending[] = [];
  private nextCorrelationId = 1;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (d: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(d);
      } catch (err) {
        this.fail(new AdminError(`broker ${address} sent a malformed frame: ${(err as Error).message}`));
        return;
      }
      for (const frame of frames) this.onFrame(frame);
    });
    socket.on('error', (err) => this.fail(new AdminError(`connection to broker ${address} failed: ${err.message}`)));
    socket.on('close', () => this.fail(new AdminError(`broker ${address} closed the connection`)));
  }

  /** `security`: TLS and/or SASL (SASL completes before this resolves); absent = PLAINTEXT. */
  static async open(host: string, port: number, timeoutMs: number, security?: ClientSecurity): Promise<BrokerConnection> {
    const conn = await BrokerConnection.connect(host, port, timeoutMs, security);
    if (security !== undefined && usesSasl(security.protocol)) {
      try {
        await authenticate(conn, security);
      } catch (err) {
        conn.close();
        throw new AdminError(`broker ${host}:${port}: ${(err as Error).message}`);
      }
    }
    return conn;
  }

  private static connect(host: string, port: number, timeoutMs: number, security?: ClientSecurity): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    const tls = security !== undefined && usesTls(security.protocol);
    return new Promise((resolve, reject) => {
      const socket = tls ? tlsConnect({ host, port, ...tlsOptions(security, host) }) : connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new AdminError(`cannot connect to broker ${address}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new BrokerConnection(socket, address, timeoutMs));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = err.code === 'ECONNREFUSED' ? 'connection refused (is an agent listening there?)' : err.message;
        reject(new AdminError(`cannot connect to broker ${address}: ${why}`));
      });
    });
  }

  request<K extends ApiKeyValue>(apiKey: K, apiVersion: number, body: ApiRequestInput<K>): Promise<ApiResponse<K>> {
    if (this.failure) return Promise.reject(this.failure);
    const correlationId = this.nextCorrelationId++;
    const chunks = encodeRequest(apiKey, apiVersion, correlationId, CLIENT_ID, body);
    return new Promise<ApiResponse<K>>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new AdminError(`broker ${this.address} did not answer a request (API key ${apiKey}) within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.pending.push({ apiKey, apiVersion, correlationId, resolve: resolve as (b: unknown) => void, reject, timer });
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
    });
  }

  private onFrame(frame: Buffer): void {
    const p = this.pending.shift();
    if (p === undefined) {
      this.fail(new AdminError(`broker ${this.address} sent a response nobody asked for`));
      return;
    }
    clearTimeout(p.timer);
    try {
      const { header, body } = decodeResponse(p.apiKey, p.apiVersion, frame);
      if (header.correlationId !== p.correlationId) throw new Error(`correlation id ${header.correlationId}, expected ${p.correlationId}`);
      p.resolve(body);
    } catch (err) {
      this.fail(new AdminError(`cannot read the answer of broker ${this.address}: ${(err as Error).message}`));
      p.reject(this.failure!);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    this.socket.destroy();
  }

  close(): void {
    this.failure ??= new AdminError(`connection to broker ${this.address} closed`);
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    this.socket.destroy();
  }
}

/** "host:port[,host:port…]" → addresses; a bare host gets port 9092. */
export function parseBootstrap(list: string): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:]+)(?::(\d+))?$/.exec(raw);
    const port = m?.[2] === undefined ? 9092 : Number(m[2]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new AdminError(`--bootstrap-server: "${raw}" is not host:port`, 2);
    }
    out.push({ host: m[1], port });
  }
  if (out.length === 0) throw new AdminError('--bootstrap-server: no address given', 2);
  return out;
}

/** What each admin request asks for, newest first: the highest version both sides support is used. */
const WANTED: Partial<Record<ApiKeyValue, { min: number; max: number }>> = {
  [ApiKey.Metadata]: { min: 1, max: 12 },
  [ApiKey.ListOffsets]: { min: 1, max: 7 },
  [ApiKey.ListGroups]: { min: 0, max: 4 },
  [ApiKey.DescribeGroups]: { min: 0, max: 5 },
  [ApiKey.FindCoordinator]: { min: 0, max: 3 },
  [ApiKey.OffsetFetch]: { min: 2, max: 7 },
  [ApiKey.DescribeConfigs]: { min: 0, max: 4 },
};

/** A cluster seen through one bootstrap connection, with connections to other brokers as needed. */
export class BrokerClient {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();
  private brokers = new Map<number, MetadataResponseBroker>();
  private readonly versions = new Map<number, { min: number; max: number }>();
  /** What could not be asked (a broker unreachable): the report shows "-" there, and these go to stderr. */
  readonly warnings: string[] = [];

  private constructor(
    private readonly bootstrap: BrokerConnection,
    readonly bootstrapAddress: string,
    private readonly timeoutMs: number,
    private readonly security?: ClientSecurity,
  ) {}

  static async connect(list: string, timeoutMs: number, security?: ClientSecurity): Promise<BrokerClient> {
    const addresses = parseBootstrap(list);
    const failures: string[] = [];
    for (const a of addresses) {
      let conn: BrokerConnection | undefined;
      try {
        conn = await BrokerConnection.open(a.host, a.port, timeoutMs, security);
        const client = new BrokerClient(conn, `${a.host}:${a.port}`, timeoutMs, security);
        await client.negotiate();
        return client;
      } catch (err) {
        conn?.close();
        failures.push((err as Error).message);
      }
    }
    throw new AdminError(failures.join('; '));
  }

  private async negotiate(): Promise<void> {
    // v0 is understood by every broker (and answered at v0 when a newer version is not).
    const res = await this.bootstrap.request(ApiKey.ApiVersions, 0, {});
    if (res.errorCode !== ErrorCode.NONE) throw new AdminError(`broker ${this.bootstrapAddress}: ApiVersions failed with ${errorName(res.errorCode)}`);
    for (const k of res.apiKeys) this.versions.set(k.apiKey, { min: k.minVersion, max: k.maxVersion });
  }

  /** The version to send `apiKey` at; AdminError when the broker does not support a usable one. */
  version(apiKey: ApiKeyValue): number {
    const want = WANTED[apiKey]!;
    const has = this.versions.get(apiKey);
    const v = has === undefined ? -1 : Math.min(want.max, has.max);
    if (has === undefined || v < want.min || v < has.min) {
      throw new AdminError(`broker ${this.bootstrapAddress} does not support API key ${apiKey} at a version this tool speaks`);
    }
    return v;
  }

  /** Metadata of the named topics (all when null), never creating any. Remembers the brokers. */
  async metadata(topics: string[] | null): Promise<MetadataResponse> {
    const v = this.version(ApiKey.Metadata);
    const res = await this.bootstrap.request(ApiKey.Metadata, v, {
      topics: topics === null ? (v >= 1 ? null : []) : topics.map((name) => ({ name, topicId: '00000000-0000-0000-0000-000000000000' })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    this.brokers = new Map(res.brokers.map((b) => [b.nodeId, b]));
    return res;
  }

  /** A request to the bootstrap broker. */
  bootstrapRequest<K extends ApiKeyValue>(apiKey: K, apiVersion: number, body: ApiRequestInput<K>): Promise<ApiResponse<K>> {
    return this.bootstrap.request(apiKey, apiVersion, body);
  }

  /** The brokers named by the last Metadata (fetched now if there was none). */
  async brokerList(): Promise<MetadataResponseBroker[]> {
    if (this.brokers.size === 0) await this.metadata([]);
    return [...this.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** A connection to broker `nodeId` (as the last Metadata named it). */
  async node(nodeId: number): Promise<BrokerConnection> {
    let c = this.connections.get(nodeId);
    if (c === undefined) {
      if (!this.brokers.has(nodeId)) await this.metadata([]);
      const b = this.brokers.get(nodeId);
      if (b === undefined) throw new AdminError(`broker ${nodeId} is not in the cluster's metadata`);
      c = BrokerConnection.open(b.host, b.port, this.timeoutMs, this.security);
      c.catch(() => this.connections.delete(nodeId));
      this.connections.set(nodeId, c);
    }
    return c;
  }

  /**
   * The broker coordinating `groupId`: its node id. Retriable answers (no coordinator yet: a shard
   * moving between agents, an agent starting) are asked again for up to ~3 s.
   */
  async coordinator(groupId: string): Promise<number> {
    const v = this.version(ApiKey.FindCoordinator);
    let res;
    for (let attempt = 0; ; attempt++) {
      res = await this.bootstrap.request(ApiKey.FindCoordinator, v, { key: groupId, keyType: 0 });
      if (res.errorCode === ErrorCode.NONE || !isRetriable(res.errorCode ?? -1) || attempt >= 10) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    if (res.errorCode !== ErrorCode.NONE) {
      throw new AdminError(`cannot find the coordinator of group "${groupId}": ${errorName(res.errorCode ?? -1)}${res.errorMessage ? ` (${res.errorMessage})` : ''}`);
    }
    if (!this.brokers.has(res.nodeId!)) this.brokers.set(res.nodeId!, { nodeId: res.nodeId!, host: res.host!, port: res.port!, rack: null });
    return res.nodeId!;
  }

  /**
   * Offsets of partitions at their leaders: LATEST (-1, the high watermark) or EARLIEST (-2, the log
   * start offset). Partitions without a leader or answered with an error map to null. Key: "topic\0partition".
   */
  async listOffsets(partitions: ReadonlyArray<{ topic: string; partition: number; leader: number }>, timestamp: -1 | -2): Promise<Map<string, number | null>> {
    const out = new Map<string, number | null>();
    const byLeader = new Map<number, Map<string, number[]>>();
    for (const p of partitions) {
      out.set(partitionKey(p.topic, p.partition), null);
      if (p.leader < 0) continue;
      let topics = byLeader.get(p.leader);
      if (topics === undefined) byLeader.set(p.leader, (topics = new Map()));
      let ids = topics.get(p.topic);
      if (ids === undefined) topics.set(p.topic, (ids = []));
      ids.push(p.partition);
    }
    const v = this.version(ApiKey.ListOffsets);
    await Promise.all(
      [...byLeader].map(async ([leader, topics]) => {
        let res;
        try {
          const conn = await this.node(leader);
          res = await conn.request(ApiKey.ListOffsets, v, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [...topics].map(([name, ids]) => ({
            name,
            partitions: ids.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 })),
          })),
          });
        } catch (err) {
          this.warn(`offsets of the partitions led by broker ${leader} are unknown: ${(err as Error).message}`);
          return;
        }
        for (const t of res.topics) {
          for (const p of t.partitions) {
            if (p.errorCode === ErrorCode.NONE && p.offset !== undefined && p.offset >= 0) out.set(partitionKey(t.name, p.partitionIndex), p.offset);
          }
        }
      }),
    );
    return out;
  }

  /** ListGroups on every broker (each lists the groups it coordinates): group id → listing and coordinator. */
  async listGroups(): Promise<Array<{ groupId: string; protocolType: string; state: string | null; coordinator: number }>> {
    const v = this.version(ApiKey.ListGroups);
    const brokers = await this.brokerList();
    const seen = new Map<string, { groupId: string; protocolType: string; state: string | null; coordinator: number }>();
    await Promise.all(
      brokers.map(async (b) => {
        let res;
        try {
          const conn = await this.node(b.nodeId);
          res = await conn.request(ApiKey.ListGroups, v, { statesFilter: [], typesFilter: [] });
        } catch (err) {
          this.warn(`the groups coordinated by broker ${b.nodeId} are missing: ${(err as Error).message}`);
          return;
        }
        if (res.errorCode !== ErrorCode.NONE) {
          this.warn(`the groups coordinated by broker ${b.nodeId} (${b.host}:${b.port}) are missing: it answered ${errorName(res.errorCode)}`);
          return;
        }
        for (const g of res.groups) seen.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, state: g.groupState ?? null, coordinator: b.nodeId });
      }),
    );
    return [...seen.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  private warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /** DescribeGroups at broker `nodeId` (the groups' coordinator). */
  async describeGroups(nodeId: number, groupIds: string[]) {
    if (groupIds.length === 0) return [];
    const conn = await this.node(nodeId);
    const res = await conn.request(ApiKey.DescribeGroups, this.version(ApiKey.DescribeGroups), { groups: groupIds, includeAuthorizedOperations: false });
    return res.groups;
  }

  /** The committed offsets of a group (OffsetFetch at its coordinator), all topics. */
  async fetchOffsets(groupId: string, coordinator: number): Promise<Array<{ topic: string; partition: number; offset: number; metadata: string | null }>> {
    const conn = await this.node(coordinator);
    const res = await conn.request(ApiKey.OffsetFetch, this.version(ApiKey.OffsetFetch), { groupId, topics: null, requireStable: false });
    if (res.errorCode !== undefined && res.errorCode !== ErrorCode.NONE) {
      throw new AdminError(`could not fetch the offsets of group "${groupId}" from broker ${coordinator}: ${errorName(res.errorCode)}`);
    }
    const out: Array<{ topic: string; partition: number; offset: number; metadata: string | null }> = [];
    for (const t of res.topics ?? []) {
      for (const p of t.partitions) {
        if (p.errorCode === ErrorCode.NONE) out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
      }
    }
    return out;
  }

  close(): void {
    this.bootstrap.close();
    for (const c of this.connections.values()) c.then((conn) => conn.close(), () => undefined);
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}
