// Hand-checked byte vectors: each frame below was written out field by field from the protocol
// notes (../shared/kafka-protocol/README.md §3-§6), not produced by our encoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiKey, decodeRequest, decodeResponse, encodeRequest, encodeResponse, type ApiVersionsResponse, type MetadataResponse,
} from '../../protocol/index.js';

const hex = (...parts: string[]) => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

test('ApiVersions v0 request: header v1, empty body', () => {
  const frame = hex(
    '00000011', // size 17
    '0012', '0000', '00000001', // api key 18, version 0, correlation id 1
    '0007', ascii('kafkajs'), // client id: int16 length + bytes
  );
  assert.deepEqual(Buffer.concat(encodeRequest(ApiKey.ApiVersions, 0, 1, 'kafkajs', {})), frame);
  const d = decodeRequest(frame.subarray(4));
  assert.equal(d.apiKey, ApiKey.ApiVersions);
  assert.deepEqual(d.header, { requestApiKey: 18, requestApiVersion: 0, correlationId: 1, clientId: 'kafkajs' });
  assert.deepEqual(d.body, { clientSoftwareName: '', clientSoftwareVersion: '' });
});

test('ApiVersions v3 request: header v2 with int16 client id and a tag byte, compact body', () => {
  const frame = hex(
    '00000024', // size 36
    '0012', '0003', '00000002',
    '0007', ascii('rdkafka'), // client id stays an int16-length string in header v2
    '00', // header tagged fields
    '0b', ascii('librdkafka'), // compact string: varint(length + 1)
    '06', ascii('2.0.2'),
    '00', // body tagged fields
  );
  assert.deepEqual(
    Buffer.concat(encodeRequest(ApiKey.ApiVersions, 3, 2, 'rdkafka', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' })),
    frame,
  );
  const d = decodeRequest(frame.subarray(4));
  assert.deepEqual(d.header, { requestApiKey: 18, requestApiVersion: 3, correlationId: 2, clientId: 'rdkafka' });
  assert.deepEqual(d.body, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
});

test('null client id is int16 -1', () => {
  const frame = hex('0000000a', '0012', '0002', '00000003', 'ffff');
  assert.deepEqual(Buffer.concat(encodeRequest(ApiKey.ApiVersions, 2, 3, null, {})), frame);
  assert.equal(decodeRequest(frame.subarray(4)).header.clientId, null);
});

test('ApiVersions v3 response: header v0 (no tag byte), compact array, empty tagged section', () => {
  const frame = hex(
    '0000001a', // size 26
    '00000002', // correlation id; response header v0 even though v3 is flexible
    '0000', // error code
    '03', // compact array: 2 entries
    '0000', '0000', '000b', '00', // Produce 0-11, tags
    '0012', '0000', '0004', '00', // ApiVersions 0-4, tags
    '00000000', // throttle time
    '00', // tagged fields: all at their defaults, none written
  );
  const body: ApiVersionsResponse = {
    errorCode: 0,
    apiKeys: [
      { apiKey: 0, minVersion: 0, maxVersion: 11 },
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
    ],
    throttleTimeMs: 0,
  };
  const chunks = encodeResponse(ApiKey.ApiVersions, 3, 2, body);
  assert.deepEqual(Buffer.concat(chunks), frame);
  const { header, body: decoded } = decodeResponse(ApiKey.ApiVersions, 3, frame.subarray(4));
  assert.deepEqual(header, { correlationId: 2 });
  assert.deepEqual(decoded, {
    ...body,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  });
});

test('ApiVersions v3 response with tagged fields set writes them in tag order', () => {
  const body: ApiVersionsResponse = { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 5, zkMigrationReady: true };
  const frame = Buffer.concat(encodeResponse(ApiKey.ApiVersions, 3, 9, body));
  assert.deepEqual(
    frame.subarray(4),
    hex('00000009', '0000', '01', '00000000', '02', '01', '08', '0000000000000005', '03', '01', '01'),
  );
});

test('Metadata v12 response: header v1, uuid, nullable compact strings, int32 arrays', () => {
  const frame = hex(
    '0000005c', // size 92
    '00000005', '00', // correlation id, header tagged fields
    '00000000', // throttle
    '02', // brokers: 1
    '00000001', '0a', ascii('localhost'), '00002384', '00', '00', // node 1, localhost:9092, rack null, tags
    '03', ascii('c1'), // cluster id
    '00000001', // controller id
    '02', // topics: 1
    '0000', '02', ascii('t'), // error code, name
    '00112233445566778899aabbccddeeff', // topic id
    '00', // is internal
    '02', // partitions: 1
    '0000', '00000000', '00000001', '00000000', // error, index 0, leader 1, leader epoch 0
    '02', '00000001', '02', '00000001', '01', '00', // replicas [1], isr [1], offline [], tags
    '80000000', '00', // topic authorized operations (default INT32_MIN), tags
    '00', // body tags
  );
  const body: MetadataResponse = {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
    clusterId: 'c1',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 't',
        topicId: '00112233-4455-6677-8899-aabbccddeeff',
        isInternal: false,
        partitions: [
          { errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] },
        ],
        topicAuthorizedOperations: -2147483648,
      },
    ],
  };
  assert.deepEqual(Buffer.concat(encodeResponse(ApiKey.Metadata, 12, 5, body)), frame);
  const { header, body: decoded } = decodeResponse(ApiKey.Metadata, 12, frame.subarray(4));
  assert.deepEqual(header, { correlationId: 5 });
  assert.deepEqual(decoded, { ...body, clusterAuthorizedOperations: -2147483648 });
});

test('Produce v3 request: classic nullable string, int32 array count, int32-length records', () => {
  const records = Buffer.from('0102030405', 'hex');
  const frame = hex(
    '0000002a', // size 42
    '0000', '0003', '00000007', 'ffff', // produce v3, correlation 7, null client id
    'ffff', // transactional id null
    'ffff', '00001388', // acks -1, timeout 5000
    '00000001', '0001', ascii('t'), // 1 topic "t"
    '00000001', '00000002', // 1 partition, index 2
    '00000005', '0102030405', // records
  );
  assert.deepEqual(
    Buffer.concat(encodeRequest(ApiKey.Produce, 3, 7, null, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 2, records }] }] })),
    frame,
  );
  const d = decodeRequest(frame.subarray(4));
  assert.equal(d.apiKey, ApiKey.Produce);
  if (d.apiKey !== ApiKey.Produce) return;
  assert.deepEqual(d.body.topicData[0].partitionData[0].records, records);
});
