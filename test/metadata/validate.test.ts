// Input validation happens before any SQL: Kafka's topic-name rules, partition-count bounds and the
// other argument checks, run against a driver that records every statement it is asked to run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { Driver, Statement } from '../../metadata/driver.js';
import { SqlMetadataStore } from '../../metadata/sql-store.js';
import { MAX_PARTITIONS_PER_TOPIC, isValidTopicName, topicNameProblem } from '../../metadata/validate.js';
import { isConnectionError, toKafkaError } from '../../metadata/errors.js';
import { flushEntry, rejectsWith, segment } from './contract.js';

function recordingDriver(): Driver & { statements: string[] } {
  const statements: string[] = [];
  return {
    kind: 'postgres',
    statements,
    async query(stmt: Statement) {
      statements.push(stmt.name);
      return [];
    },
    async transaction(name, fn) {
      statements.push(name);
      return fn(this);
    },
    async close() {},
  };
}

test('topic names follow Kafka\'s rules', () => {
  for (const ok of ['a', 'A-b_c.d', '0', '...', 'x'.repeat(249), '__consumer_offsets']) assert.equal(topicNameProblem(ok), undefined, ok);
  for (const bad of ['', '.', '..', 'x'.repeat(250), 'a b', 'a/b', 'a\\b', 'é', 'a:b', 'a\u0000', 7, null]) {
    assert.equal(isValidTopicName(bad), false, String(bad));
  }
  assert.match(topicNameProblem('x'.repeat(250))!, /249/);
  assert.match(topicNameProblem('a b')!, /illegal/);
});

test('bad input is rejected before any SQL is sent', async () => {
  const driver = recordingDriver();
  const store = new SqlMetadataStore(driver);
  await rejectsWith(store.createTopic({ name: '..', partitionCount: 1 }), ErrorCode.INVALID_TOPIC_EXCEPTION);
  await rejectsWith(store.createTopic({ name: 'a'.repeat(250), partitionCount: 1 }), ErrorCode.INVALID_TOPIC_EXCEPTION);
  await rejectsWith(store.createTopic({ name: 'ok', partitionCount: 0 }), ErrorCode.INVALID_PARTITIONS);
  await rejectsWith(store.createTopic({ name: 'ok', partitionCount: MAX_PARTITIONS_PER_TOPIC + 1 }), ErrorCode.INVALID_PARTITIONS);
  await rejectsWith(store.createTopic({ name: 'ok', partitionCount: 2.5 }), ErrorCode.INVALID_PARTITIONS);
  await rejectsWith(store.createTopic({ name: 'ok', partitionCount: 1, config: { k: 1 as unknown as string } }), ErrorCode.INVALID_CONFIG);
  await rejectsWith(store.addPartitions('ok', 0), ErrorCode.INVALID_PARTITIONS);
  await rejectsWith(store.addPartitions('bad name', 2), ErrorCode.INVALID_TOPIC_EXCEPTION);
  await rejectsWith(store.addSegment(segment('t', -1, 0, 1)), ErrorCode.INVALID_REQUEST);
  await rejectsWith(store.commitFlush('agent', [flushEntry('t', 0, -1, 0, 1)]), ErrorCode.INVALID_REQUEST);
  await rejectsWith(store.commitFlush('agent', [flushEntry('t t', 0, 1, 0, 1)]), ErrorCode.INVALID_TOPIC_EXCEPTION);
  await rejectsWith(store.acquirePartitionLease('t', 0, 'agent', -5), ErrorCode.INVALID_REQUEST);
  await rejectsWith(store.registerAgent({ agentId: 'a', host: 'h', port: 70_000 }), ErrorCode.INVALID_REQUEST);
  await rejectsWith(store.commitOffsets('', []), ErrorCode.INVALID_GROUP_ID);
  await rejectsWith(store.setLogStartOffset('t', 0, -1), ErrorCode.INVALID_REQUEST);
  // Reads of names that cannot exist answer without asking the database.
  assert.equal(await store.getTopic('not valid'), undefined);
  assert.equal(await store.getTopicById('nope'), undefined);
  assert.deepEqual(await store.getPartitions('../x'), []);
  assert.deepEqual(driver.statements, []);
  // Sanity: valid input does reach the driver.
  await store.getTopic('valid');
  assert.deepEqual(driver.statements, ['sh_get_topic']);
});

test('driver errors: connection failures become retriable KafkaErrors; constraint violations get Kafka codes', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  for (const err of [refused, terminated, new Error('Connection terminated unexpectedly'), new Error('timeout exceeded when trying to connect')]) {
    assert.equal(isConnectionError(err), true, err.message);
    const k = toKafkaError(err, 'op') as { code: number; retriable: boolean; cause: unknown };
    assert.equal(k.code, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(k.retriable, true);
    assert.equal(k.cause, err);
  }
  const fk = Object.assign(new Error('violates foreign key'), { code: '23503' });
  assert.equal((toKafkaError(fk, 'op') as { code: number }).code, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const wrapped = new Error('Failed query', { cause: fk });
  assert.equal((toKafkaError(wrapped, 'op') as { code: number }).code, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const bug = Object.assign(new Error('syntax error'), { code: '42601' });
  assert.equal(toKafkaError(bug, 'op'), bug, 'programming errors are not disguised');
});

test('data errors caused by a request\'s values are non-retriable INVALID_REQUEST, never a database outage', () => {
  for (const [code, message] of [
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
    ['22P02', 'invalid input syntax for type json'],
    ['22003', 'value out of range'],
    ['54000', 'index row size 3016 exceeds btree version 4 maximum 2704'],
  ] as const) {
    const k = toKafkaError(new Error('Failed query', { cause: Object.assign(new Error(message), { code }) }), 'op') as KafkaError;
    assert.ok(k instanceof KafkaError, code);
    assert.equal(k.code, ErrorCode.INVALID_REQUEST, code);
    assert.equal(k.retriable, false, code);
    assert.equal(isConnectionError(k), false, code);
  }
});
