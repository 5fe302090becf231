// Produce handler with a fake partition log: pipelined requests of one connection append in arrival
// order even when an earlier request's lookups take longer (Kafka's per-connection ordering).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { buildRecordBatchSync } from '../../../protocol/record-batch.js';
import type { TopicRecord } from '../../../metadata/types.js';
import type { BrokerContext } from '../../../src/context.js';
import { handler } from '../../../src/handlers/00-produce.js';
import { NO_RESPONSE } from '../../../src/handlers/types.js';
import { fakeBroker, overTheWire, requestContext, roundTripResponse } from './admin-fixtures.js';

const VERSION = 9;

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A broker whose getTopic/lead waits on the gate given for each call, and whose log records appends. */
function orderedBroker(gates: { topic: Array<Promise<void>>; lead: Array<Promise<void>> }) {
  const topic: TopicRecord = { name: 't', topicId: 'id', partitionCount: 2, retentionMs: null, config: {}, createdAt: 0, updatedAt: 0 };
  const appended: string[] = [];
  let topicCalls = 0;
  let leadCalls = 0;
  let next = 0;
  const broker = fakeBroker();
  const ctx: BrokerContext = {
    ...broker,
    metadata: { ...broker.metadata, getTopic: async () => { await gates.topic[topicCalls++]; return topic; } } as BrokerContext['metadata'],
    partitions: {
      lead: async () => { await gates.lead[leadCalls++]; return 0; },
      append: (_t: string, _p: number, batch: Buffer) => {
        appended.push(['first', 'second', 'third', 'other', 'kept'].find((v) => batch.includes(v)) ?? '?');
        const baseOffset = next++;
        return Promise.resolve({ baseOffset, lastOffset: baseOffset, logStartOffset: 0 });
      },
    } as unknown as BrokerContext['partitions'],
  };
  return { ctx, appended };
}

function request(value: string, acks = -1) {
  const records = buildRecordBatchSync({ records: [{ key: null, value, timestamp: Date.now() }] });
  return overTheWire(ApiKey.Produce, VERSION, { transactionalId: null, acks, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] });
}

async function offsetsOf(result: unknown): Promise<number[]> {
  const res = roundTripResponse(ApiKey.Produce, VERSION, await result);
  return res.responses.flatMap((t) => t.partitionResponses.map((p) => { assert.equal(p.errorCode, ErrorCode.NONE); return p.baseOffset; }));
}

for (const slowStep of ['topic', 'lead'] as const) {
  test(`pipelined produce requests append in arrival order when the first one's ${slowStep} lookup is slow`, async () => {
    const slow = deferred();
    const gates = { topic: [Promise.resolve(), Promise.resolve(), Promise.resolve()], lead: [Promise.resolve(), Promise.resolve(), Promise.resolve()] };
    gates[slowStep][0] = slow.promise;
    const { ctx, appended } = orderedBroker(gates);
    const rc = requestContext(ctx, ApiKey.Produce, VERSION);
    const first = handler.handle(request('first'), rc);
    const second = handler.handle(request('second'), rc);
    const third = handler.handle(request('third', 0), rc);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(appended, [], 'nothing may overtake the first request');
    slow.resolve();
    assert.deepEqual(await offsetsOf(first), [0]);
    assert.deepEqual(await offsetsOf(second), [1]);
    assert.equal(third, NO_RESPONSE);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(appended, ['first', 'second', 'third']);
  });
}

test('requests on different connections do not wait for each other', async () => {
  const slow = deferred();
  const { ctx, appended } = orderedBroker({ topic: [slow.promise, Promise.resolve()], lead: [Promise.resolve(), Promise.resolve()] });
  const first = handler.handle(request('first'), requestContext(ctx, ApiKey.Produce, VERSION));
  const other = requestContext(ctx, ApiKey.Produce, VERSION); // a second connection: its own turns
  assert.deepEqual(await offsetsOf(handler.handle(request('other'), other)), [0]);
  slow.resolve();
  assert.deepEqual(await offsetsOf(first), [1]);
  assert.deepEqual(appended, ['other', 'first']);
});

test('a request that fails before its turn releases it: later requests still append', async () => {
  const down = Promise.reject(new Error('database down'));
  down.catch(() => undefined);
  const broker = orderedBroker({ topic: [down, Promise.resolve()], lead: [Promise.resolve()] });
  const rc = requestContext(broker.ctx, ApiKey.Produce, VERSION);
  const failed = Promise.resolve(handler.handle(request('lost'), rc)).then(() => 'resolved', () => 'rejected');
  const ok = handler.handle(request('kept'), rc);
  assert.equal(await failed, 'rejected');
  assert.deepEqual(await offsetsOf(ok), [0]);
  assert.deepEqual(broker.appended, ['kept']);
});
