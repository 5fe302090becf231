// CRC-32C (Castagnoli), the checksum of record batch v2. Kafka uses this polynomial, not zlib's
// CRC-32. The native package runs at several GB/s, so checksumming a whole batch is cheap.
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC-32C of `buf`, as an unsigned 32-bit number. Pass a previous result as `initial` to continue
 * a checksum over several chunks: crc32c(b, crc32c(a)) === crc32c(concat(a, b)).
 */
export function crc32c(buf: Uint8Array, initial = 0): number {
  return nativeCrc32c(buf, initial) >>> 0;
}
