// Base-128 varints as Kafka uses them: unsigned varints for compact lengths and tag headers,
// zig-zag signed varints/varlongs inside record batches. Pure functions over Buffers; a decode that
// runs off the end or past the width limit throws DecodeError.

export type DecodeErrorKind =
  | 'truncated'
  | 'invalid_varint'
  | 'invalid_length'
  | 'frame_too_large'
  | 'unknown_api'
  | 'unsupported_version'
  | 'trailing_bytes'
  | 'invalid_value'
  | 'corrupt_batch'
  | 'too_large';

/** The one error type the protocol layer throws for bad input. */
export class DecodeError extends Error {
  readonly kind: DecodeErrorKind;
  constructor(kind: DecodeErrorKind, message: string) {
    super(message);
    this.name = 'DecodeError';
    this.kind = kind;
  }
}

/** Result of a varint read: the value and the offset just past it. */
export interface VarintRead {
  value: number;
  next: number;
}

/** Unsigned 32-bit varint (at most 5 bytes). */
export function readUnsignedVarint(buf: Buffer, offset: number): VarintRead {
  let value = 0;
  let shift = 0;
  let pos = offset;
  for (;;) {
    if (pos >= buf.length) throw new DecodeError('truncated', `varint at ${offset} runs past the end`);
    const b = buf[pos++];
    if (shift === 28 && (b & 0xf0) !== 0) throw new DecodeError('invalid_varint', `varint at ${offset} exceeds 32 bits`);
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value: value >>> 0, next: pos };
    shift += 7;
  }
}

/** Zig-zag signed 32-bit varint. */
export function readVarint(buf: Buffer, offset: number): VarintRead {
  const r = readUnsignedVarint(buf, offset);
  r.value = (r.value >>> 1) ^ -(r.value & 1);
  return r;
}

/**
 * Zig-zag signed 64-bit varlong, returned as a JS number. Values outside ±2^53 lose precision
 * (record timestamp deltas never get there); more than 10 bytes is invalid.
 */
export function readVarlong(buf: Buffer, offset: number): VarintRead {
  // Read as unsigned 64-bit in two halves to stay exact up to 2^53.
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let pos = offset;
  for (let i = 0; ; i++) {
    if (i === 10) throw new DecodeError('invalid_varint', `varlong at ${offset} exceeds 64 bits`);
    if (pos >= buf.length) throw new DecodeError('truncated', `varlong at ${offset} runs past the end`);
    const b = buf[pos++];
    const bits = b & 0x7f;
    if (shift < 28) lo |= bits << shift;
    else if (shift === 28) {
      lo |= (bits & 0x0f) << 28;
      hi |= bits >>> 4;
    } else hi |= bits << (shift - 32);
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  lo >>>= 0;
  hi >>>= 0;
  // zig-zag: value = (u >>> 1) ^ -(u & 1)
  const negative = (lo & 1) === 1;
  const uHalf = hi * 0x80000000 + (lo >>> 1); // u >>> 1 as a double
  return { value: negative ? -uHalf - 1 : uHalf, next: pos };
}

export function sizeOfUnsignedVarint(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
}

export function sizeOfVarlong(value: number): number {
  let u = zigzag64(value);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

/** Writes an unsigned varint at offset; returns the offset after it. */
export function writeUnsignedVarint(buf: Buffer, offset: number, value: number): number {
  let v = value >>> 0;
  while (v >= 0x80) {
    buf[offset++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[offset++] = v;
  return offset;
}

export function writeVarint(buf: Buffer, offset: number, value: number): number {
  return writeUnsignedVarint(buf, offset, ((value << 1) ^ (value >> 31)) >>> 0);
}

function zigzag64(value: number): bigint {
  const v = BigInt.asIntN(64, BigInt(Math.trunc(value)));
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
}

export function writeVarlong(buf: Buffer, offset: number, value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return writeVarint(buf, offset, value);
  let u = zigzag64(value);
  while (u >= 0x80n) {
    buf[offset++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[offset++] = Number(u);
  return offset;
}
