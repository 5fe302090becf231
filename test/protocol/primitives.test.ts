import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader, ZERO_UUID } from '../../protocol/reader.js';
import { Writer, ZERO_COPY_THRESHOLD } from '../../protocol/writer.js';
import { DecodeError } from '../../protocol/varint.js';

const isDecodeError = (kind: string) => (e: unknown) => e instanceof DecodeError && e.kind === kind;
const bytes = (w: Writer) => Buffer.concat(w.finish());

test('fixed-width integers are big-endian, signed where Kafka says so', () => {
  const w = new Writer();
  w.int8(-1);
  w.int16(-2);
  w.int32(-3);
  w.int64(-4);
  w.int64(2 ** 53 - 1);
  w.float64(1.5);
  w.bool(true);
  w.int16(0xfffe); // uint16 written through int16
  w.int32(0xfffffffd); // uint32
  const b = bytes(w);
  assert.equal(b.toString('hex'), 'ff' + 'fffe' + 'fffffffd' + 'fffffffffffffffc' + '001fffffffffffff' + '3ff8000000000000' + '01' + 'fffe' + 'fffffffd');
  const r = new Reader(b);
  assert.equal(r.int8(), -1);
  assert.equal(r.int16(), -2);
  assert.equal(r.int32(), -3);
  assert.equal(r.int64(), -4);
  assert.equal(r.int64(), 2 ** 53 - 1);
  assert.equal(r.float64(), 1.5);
  assert.equal(r.bool(), true);
  assert.equal(r.uint16(), 0xfffe);
  assert.equal(r.uint32(), 0xfffffffd);
  assert.equal(r.remaining, 0);
  assert.throws(() => r.int8(), isDecodeError('truncated'));
});

test('int64 extremes and unsigned varints', () => {
  const w = new Writer();
  w.int64(Number.MIN_SAFE_INTEGER);
  w.int64(-(2 ** 63));
  for (const v of [0, 1, 127, 128, 300, 2 ** 21, 2 ** 32 - 1]) w.uvarint(v);
  const r = new Reader(bytes(w));
  assert.equal(r.int64(), Number.MIN_SAFE_INTEGER);
  assert.equal(r.int64(), -(2 ** 63));
  for (const v of [0, 1, 127, 128, 300, 2 ** 21, 2 ** 32 - 1]) assert.equal(r.uvarint(), v);
  assert.throws(() => new Reader(Buffer.from([0x80, 0x80])).uvarint(), isDecodeError('truncated'));
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f])).uvarint(), isDecodeError('invalid_varint'));
});

test('strings: classic and compact, nullable, unicode', () => {
  for (const s of ['', 'abc', 'ünïcødé 日本 🚀', 'x'.repeat(1000)]) {
    const len = Buffer.byteLength(s);
    const w = new Writer(8);
    w.int16(len);
    w.utf8(s, len);
    w.uvarint(len + 1);
    w.utf8(s, len);
    const r = new Reader(bytes(w));
    assert.equal(r.string(false), s);
    assert.equal(r.string(true), s);
    assert.equal(r.remaining, 0);
  }
  assert.equal(new Reader(Buffer.from('ffff', 'hex')).string(false), null);
  assert.equal(new Reader(Buffer.from('00', 'hex')).string(true), null);
  // Any negative length is null, as Kafka's generated readers take it (non-nullable fields refuse it).
  assert.equal(new Reader(Buffer.from('fffe', 'hex')).string(false), null);
  assert.equal(new Reader(Buffer.from('8000', 'hex')).string(false), null);
  assert.throws(() => new Reader(Buffer.from('0005616263', 'hex')).string(false), isDecodeError('truncated'));
  assert.equal(new Reader(Buffer.from('ffffffff0f', 'hex')).string(true), null); // 2^32-1 is a Java int -1
  assert.throws(() => new Reader(Buffer.from('ffffffff07', 'hex')).string(true), isDecodeError('truncated'));
});

test('bytes are views; lengths are checked before anything is allocated', () => {
  const frame = Buffer.from('00000003010203' + '04aabbcc' + 'ffffffff' + '00', 'hex');
  const r = new Reader(frame);
  const a = r.bytes(false)!;
  assert.deepEqual([...a], [1, 2, 3]);
  assert.equal(a.buffer, frame.buffer);
  assert.deepEqual([...r.bytes(true)!], [0xaa, 0xbb, 0xcc]);
  assert.equal(r.bytes(false), null);
  assert.equal(r.bytes(true), null);
  assert.equal(r.allocated, 6);
  assert.throws(() => new Reader(Buffer.from('7fffffff00', 'hex')).bytes(false), isDecodeError('truncated'));
  assert.equal(new Reader(Buffer.from('80000000', 'hex')).bytes(false), null);
});

test('array counts must fit the remaining bytes', () => {
  assert.equal(new Reader(Buffer.from('ffffffff', 'hex')).arrayCount(false, 4), -1);
  assert.equal(new Reader(Buffer.from('00', 'hex')).arrayCount(true, 4), -1);
  assert.equal(new Reader(Buffer.from('0000000200000001', 'hex')).arrayCount(false, 2), 2);
  assert.throws(() => new Reader(Buffer.from('0000000200000001', 'hex')).arrayCount(false, 4), isDecodeError('invalid_length'));
  assert.throws(() => new Reader(Buffer.from('7fffffff', 'hex')).arrayCount(false, 1), isDecodeError('invalid_length'));
  assert.equal(new Reader(Buffer.from('fffffffe', 'hex')).arrayCount(false, 1), -1);
  assert.equal(new Reader(Buffer.from('ffffffff0f', 'hex')).arrayCount(true, 1), -1);
  assert.throws(() => new Reader(Buffer.from('ffffffff07', 'hex')).arrayCount(true, 1), isDecodeError('invalid_length'));
});

test('uuid: canonical lowercase, all-zero constant', () => {
  const r = new Reader(Buffer.from('00112233445566778899AABBCCDDEEFF' + '00'.repeat(16), 'hex'));
  assert.equal(r.uuid(), '00112233-4455-6677-8899-aabbccddeeff');
  assert.equal(r.uuid(), ZERO_UUID);
  assert.throws(() => r.uuid(), isDecodeError('truncated'));
});

test('writer: large buffers become their own chunks, small ones are copied, scratch grows', () => {
  const big = Buffer.alloc(ZERO_COPY_THRESHOLD, 7);
  const small = Buffer.alloc(10, 8);
  const w = new Writer(16);
  w.int32(1);
  w.raw(big);
  w.raw(small);
  for (let i = 0; i < 10000; i++) w.int32(i);
  assert.equal(w.length, 4 + big.length + 10 + 40000);
  const chunks = w.finish();
  assert.equal(chunks[1], big);
  assert.ok(!chunks.includes(small));
  const all = Buffer.concat(chunks);
  assert.equal(all.length, 4 + big.length + 10 + 40000);
  assert.equal(all.readInt32BE(all.length - 4), 9999);
});
