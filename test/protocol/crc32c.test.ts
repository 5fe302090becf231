import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../protocol/crc32c.js';

test('crc32c: known vectors (Castagnoli, not zlib CRC-32)', () => {
  assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  // iSCSI test vector (RFC 3720 B.4): 32 bytes ascending 0..31.
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
});

test('crc32c: result is unsigned and can be continued across chunks', () => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog');
  const whole = crc32c(data);
  assert.ok(whole >= 0 && whole <= 0xffffffff);
  assert.equal(crc32c(data.subarray(20), crc32c(data.subarray(0, 20))), whole);
});

test('crc32c: works on a view in the middle of a pooled buffer', () => {
  const pool = Buffer.alloc(100, 0xaa);
  pool.write('123456789', 40, 'ascii');
  assert.equal(crc32c(pool.subarray(40, 49)), 0xe3069283);
});
