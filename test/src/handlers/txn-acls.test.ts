// The transaction and SCRAM-credential handlers check Kafka's ACLs (KafkaApis): refused without them,
// served once granted; WriteTxnMarkers from a client is written only when the stored decision asks for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/index.js';
import type { BrokerContext } from '../../../src/context.js';
import { handler as addPartitionsToTxn } from '../../../src/handlers/24-add-partitions-to-txn.js';
import { handler as addOffsetsToTxn } from '../../../src/handlers/25-add-offsets-to-txn.js';
import { handler as endTxn } from '../../../src/handlers/26-end-txn.js';
import { handler as writeTxnMarkers } from '../../../src/handlers/27-write-txn-markers.js';
import { handler as txnOffsetCommit } from '../../../src/handlers/28-txn-offset-commit.js';
import { handler as describeTransactions } from '../../../src/handlers/65-describe-transactions.js';
import { handler as listTransactions } from '../../../src/handlers/66-list-transactions.js';
import { handler as describeScram } from '../../../src/handlers/50-describe-user-scram-credentials.js';
import { handler as alterScram } from '../../../src/handlers/51-alter-user-scram-credentials.js';
import { AclOperation as Op, AclPermission, PatternType, ResourceType as R, CLUSTER_NAME, type AclBinding } from '../../../src/security/acl.js';
import { Authorizer } from '../../../src/security/authorizer.js';
import { call, fakeBroker } from './admin-fixtures.js';

const ANON = 'User:ANONYMOUS';
const allow = (resourceType: number, resourceName: string, operation: number): AclBinding => ({
  resourceType, resourceName, patternType: PatternType.LITERAL, principal: ANON, host: '*', operation, permissionType: AclPermission.ALLOW,
});

/** A broker whose transaction side answers NONE and records the markers it was asked to write. */
function broker(authorizer: Authorizer | undefined, decided: boolean) {
  const written: string[] = [];
  const txn = { transactionalId: 'tx', producerId: 7, producerEpoch: 1, state: 'Ongoing', timeoutMs: 60_000, partitions: [['orders', 0]], groups: [], startedAt: 1, updatedAt: 1 };
  const transactions = {
    coordinator: {
      addPartitions: async (_id: string, _p: number, _e: number, parts: unknown[]) => parts.map(() => ErrorCode.NONE),
      addOffsets: async () => ErrorCode.NONE,
      endTxn: async () => ErrorCode.NONE,
      txnOffsetCommit: async () => ErrorCode.NONE,
      describe: async () => ({ errorCode: ErrorCode.NONE, txn }),
      list: async () => [txn],
    },
    partitions: {
      decided: async () => decided,
      writeMarker: async (topic: string, p: number) => (written.push(`${topic}-${p}`), ErrorCode.NONE),
    },
  };
  const b = { ...fakeBroker({}), authorizer, transactions } as unknown as BrokerContext;
  (b.metadata as unknown as { getTopic: (n: string) => Promise<unknown> }).getTopic = async (name: string) => ({ name, partitionCount: 1, config: {} });
  return { b, written };
}

const marker = { markers: [{ producerId: 7, producerEpoch: 1, transactionResult: true, coordinatorEpoch: 0, topics: [{ name: 'orders', partitionIndexes: [0] }] }] };
const offsets = { transactionalId: 'tx', groupId: 'g', producerId: 7, producerEpoch: 1, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: '' }] }] };

test('transaction APIs: refused without ACLs with Kafka errors, served once the ACLs exist', async () => {
  const auth = new Authorizer();
  const { b } = broker(auth, false);
  const apt = { v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: 7, v3AndBelowProducerEpoch: 1, v3AndBelowTopics: [{ name: 'orders', partitions: [0] }] };
  assert.equal((await call(addPartitionsToTxn, 3, apt, b)).resultsByTopicV3AndBelow![0]!.resultsByPartition[0]!.partitionErrorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal((await call(addPartitionsToTxn, 4, { transactions: [] }, b)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  assert.equal((await call(addOffsetsToTxn, 3, { transactionalId: 'tx', producerId: 7, producerEpoch: 1, groupId: 'g' }, b)).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal((await call(endTxn, 3, { transactionalId: 'tx', producerId: 7, producerEpoch: 1, committed: true }, b)).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal((await call(txnOffsetCommit, 3, offsets, b)).topics[0]!.partitions[0]!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal((await call(describeTransactions, 0, { transactionalIds: ['tx'] }, b)).transactionStates[0]!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.deepEqual((await call(listTransactions, 1, { stateFilters: [], producerIdFilters: [], durationFilter: -1 }, b)).transactionStates, []);

  // WRITE on the transactional id: the topic and group checks come next.
  auth.load([allow(R.TRANSACTIONAL_ID, 'tx', Op.WRITE)]);
  assert.equal((await call(addPartitionsToTxn, 3, apt, b)).resultsByTopicV3AndBelow![0]!.resultsByPartition[0]!.partitionErrorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal((await call(addOffsetsToTxn, 3, { transactionalId: 'tx', producerId: 7, producerEpoch: 1, groupId: 'g' }, b)).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal((await call(txnOffsetCommit, 3, offsets, b)).topics[0]!.partitions[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal((await call(endTxn, 3, { transactionalId: 'tx', producerId: 7, producerEpoch: 1, committed: true }, b)).errorCode, ErrorCode.NONE);

  auth.load([allow(R.TRANSACTIONAL_ID, 'tx', Op.WRITE), allow(R.TOPIC, 'orders', Op.WRITE), allow(R.GROUP, 'g', Op.READ)]);
  assert.equal((await call(addPartitionsToTxn, 3, apt, b)).resultsByTopicV3AndBelow![0]!.resultsByPartition[0]!.partitionErrorCode, ErrorCode.NONE);
  assert.equal((await call(addOffsetsToTxn, 3, { transactionalId: 'tx', producerId: 7, producerEpoch: 1, groupId: 'g' }, b)).errorCode, ErrorCode.NONE);
  // TxnOffsetCommit reads the topic: WRITE on it is not enough.
  assert.equal((await call(txnOffsetCommit, 3, offsets, b)).topics[0]!.partitions[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  auth.load([allow(R.TRANSACTIONAL_ID, 'tx', Op.WRITE), allow(R.TOPIC, 'orders', Op.READ), allow(R.GROUP, 'g', Op.READ)]);
  assert.equal((await call(txnOffsetCommit, 3, offsets, b)).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  // WRITE implies DESCRIBE: the transaction is visible.
  assert.equal((await call(describeTransactions, 0, { transactionalIds: ['tx'] }, b)).transactionStates[0]!.errorCode, ErrorCode.NONE);
  assert.equal((await call(listTransactions, 1, { stateFilters: [], producerIdFilters: [], durationFilter: -1 }, b)).transactionStates.length, 1);
});

test('WriteTxnMarkers: a marker no stored decision asks for is refused; CLUSTER_ACTION is trusted', async () => {
  const off = broker(undefined, false);
  assert.equal((await call(writeTxnMarkers, 1, marker, off.b)).markers[0]!.topics[0]!.partitions[0]!.errorCode, ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(off.written, []);
  const decided = broker(undefined, true);
  assert.equal((await call(writeTxnMarkers, 1, marker, decided.b)).markers[0]!.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual(decided.written, ['orders-0']);
  const auth = new Authorizer();
  const on = broker(auth, false);
  assert.equal((await call(writeTxnMarkers, 1, marker, on.b)).markers[0]!.topics[0]!.partitions[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  auth.load([allow(R.CLUSTER, CLUSTER_NAME, Op.CLUSTER_ACTION)]);
  assert.equal((await call(writeTxnMarkers, 1, marker, on.b)).markers[0]!.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual(on.written, ['orders-0']);
});

test('Describe/AlterUserScramCredentials need DESCRIBE / ALTER on the cluster', async () => {
  const { b } = broker(new Authorizer(), false);
  assert.equal((await call(describeScram, 0, { users: null }, b)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  const r = await call(alterScram, 0, { deletions: [{ name: 'alice', mechanism: 1 }], upsertions: [] }, b);
  assert.deepEqual(r.results.map((x) => [x.user, x.errorCode]), [['alice', ErrorCode.CLUSTER_AUTHORIZATION_FAILED]]);
});
