// Shared by the topic/config/cluster handler tests: an in-memory MetadataStore for the topic methods
// (same errors as the SQL store), a fake BrokerContext, and `call`, which drives a handler the way the
// dispatcher does at one version — request encoded and decoded, response encoded and decoded — so every
// test also proves the response encodes at that version.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  API_INFO,
  ErrorCode,
  KafkaError,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type ApiKeyValue,
  type ApiRequest,
  type ApiRequestInput,
  type ApiResponse,
} from '../../../protocol/index.js';
import type { CreateTopicInput, MetadataStore, PartitionRecord, TopicRecord } from '../../../metadata/types.js';
import { resolveConfig, type Config } from '../../../src/config.js';
import type { BrokerContext, BrokerInfo } from '../../../src/context.js';
import { silentLogger } from '../../../src/logger.js';
import { Turns } from '../../../src/network/turns.js';
import { NO_RESPONSE, type Handler, type RequestContext } from '../../../src/handlers/types.js';

/** The topic half of MetadataStore in memory; everything else throws. */
export class MemoryTopicStore {
  readonly kind = 'pglite' as const;
  readonly topics = new Map<string, TopicRecord>();
  /** Calls of createTopic, for auto-creation tests. */
  creates = 0;
  /** Optional delay inside createTopic, to overlap concurrent creations. */
  createDelayMs = 0;
  private now = 1_700_000_000_000;

  async close(): Promise<void> {}

  async createTopic(input: CreateTopicInput): Promise<TopicRecord> {
    this.creates++;
    if (this.createDelayMs > 0) await new Promise((r) => setTimeout(r, this.createDelayMs));
    if (this.topics.has(input.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${input.name}" already exists`);
    const t: TopicRecord = {
      name: input.name,
      topicId: randomUUID(),
      partitionCount: input.partitionCount,
      retentionMs: input.retentionMs ?? null,
      config: { ...(input.config ?? {}) },
      createdAt: this.now,
      updatedAt: this.now,
    };
    this.topics.set(t.name, t);
    return t;
  }
  async getTopic(name: string): Promise<TopicRecord | undefined> {
    return this.topics.get(name);
  }
  async getTopicById(topicId: string): Promise<TopicRecord | undefined> {
    for (const t of this.topics.values()) if (t.topicId === topicId) return t;
    return undefined;
  }
  async listTopics(): Promise<TopicRecord[]> {
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  async deleteTopic(name: string): Promise<boolean> {
    return this.topics.delete(name);
  }
  async addPartitions(name: string, n: number): Promise<TopicRecord> {
    const t = this.topics.get(name);
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${name}"`);
    if (n <= t.partitionCount) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, 'not an increase');
    const next = { ...t, partitionCount: n, updatedAt: ++this.now };
    this.topics.set(name, next);
    return next;
  }
  async updateTopicConfig(name: string, config: Record<string, string>, retentionMs?: number | null): Promise<TopicRecord> {
    const t = this.topics.get(name);
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${name}"`);
    const next = { ...t, config: { ...config }, retentionMs: retentionMs === undefined ? t.retentionMs : retentionMs, updatedAt: ++this.now };
    this.topics.set(name, next);
    return next;
  }
  async getPartitions(topic: string): Promise<PartitionRecord[]> {
    const t = this.topics.get(topic);
    if (!t) return [];
    return Array.from({ length: t.partitionCount }, (_, partitionId) => ({
      topic,
      partitionId,
      highWatermark: 0,
      logStartOffset: 0,
      leaderEpoch: 0,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    }));
  }
}

export interface FakeBrokerOptions {
  config?: Partial<Config>;
  nodeId?: number;
  brokers?: BrokerInfo[];
  store?: MetadataStore;
  /** Leader of each partition; default: this node, epoch 0. */
  leader?: (topic: string, partition: number) => { nodeId: number; leaderEpoch: number };
}

export interface FakeBroker extends BrokerContext {
  readonly memory: MemoryTopicStore | undefined;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...resolveConfig({}, {}), ...overrides };
}

export function fakeBroker(opts: FakeBrokerOptions = {}): FakeBroker {
  const nodeId = opts.nodeId ?? 1;
  const config = testConfig(opts.config);
  const memory = opts.store === undefined ? new MemoryTopicStore() : undefined;
  const store = opts.store ?? (memory as unknown as MetadataStore);
  const brokers = opts.brokers ?? [{ nodeId, host: 'localhost', port: 9092, rack: null }];
  const leader = opts.leader ?? (() => ({ nodeId, leaderEpoch: 0 }));
  const base = {
    config,
    log: silentLogger(),
    clock: { now: () => Date.now() },
    clusterId: 'test-cluster-id',
    nodeId,
    metadata: store,
    partitions: { forgetTopic: () => undefined } as unknown as BrokerContext['partitions'],
    memory,
    async brokers() {
      return brokers;
    },
    async leaders(topic: string, count: number) {
      return Array.from({ length: count }, (_, p) => leader(topic, p));
    },
  };
  // Parts of the context these handlers never touch (groups, …) are left unset.
  return Object.assign(base, { groups: undefined as never });
}

function concat(chunks: Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** The request as the handler would see it after the wire at `version` (defaults filled in). */
export function overTheWire<K extends ApiKeyValue>(apiKey: K, version: number, request: ApiRequestInput<K>): ApiRequest<K> {
  const frame = concat(encodeRequest(apiKey, version, 7, 'test-client', request)).subarray(4);
  return decodeRequest(frame).body as ApiRequest<K>;
}

export function requestContext(broker: BrokerContext, apiKey: number, version: number): RequestContext {
  return {
    apiVersion: version,
    header: { requestApiKey: apiKey, requestApiVersion: version, correlationId: 7, clientId: 'test-client' },
    conn: { id: 1, remoteAddress: '127.0.0.1', remotePort: 50000, principal: 'User:ANONYMOUS', appendTurns: new Turns() },
    broker,
  };
}

/** Encodes and decodes a response at `version`; throws if it does not encode. */
export function roundTripResponse<K extends ApiKeyValue>(apiKey: K, version: number, body: unknown): ApiResponse<K> {
  const frame = concat(encodeResponse(apiKey, version, 7, body as never)).subarray(4);
  const { header, body: decoded } = decodeResponse(apiKey, version, frame);
  if (header.correlationId !== 7) throw new Error('correlation id lost');
  return decoded;
}

/**
 * Runs `handler` on `request` at `version` as the dispatcher would, including the errorResponse path
 * for a thrown KafkaError, and returns the decoded response.
 */
export async function call<K extends ApiKeyValue>(
  handler: Handler<K>,
  version: number,
  request: ApiRequestInput<K>,
  broker: BrokerContext,
): Promise<ApiResponse<K>> {
  const body = overTheWire(handler.apiKey, version, request);
  const ctx = requestContext(broker, handler.apiKey, version);
  let result;
  try {
    result = await handler.handle(body, ctx);
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    result = handler.errorResponse(body, err.code, ctx);
  }
  if (result === NO_RESPONSE) throw new Error('no response');
  return roundTripResponse(handler.apiKey, version, result);
}

/** Every version a handler advertises. */
export function versionsOf(handler: Handler): number[] {
  const out: number[] = [];
  for (let v = handler.minVersion; v <= handler.maxVersion; v++) out.push(v);
  return out;
}

/** The full valid range of an API in protocol/generated. */
export function validVersions(apiKey: ApiKeyValue): readonly [number, number] {
  return API_INFO[apiKey].validVersions;
}

/** A real PGlite metadata store in a temporary directory. */
export async function withPgliteStore<T>(fn: (store: MetadataStore) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'streamhouse-admin-'));
  const { openMetadataStore } = await import('../../../metadata/index.js');
  const store = await openMetadataStore({ dataDir: dir });
  try {
    return await fn(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
