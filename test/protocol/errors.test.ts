import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError, errorName, isRetriable } from '../../protocol/errors.js';

test('error table: codes, names and retriable flags match Kafka', () => {
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.MEMBER_ID_REQUIRED, 79);
  assert.equal(errorName(6), 'NOT_LEADER_OR_FOLLOWER');
  assert.equal(isRetriable(ErrorCode.NOT_LEADER_OR_FOLLOWER), true);
  assert.equal(isRetriable(ErrorCode.TOPIC_ALREADY_EXISTS), false);
  const e = new KafkaError(ErrorCode.CORRUPT_MESSAGE);
  assert.equal(e.retriable, true);
  assert.equal(e.message, 'CORRUPT_MESSAGE');
});
