import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DecodeError, readUnsignedVarint, readVarint, readVarlong, sizeOfUnsignedVarint, sizeOfVarint,
  sizeOfVarlong, writeUnsignedVarint, writeVarint, writeVarlong,
} from '../../protocol/varint.js';

test('unsigned varint: known encodings and round trips', () => {
  const buf = Buffer.alloc(10);
  assert.equal(writeUnsignedVarint(buf, 0, 300), 2);
  assert.deepEqual([...buf.subarray(0, 2)], [0xac, 0x02]);
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 32 - 1]) {
    const end = writeUnsignedVarint(buf, 0, v);
    assert.equal(end, sizeOfUnsignedVarint(v));
    assert.deepEqual(readUnsignedVarint(buf, 0), { value: v, next: end });
  }
});

test('zig-zag varint and varlong round trips', () => {
  const buf = Buffer.alloc(10);
  for (const v of [0, -1, 1, -64, 63, 64, -65, 2 ** 31 - 1, -(2 ** 31)]) {
    const end = writeVarint(buf, 0, v);
    assert.equal(end, sizeOfVarint(v));
    assert.equal(readVarint(buf, 0).value, v);
  }
  for (const v of [0, -1, 1, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1700000000000, -1700000000000]) {
    const end = writeVarlong(buf, 0, v);
    assert.equal(end, sizeOfVarlong(v), `size of ${v}`);
    assert.deepEqual(readVarlong(buf, 0), { value: v, next: end }, `value ${v}`);
  }
  // zig-zag: -1 is 0x01, 1 is 0x02
  writeVarint(buf, 0, -1);
  assert.equal(buf[0], 1);
  writeVarlong(buf, 0, 1);
  assert.equal(buf[0], 2);
});

test('bad varints are typed decode errors', () => {
  assert.throws(() => readUnsignedVarint(Buffer.from([0x80, 0x80]), 0), (e: unknown) => e instanceof DecodeError && e.kind === 'truncated');
  assert.throws(() => readUnsignedVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), 0), (e: unknown) => e instanceof DecodeError && e.kind === 'invalid_varint');
  assert.throws(() => readVarlong(Buffer.alloc(11, 0xff), 0), (e: unknown) => e instanceof DecodeError && e.kind === 'invalid_varint');
});
