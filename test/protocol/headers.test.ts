import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_INFO, ApiKey, DecodeError, decodeRequest, decodeRequestBody, decodeRequestHeader, encodeRequest,
  requestHeaderVersion, responseHeaderVersion, type ApiKeyValue,
} from '../../protocol/index.js';

// key → [min, max, first flexible version or null], written out from the protocol notes' header table
// (../shared/kafka-protocol/README.md §5) plus our own OffsetDelete, WriteTxnMarkers, DescribeTransactions,
// ListTransactions, Describe/Create/DeleteAcls and Describe/AlterUserScramCredentials.
const TABLE: Record<number, [number, number, number | null]> = {
  0: [0, 11, 9], 1: [0, 17, 12], 2: [0, 10, 6], 3: [0, 12, 9], 8: [0, 9, 8], 9: [0, 9, 6], 10: [0, 6, 3],
  11: [0, 9, 6], 12: [0, 4, 4], 13: [0, 5, 4], 14: [0, 5, 4], 15: [0, 5, 5], 16: [0, 5, 3], 17: [0, 1, null],
  18: [0, 4, 3], 19: [0, 7, 5], 20: [0, 6, 4], 21: [0, 2, 2], 22: [0, 5, 2], 23: [0, 4, 4], 24: [0, 5, 3],
  25: [0, 4, 3], 26: [0, 5, 3], 27: [0, 1, 1], 28: [0, 4, 3], 29: [0, 3, 2], 30: [0, 3, 2], 31: [0, 3, 2], 32: [0, 4, 4], 33: [0, 2, 2], 36: [0, 2, 2], 37: [0, 3, 2],
  42: [0, 2, 2], 44: [0, 1, 1], 47: [0, 0, null], 50: [0, 0, 0], 51: [0, 0, 0], 60: [0, 1, 0], 61: [0, 0, 0], 65: [0, 0, 0], 66: [0, 1, 0], 68: [0, 1, 0], 69: [0, 0, 0],
};

const isDecodeError = (kind: string) => (e: unknown) => e instanceof DecodeError && e.kind === kind;

test('API table matches the reference header table', () => {
  assert.deepEqual(Object.keys(API_INFO).map(Number).sort((a, b) => a - b), Object.keys(TABLE).map(Number).sort((a, b) => a - b));
  for (const [key, [min, max, flex]] of Object.entries(TABLE)) {
    const info = API_INFO[Number(key) as ApiKeyValue];
    assert.deepEqual(info.validVersions, [min, max], info.name);
    assert.equal(info.flexibleFrom, flex, info.name);
    assert.equal(ApiKey[info.name], Number(key));
  }
  assert.equal(API_INFO[ApiKey.EndTxn].latestVersionUnstable, true);
  assert.equal(API_INFO[ApiKey.Produce].latestVersionUnstable, false);
  assert.deepEqual(API_INFO[ApiKey.Produce].deprecatedVersions, [0, 6]);
  assert.equal(API_INFO[ApiKey.Heartbeat].deprecatedVersions, null);
});

test('header versions per API version', () => {
  for (const [key, [min, max, flex]] of Object.entries(TABLE)) {
    const k = Number(key);
    for (let v = min; v <= max; v++) {
      const flexible = flex !== null && v >= flex;
      assert.equal(requestHeaderVersion(k, v), flexible ? 2 : 1, `request header ${k} v${v}`);
      assert.equal(responseHeaderVersion(k, v), k === 18 ? 0 : flexible ? 1 : 0, `response header ${k} v${v}`);
    }
  }
  // Out-of-range versions still get a header version, so the request can be answered.
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 7), 2);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 99), 2);
  assert.equal(requestHeaderVersion(ApiKey.Produce, -1), 1);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 5), 1);
  assert.throws(() => requestHeaderVersion(4, 0), isDecodeError('unknown_api'));
});

test('unsupported version: header decodes, body is a typed error', () => {
  // ApiVersions v7 from a future client: header v2 (flexible) followed by a body we do not know.
  const frame = Buffer.from('0012000700000009000361626300' + '0000', 'hex');
  const { header, bodyOffset } = decodeRequestHeader(frame);
  assert.deepEqual(header, { requestApiKey: 18, requestApiVersion: 7, correlationId: 9, clientId: 'abc' });
  assert.equal(bodyOffset, 14);
  assert.throws(() => decodeRequestBody(ApiKey.ApiVersions, 7, frame, bodyOffset), isDecodeError('unsupported_version'));
  assert.throws(() => decodeRequest(frame), isDecodeError('unsupported_version'));
});

test('unknown api key, truncated header, trailing bytes', () => {
  assert.throws(() => decodeRequestHeader(Buffer.from('0004000000000001ffff', 'hex')), isDecodeError('unknown_api'));
  assert.throws(() => decodeRequestHeader(Buffer.from('0012', 'hex')), isDecodeError('truncated'));
  assert.throws(() => decodeRequestHeader(Buffer.from('00120000000000010005616263', 'hex')), isDecodeError('truncated'));
  const ok = Buffer.concat(encodeRequest(ApiKey.Heartbeat, 3, 1, 'c', { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null })).subarray(4);
  decodeRequest(ok);
  // Bytes after the body are ignored, as Kafka does (librdkafka 2.x sends three after Metadata v12).
  assert.deepEqual(decodeRequest(Buffer.concat([ok, Buffer.from([0, 0, 0])])).body, decodeRequest(ok).body);
  let trailing = -1;
  decodeRequestBody(ApiKey.Heartbeat, 3, Buffer.concat([ok, Buffer.from([0, 0, 0])]), decodeRequestHeader(ok).bodyOffset, (n) => (trailing = n));
  assert.equal(trailing, 3);
  assert.throws(() => decodeRequest(ok.subarray(0, ok.length - 1)), isDecodeError('truncated'));
});

test('request header v2 keeps unknown tagged fields', () => {
  const frame = Buffer.from('00120003' + '00000001' + 'ffff' + '01' + '0502abcd' + '01' + '01' + '00', 'hex');
  const { header, body } = decodeRequest(frame);
  assert.equal(header.clientId, null);
  assert.deepEqual(header._unknownTaggedFields, [{ tag: 5, data: Buffer.from('abcd', 'hex') }]);
  assert.deepEqual(body, { clientSoftwareName: '', clientSoftwareVersion: '' });
});
