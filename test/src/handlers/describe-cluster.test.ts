import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/60-describe-cluster.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_AUTHORIZED_OPERATIONS } from '../../../src/topics.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf } from './admin-fixtures.js';

const brokers = [
  { nodeId: 4, host: 'h4', port: 9094, rack: 'r' },
  { nodeId: 2, host: 'h2', port: 9092, rack: null },
];

test('DescribeCluster advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.DescribeCluster)]);
});

test('DescribeCluster: brokers, lowest node id as controller, cluster id, at every version', async () => {
  const broker = fakeBroker({ nodeId: 4, brokers });
  for (const v of versionsOf(handler)) {
    const res = await call(handler, v, { includeClusterAuthorizedOperations: false, endpointType: 1 }, broker);
    assert.equal(res.errorCode, ErrorCode.NONE, `v${v}`);
    assert.equal(res.clusterId, 'test-cluster-id');
    assert.equal(res.controllerId, 2);
    assert.deepEqual(res.brokers.map((b) => [b.brokerId, b.host, b.port, b.rack]), [
      [4, 'h4', 9094, 'r'],
      [2, 'h2', 9092, null],
    ]);
    assert.equal(res.clusterAuthorizedOperations, AUTHORIZED_OPERATIONS_OMITTED);
    if (v >= 1) assert.equal(res.endpointType, 1);
    const ops = await call(handler, v, { includeClusterAuthorizedOperations: true, endpointType: 1 }, broker);
    assert.equal(ops.clusterAuthorizedOperations, CLUSTER_AUTHORIZED_OPERATIONS);
  }
});

test('DescribeCluster v1: controller endpoints → MISMATCHED_ENDPOINT_TYPE, unknown → UNSUPPORTED_ENDPOINT_TYPE', async () => {
  const broker = fakeBroker();
  const ctl = await call(handler, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 }, broker);
  assert.equal(ctl.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
  assert.deepEqual(ctl.brokers, []);
  const odd = await call(handler, 1, { includeClusterAuthorizedOperations: false, endpointType: 7 }, broker);
  assert.equal(odd.errorCode, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);
});

test('DescribeCluster errorResponse encodes at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.DescribeCluster, v, { includeClusterAuthorizedOperations: false });
    const res = roundTripResponse(ApiKey.DescribeCluster, v, handler.errorResponse(body, ErrorCode.KAFKA_STORAGE_ERROR, requestContext(broker, ApiKey.DescribeCluster, v)));
    assert.equal(res.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  }
});
