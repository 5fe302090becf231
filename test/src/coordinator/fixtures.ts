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
import { GroupCoordinator, type CoordinatorStore } from '../../../src/coordinator/index.js';
import { NO_RESPONSE, type Handler, type RequestContext } from '../../../src/handlers/types.js';
import { silentLogger } from '../../../src/logger.js';
import { Turns } from '../../../src/network/turns.js';
import { FakeTimers, MemoryGroupStore } from './fakes.js';

export interface TestCoordinator {
  coordinator: GroupCoordinator;
  store: MemoryGroupStore;
  timers: FakeTimers;
  broker: BrokerContext;
  brokers: BrokerInfo[];
}

export function testCoordinator(opts: { nodeId?: number; brokers?: BrokerInfo[]; store?: MemoryGroupStore; initialDelayMs?: number; realStore?: CoordinatorStore } = {}): TestCoordinator {
  const nodeId = opts.nodeId ?? 1;
  const brokers = opts.brokers ?? [{ nodeId, host: 'localhost', port: 9092, rack: null }];
  const store = opts.store ?? new MemoryGroupStore();
  const timers = new FakeTimers();
  const config = { ...resolveConfig({}, {}), groupInitialRebalanceDelayMs: opts.initialDelayMs ?? 0 };
  let n = 0;
  const coordinator = new GroupCoordinator({
    nodeId,
    metadata: opts.realStore ?? store,
    brokers: async () => brokers,
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
  return { coordinator, store, timers, broker, brokers };
}

function concat(chunks: Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

export function requestContext(broker: BrokerContext, apiKey: number, version: number, clientId = 'test-client'): RequestContext {
  return {
    apiVersion: version,
    header: { requestApiKey: apiKey, requestApiVersion: version, correlationId: 7, clientId },
    conn: { id: 1, remoteAddress: '::ffff:127.0.0.1', remotePort: 50000, appendTurns: new Turns() },
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
