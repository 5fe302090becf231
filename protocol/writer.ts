// Accumulates an encoded message as a list of chunks: small values go into a growable scratch
// buffer, large Buffers (record batches, big bytes) are appended as chunks of their own without
// copying. The result is meant for socket.writev / cork+write; Buffer.concat it when one Buffer is needed.

/** Buffers at least this large are emitted as their own chunk instead of being copied. */
export const ZERO_COPY_THRESHOLD = 1024;

const MIN_SCRATCH = 256;
const MAX_SCRATCH = 64 * 1024;

const INT64_MAX = 9223372036854775807; // rounds to 2^63
const TWO_32 = 4294967296;

export class Writer {
  private readonly chunks: Buffer[] = [];
  private flushed = 0;
  buf: Buffer;
  pos = 0;
  /** Start of the scratch region not yet emitted as a chunk. */
  private start = 0;
  private nextScratch: number;

  constructor(sizeHint = MIN_SCRATCH) {
    this.nextScratch = Math.min(Math.max(sizeHint, MIN_SCRATCH), MAX_SCRATCH);
    this.buf = Buffer.allocUnsafe(this.nextScratch);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.flushed + (this.pos - this.start);
  }

  private flush(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.flushed += this.pos - this.start;
    }
    this.start = this.pos;
  }

  /** Makes room for n more bytes in the scratch buffer. */
  ensure(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    this.flush();
    this.nextScratch = Math.min(this.nextScratch * 2, MAX_SCRATCH);
    // The old scratch buffer stays referenced by the emitted chunk; start a fresh one.
    this.buf = Buffer.allocUnsafe(Math.max(n, this.nextScratch));
    this.pos = 0;
    this.start = 0;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = (v >>> 8) & 0xff;
    b[p + 1] = v & 0xff;
    this.pos = p + 2;
  }

  int32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = (v >>> 24) & 0xff;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    this.pos = p + 4;
  }

  /** int64 from a JS number, truncated to an integer and clamped to the int64 range. */
  int64(v: number): void {
    let hi: number;
    let lo: number;
    if (v >= INT64_MAX) {
      hi = 0x7fffffff;
      lo = 0xffffffff;
    } else if (v <= -INT64_MAX) {
      hi = -0x80000000;
      lo = 0;
    } else if (v === v) {
      const t = Math.trunc(v);
      hi = Math.floor(t / TWO_32);
      lo = t - hi * TWO_32;
    } else {
      hi = 0;
      lo = 0;
    }
    this.int32(hi);
    this.int32(lo);
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uvarint(v: number): void {
    this.ensure(5);
    let x = v >>> 0;
    const b = this.buf;
    let p = this.pos;
    while (x >= 0x80) {
      b[p++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    b[p++] = x;
    this.pos = p;
  }

  /** UTF-8 bytes of s, preceded by nothing (the caller writes the length from byteLength). */
  utf8(s: string, byteLength: number): void {
    this.ensure(byteLength);
    if (byteLength === s.length) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
      this.pos = p;
    } else {
      this.pos += this.buf.write(s, this.pos, byteLength, 'utf8');
    }
  }

  /** Appends raw bytes: copied when small, else emitted as their own chunk (no copy). */
  raw(data: Buffer): void {
    const n = data.length;
    if (n >= ZERO_COPY_THRESHOLD) {
      this.flush();
      this.chunks.push(data);
      this.flushed += n;
      return;
    }
    this.ensure(n);
    data.copy(this.buf, this.pos);
    this.pos += n;
  }

  /** The encoded message as chunks. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.flush();
    return this.chunks;
  }
}

/** UTF-8 byte length, with a fast path for ASCII. */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n < 64) {
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
    return n;
  }
  return Buffer.byteLength(s, 'utf8');
}
