// Bounds-checked reader over one frame. Every length and count is checked against the bytes that
// remain BEFORE anything is allocated, so a decode never allocates more than the frame declares:
// `allocated` adds up what each decode created, charged by the wire bytes it stands for (string and
// buffer lengths, array counts, 16 per uuid), and the fuzz test checks it never exceeds the frame size.
import { DecodeError } from './varint.js';

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Largest string length Kafka accepts (int16 max), in both classic and compact form. */
export const MAX_STRING_BYTES = 0x7fff;

export class Reader {
  buf: Buffer;
  pos: number;
  /** Exclusive end of the readable region (narrowed while reading a tagged field). */
  end: number;
  /** Bytes of decoded output created so far (see the file comment). */
  allocated = 0;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.end - this.pos < n) {
      throw new DecodeError('truncated', `need ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
  }

  int8(): number {
    if (this.pos >= this.end) this.need(1);
    return (this.buf[this.pos++] << 24) >> 24;
  }

  uint8(): number {
    if (this.pos >= this.end) this.need(1);
    return this.buf[this.pos++];
  }

  bool(): boolean {
    return this.uint8() !== 0;
  }

  int16(): number {
    if (this.end - this.pos < 2) this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return ((b[p] << 24) | (b[p + 1] << 16)) >> 16;
  }

  uint16(): number {
    if (this.end - this.pos < 2) this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  int32(): number {
    if (this.end - this.pos < 4) this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  }

  uint32(): number {
    return this.int32() >>> 0;
  }

  /** int64 as a JS number (exact within ±2^53). */
  int64(): number {
    if (this.end - this.pos < 8) this.need(8);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 8;
    const hi = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
    const lo = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
    return hi * 4294967296 + lo;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Unsigned varint, at most 32 bits (5 bytes). */
  uvarint(): number {
    const b = this.buf;
    let p = this.pos;
    const end = this.end;
    if (p < end && b[p] < 0x80) {
      this.pos = p + 1;
      return b[p];
    }
    let value = 0;
    let shift = 0;
    for (;;) {
      if (p >= end) throw new DecodeError('truncated', `varint at ${this.pos} runs past the end`);
      const byte = b[p++];
      if (shift === 28 && (byte & 0xf0) !== 0) {
        throw new DecodeError('invalid_varint', `varint at ${this.pos} exceeds 32 bits`);
      }
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    this.pos = p;
    return value >>> 0;
  }

  uuid(): string {
    if (this.end - this.pos < 16) this.need(16);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 16;
    this.allocated += 16;
    let zero = true;
    for (let i = 0; i < 16; i++) {
      if (b[p + i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return ZERO_UUID;
    return (
      HEX[b[p]] + HEX[b[p + 1]] + HEX[b[p + 2]] + HEX[b[p + 3]] + '-' +
      HEX[b[p + 4]] + HEX[b[p + 5]] + '-' + HEX[b[p + 6]] + HEX[b[p + 7]] + '-' +
      HEX[b[p + 8]] + HEX[b[p + 9]] + '-' +
      HEX[b[p + 10]] + HEX[b[p + 11]] + HEX[b[p + 12]] + HEX[b[p + 13]] + HEX[b[p + 14]] + HEX[b[p + 15]]
    );
  }

  /**
   * A compact length (varint n+1) as Kafka's readers see it: the unsigned varint is a Java int, so
   * 2^31 and above are negative, i.e. null.
   */
  private compactLength(): number {
    return (this.uvarint() | 0) - 1;
  }

  /**
   * Length of a string/bytes as classic int16/int32 or compact varint(n+1). Any negative length means
   * null (-1 normally), as in Kafka's generated readers; the caller refuses null where it is illegal.
   */
  private checkedLength(len: number, what: string): number {
    if (len < 0) return -1;
    if (len > this.end - this.pos) {
      throw new DecodeError('truncated', `${what} of ${len} bytes at ${this.pos}, ${this.end - this.pos} left`);
    }
    return len;
  }

  /** A string; null when the wire says null (the caller decides whether null is legal). */
  string(compact: boolean): string | null {
    const len = this.checkedLength(compact ? this.compactLength() : this.int16(), 'string');
    if (len < 0) return null;
    if (len > MAX_STRING_BYTES) throw new DecodeError('invalid_length', `string of ${len} bytes exceeds ${MAX_STRING_BYTES}`);
    const p = this.pos;
    this.pos = p + len;
    this.allocated += len;
    return len === 0 ? '' : this.text(p, len);
  }

  private text(p: number, len: number): string {
    const b = this.buf;
    if (len <= 32) {
      // Short ASCII strings (topic names, ids) are the common case; building them directly beats
      // the native UTF-8 decoder call.
      let s = '';
      for (let i = 0; i < len; i++) {
        const c = b[p + i];
        if (c >= 0x80) return b.toString('utf8', p, p + len);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return b.toString('utf8', p, p + len);
  }

  /** Bytes as a view into the frame; null when the wire says null. */
  bytes(compact: boolean): Buffer | null {
    const len = this.checkedLength(compact ? this.compactLength() : this.int32(), 'bytes');
    if (len < 0) return null;
    const p = this.pos;
    this.pos = p + len;
    this.allocated += len;
    return this.buf.subarray(p, p + len);
  }

  /**
   * An array count; any negative count is null (-1), as in Kafka's readers. The count must fit the
   * remaining bytes at minItemBytes per item (at least 1), so an absurd count fails before any
   * element is created.
   */
  arrayCount(compact: boolean, minItemBytes: number): number {
    const n = compact ? this.compactLength() : this.int32();
    if (n < 0) return -1;
    if (n > 0 && n * (minItemBytes > 0 ? minItemBytes : 1) > this.end - this.pos) {
      throw new DecodeError('invalid_length', `array of ${n} items cannot fit in ${this.end - this.pos} bytes at ${this.pos}`);
    }
    return n;
  }

  /** A view of the next n bytes. */
  view(n: number): Buffer {
    this.need(n);
    const p = this.pos;
    this.pos = p + n;
    this.allocated += n;
    return this.buf.subarray(p, p + n);
  }
}
