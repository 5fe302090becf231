// A coordinator on fakes (manual clock, in-memory store) and `call`, which runs a group handler the way
// the dispatcher does at one version: request encoded and decoded, response encoded and decoded, so
// every handler test also proves the response encodes at that version.
import {
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
import { resolveConfig } from '../../../src/config.js';
import type { BrokerContext, BrokerInfo } from '../../../src/context.js';
import { CoordinatorShards, GroupCoordinator, type CoordinatorStore } from '../../../src/coordinator/index.js';
import { NO_RESPONSE, type Handler, type RequestContext } from '../../../src/handlers/types.js';
import { silentLogger } from '../../../src/logger.js';
import { Turns } from '../../../src/network/turns.js';
import { FakeTimers, MemoryGroupStore, settle } from './fakes.js';

export interface TestCoordinator {
  coordinator: GroupCoordinator;
  shards: CoordinatorShards;
  agentId: string;
  store: MemoryGroupStore;
  timers: FakeTimers;
  broker: BrokerContext;
  brokers: BrokerInfo[];
}

/**
 * A coordinator on fakes. Its shard leases live in `store` (share one store between coordinators to have
 * them compete for shards, and one `timers` to share a clock: it is also the leases' database clock).
 * Without `leaseTtlMs` leases practically never expire and nothing renews them: shards are taken when
 * first asked for, as an agent does before its first placement cycle.
 */
export function testCoordinator(
  opts: { nodeId?: number; brokers?: BrokerInfo[]; store?: MemoryGroupStore; timers?: FakeTimers; initialDelayMs?: number; realStore?: CoordinatorStore; leaseTtlMs?: number; shardCount?: number } = {},
): TestCoordinator {
  const nodeId = opts.nodeId ?? 1;
  const brokers = opts.brokers ?? [{ nodeId, host: 'localhost', port: 9092, rack: null }];
  const store = opts.store ?? new MemoryGroupStore();
  const timers = opts.timers ?? new FakeTimers();
  if (opts.store === undefined || opts.timers !== undefined) store.leaseClock = () => timers.now();
  const agentId = `agent-${nodeId}`;
  const self = brokers.find((b) => b.nodeId === nodeId) ?? { nodeId, host: 'localhost', port: 9092, rack: null };
  store.addAgent(agentId, nodeId, self.host, self.port);
  const config = { ...resolveConfig({}, {}), groupInitialRebalanceDelayMs: opts.initialDelayMs ?? 0 };
  let n = 0;
  const shards = new CoordinatorShards({
    agentId,
    self,
    shardCount: opts.shardCount ?? 50,
    ttlMs: opts.leaseTtlMs ?? 1e12,
    store: store.leaseStore(),
    timers,
    log: silentLogger(),
  });
  const coordinator = new GroupCoordinator({
    nodeId,
    agentId,
    metadata: opts.realStore ?? store,
    shards,
    config,
    log: silentLogger(),
    timers,
    newMemberId: (prefix) => `${prefix}-${++n}`,
  });
  const broker = {
    config,
    log: silentLogger(),
    clock: { now: () => timers.now() },
    clusterId: 'test-cluster',
    nodeId,
    metadata: (opts.realStore ?? store) as unknown as BrokerContext['metadata'],
    partitions: undefined as unknown as BrokerContext['partitions'],
    brokers: async () => brokers,
    leaders: async (_topic: string, count: number) => Array.from({ length: count }, () => ({ nodeId, leaderEpoch: 0 })),
    groups: coordinator,
  } satisfies BrokerContext;
  return { coordinator, shards, agentId, store, timers, broker, brokers };
}

/** Runs `n` placement cycles of every coordinator on the shared fake clock. */
export async function cycles(ts: TestCoordinator[], n = 3): Promise<void> {
  for (let i = 0; i < n; i++) {
    ts[0].timers.advance(ts[0].shards.tickMs);
    await settle(20);
  }
}

/**
 * Several coordinators sharing one store and one clock (agents of one cluster), started, after
 * placement has settled: every shard is held by its intended owner.
 */
export async function testCluster(nodeIds: number[], opts: { leaseTtlMs?: number; shardCount?: number; initialDelayMs?: number } = {}): Promise<TestCoordinator[]> {
  const store = new MemoryGroupStore();
  const timers = new FakeTimers();
  const brokers = nodeIds.map((nodeId) => ({ nodeId, host: `h${nodeId}`, port: 9000 + nodeId, rack: null }));
  const ts = nodeIds.map((nodeId) => testCoordinator({ ...opts, nodeId, brokers, store, timers }));
  await Promise.all(ts.map((t) => t.coordinator.start()));
  await cycles(ts, 3);
  return ts;
}

function concat(chunks: Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

export function requestContext(broker: BrokerContext, apiKey: number, version: number, clientId = 'test-client'): RequestContext {
  return {
    apiVersion: version,
    header: { requestApiKey: apiKey, requestApiVersion: version, correlationId: 7, clientId },
    conn: { id: 1, remoteAddress: '::ffff:127.0.0.1', remotePort: 50000, principal: 'User:ANONYMOUS', appendTurns: new Turns() },
    broker,
  };
}

/** Starts a handler call at `version`; resolve the returned promise to get the decoded response. */
export async function call<K extends ApiKeyValue>(
  handler: Handler<K>,
  version: number,
  request: ApiRequestInput<K>,
  broker: BrokerContext,
  clientId = 'test-client',
): Promise<ApiResponse<K>> {
  const frame = concat(encodeRequest(handler.apiKey, version, 7, clientId, request)).subarray(4);
  const body = decodeRequest(frame).body as ApiRequest<K>;
  const ctx = requestContext(broker, handler.apiKey, version, clientId);
  let result;
  try {
    result = await handler.handle(body, ctx);
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    result = handler.errorResponse(body, err.code, ctx);
  }
  if (result === NO_RESPONSE) throw new Error('no response');
  const out = concat(encodeResponse(handler.apiKey, version, 7, result as never)).subarray(4);
  return decodeResponse(handler.apiKey, version, out).body;
}

/** errorResponse at `version`, encoded and decoded. */
export function callError<K extends ApiKeyValue>(handler: Handler<K>, version: number, request: ApiRequestInput<K>, broker: BrokerContext, code: number): ApiResponse<K> {
  const frame = concat(encodeRequest(handler.apiKey, version, 7, 'c', request)).subarray(4);
  const body = decodeRequest(frame).body as ApiRequest<K>;
  const result = handler.errorResponse(body, code as never, requestContext(broker, handler.apiKey, version));
  const out = concat(encodeResponse(handler.apiKey, version, 7, result as never)).subarray(4);
  return decodeResponse(handler.apiKey, version, out).body;
}

export function versions(handler: Handler): number[] {
  return Array.from({ length: handler.maxVersion - handler.minVersion + 1 }, (_, i) => handler.minVersion + i);
}
