import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../protocol/index.js';

test('subscription v0 bytes as kafkajs/librdkafka write them', () => {
  const data = Buffer.from('0000' + '00000001' + '0001' + '74' + 'ffffffff', 'hex');
  const { version, subscription } = decodeSubscription(data);
  assert.equal(version, 0);
  assert.deepEqual(subscription, { topics: ['t'], userData: null, ownedPartitions: [], generationId: -1, rackId: null });
  assert.deepEqual(encodeSubscription({ topics: ['t'], userData: null }, 0), data);
});

test('subscription and assignment round trip at every version', () => {
  for (let v = 0; v <= 3; v++) {
    const sub = {
      topics: ['a', 'b'],
      userData: Buffer.from([1, 2]),
      ownedPartitions: v >= 1 ? [{ topic: 'a', partitions: [0, 1] }] : [],
      generationId: v >= 2 ? 7 : -1,
      rackId: v >= 3 ? 'rack-1' : null,
    };
    const d = decodeSubscription(encodeSubscription(sub, v));
    assert.equal(d.version, v);
    assert.deepEqual(d.subscription, sub);
    const asg = { assignedPartitions: [{ topic: 'a', partitions: [3] }], userData: null };
    const e = decodeAssignment(encodeAssignment(asg, v));
    assert.equal(e.version, v);
    assert.deepEqual(e.assignment, asg);
  }
});

test('a newer version is read as our latest; a negative version is an error', () => {
  const v3 = encodeAssignment({ assignedPartitions: [], userData: null }, 3);
  const v9 = Buffer.concat([v3, Buffer.from('extra')]);
  v9.writeInt16BE(9, 0);
  assert.deepEqual(decodeAssignment(v9), { version: 9, assignment: { assignedPartitions: [], userData: null } });
  v9.writeInt16BE(-1, 0);
  assert.throws(() => decodeAssignment(v9), DecodeError);
  assert.throws(() => decodeSubscription(Buffer.alloc(0)), DecodeError);
});
