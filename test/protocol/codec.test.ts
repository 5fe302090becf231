// Round trip of every version of every schema: decode(encode(x)) deep-equals x and re-encoding the
// decoded value gives identical bytes. Values come from the schema itself (nulls where nullable,
// tagged fields, unknown tags, unicode strings, large zero-copy byte fields).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMessage, decodeMessage, encodeMessage } from '../../protocol/codec.js';
import { API_INFO, OTHER_SCHEMAS } from '../../protocol/generated/index.js';
import type { MessageSchema } from '../../protocol/schema.js';
import { randomMessageValue, rng, versionsOf } from './schema-values.js';

const schemas: MessageSchema[] = [
  ...Object.values(API_INFO).flatMap((info) => [info.requestSchema, info.responseSchema]),
  ...Object.values(OTHER_SCHEMAS),
];

function roundTrip(schema: MessageSchema, version: number, value: Record<string, unknown>, what: string): void {
  const chunks = encodeMessage(schema, version, value);
  const bytes = Buffer.concat(chunks);
  const { value: decoded, offset } = decodeMessage<Record<string, unknown>>(schema, version, bytes);
  assert.equal(offset, bytes.length, `${what}: decode consumed ${offset} of ${bytes.length}`);
  assert.deepStrictEqual(decoded, value, what);
  const again = Buffer.concat(encodeMessage(schema, version, decoded));
  assert.ok(again.equals(bytes), `${what}: re-encoding differs`);
}

test('every schema has a plan at every version', () => {
  let n = 0;
  for (const schema of schemas) {
    for (const v of versionsOf(schema)) {
      const plan = compileMessage(schema, v);
      assert.equal(plan.version, v);
      n++;
    }
  }
  assert.ok(n > 400, `only ${n} schema versions`);
});

test('round trip: every version of every schema, random values', () => {
  const r = rng(12345);
  let cases = 0;
  for (const schema of schemas) {
    for (const v of versionsOf(schema)) {
      for (let i = 0; i < 12; i++) {
        const opts = i === 0 ? { nullRate: 1, unknownTagRate: 0, maxItems: 0 } : i === 1 ? { nullRate: 0, unknownTagRate: 1 } : {};
        const value = randomMessageValue(r, schema, v, opts);
        roundTrip(schema, v, value, `${schema.name} v${v} #${i}`);
        cases++;
      }
    }
  }
  assert.ok(cases > 4000);
});

test('encoding with fields omitted writes defaults; decoding fills every field', () => {
  for (const schema of schemas) {
    for (const v of versionsOf(schema)) {
      const bytes = Buffer.concat(encodeMessage(schema, v, {}));
      const { value } = decodeMessage<Record<string, unknown>>(schema, v, bytes);
      for (const f of schema.fields) assert.ok(f.name in value, `${schema.name} v${v} lacks ${f.name}`);
      // The default value encodes to the same bytes as the empty object.
      assert.ok(Buffer.concat(encodeMessage(schema, v, value)).equals(bytes), `${schema.name} v${v}`);
    }
  }
});

test('records: Buffer[] chunks are written without copying and decode as one view', () => {
  const { ProduceRequestSchema } = { ProduceRequestSchema: API_INFO[0].requestSchema };
  const big1 = Buffer.alloc(64 * 1024, 1);
  const big2 = Buffer.alloc(32 * 1024, 2);
  const small = Buffer.from([9, 9, 9]);
  for (const v of [7, 9, 11]) {
    const chunks = encodeMessage(ProduceRequestSchema, v, {
      acks: 1,
      timeoutMs: 1000,
      topicData: [{ name: 't', partitionData: [{ index: 0, records: [big1, small, big2] }] }],
    });
    assert.ok(chunks.includes(big1), 'large chunk is emitted as is');
    assert.ok(chunks.includes(big2), 'large chunk is emitted as is');
    const bytes = Buffer.concat(chunks);
    const { value } = decodeMessage<{ topicData: Array<{ partitionData: Array<{ records: Buffer }> }> }>(ProduceRequestSchema, v, bytes);
    const rec = value.topicData[0].partitionData[0].records;
    assert.equal(rec.length, big1.length + 3 + big2.length);
    assert.equal(rec.buffer, bytes.buffer, 'records is a view into the frame');
    assert.ok(rec.equals(Buffer.concat([big1, small, big2])));
  }
});

test('int64 is clamped to the int64 range on encode', () => {
  const schema = API_INFO[0].responseSchema;
  const enc = (baseOffset: number) => {
    const bytes = Buffer.concat(encodeMessage(schema, 3, { responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset }] }] }));
    // responses count (4) + name (2 + 1) + partitions count (4) + index (4) + errorCode (2) = 17
    return bytes.subarray(17, 25).toString('hex');
  };
  assert.equal(enc(2 ** 64), '7fffffffffffffff');
  assert.equal(enc(-(2 ** 64)), '8000000000000000');
  assert.equal(enc(-1), 'ffffffffffffffff');
  assert.equal(enc(2 ** 53 - 1), '001fffffffffffff');
  assert.equal(enc(-(2 ** 53) + 1), 'ffe0000000000001');
  assert.equal(enc(1.9), '0000000000000001');
});

test('encoding null into a non-nullable field is an error', () => {
  const schema = API_INFO[3].responseSchema; // Metadata
  assert.throws(() => encodeMessage(schema, 1, { brokers: null, topics: [] }), TypeError);
  assert.throws(() => encodeMessage(schema, 11, { brokers: [], topics: [{ name: null, partitions: [] }] }), TypeError);
  // topic name is nullable from v12
  encodeMessage(schema, 12, { brokers: [], topics: [{ name: null, partitions: [] }] });
  assert.throws(() => encodeMessage(schema, 12, { brokers: [], topics: [{ name: 't', topicId: 'not-a-uuid', partitions: [] }] }), TypeError);
});

test('any negative length or count decodes as null, as in Kafka\'s readers; non-nullable fields refuse it', () => {
  const schema = API_INFO[3].requestSchema; // Metadata: topics nullable from v1
  const minusTwo = Buffer.from('fffffffe', 'hex');
  assert.equal(decodeMessage<{ topics: unknown }>(schema, 1, minusTwo).value.topics, null);
  assert.throws(() => decodeMessage(schema, 0, minusTwo), (e: unknown) => (e as { kind?: string }).kind === 'invalid_value');
});

test('unknown tagged fields are kept and re-emitted in tag order among known ones', () => {
  const schema = API_INFO[18].responseSchema; // ApiVersions: known tags 0-3 at v3
  const value = {
    errorCode: 0,
    apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11, _unknownTaggedFields: [{ tag: 2, data: Buffer.from([0xee]) }] }],
    throttleTimeMs: 0,
    finalizedFeaturesEpoch: 3,
    _unknownTaggedFields: [
      { tag: 9, data: Buffer.from([0x09]) },
      { tag: 4, data: Buffer.from([0x04, 0x44]) },
    ],
  };
  const bytes = Buffer.concat(encodeMessage(schema, 3, value));
  assert.equal(
    bytes.toString('hex'),
    '0000' + '02' + '0000' + '0000' + '000b' + '01' + '0201ee' + '00000000' + '03' + '0108' + '0000000000000003' + '04020444' + '090109',
  );
  const { value: decoded } = decodeMessage<Record<string, any>>(schema, 3, bytes);
  assert.deepEqual(decoded._unknownTaggedFields, [
    { tag: 4, data: Buffer.from([0x04, 0x44]) },
    { tag: 9, data: Buffer.from([0x09]) },
  ]);
  assert.deepEqual(decoded.apiKeys[0]._unknownTaggedFields, [{ tag: 2, data: Buffer.from([0xee]) }]);
  assert.equal(decoded.finalizedFeaturesEpoch, 3);
  assert.ok(Buffer.concat(encodeMessage(schema, 3, decoded)).equals(bytes));
});

test('a tagged field whose size disagrees with its value is a decode error', () => {
  const schema = API_INFO[18].responseSchema;
  // tag 1 (int64) declared with size 4
  const bad = Buffer.from('0000' + '01' + '00000000' + '01' + '0104' + '00000003', 'hex');
  assert.throws(() => decodeMessage(schema, 3, bad), (e: unknown) => e instanceof Error && e.name === 'DecodeError');
});
