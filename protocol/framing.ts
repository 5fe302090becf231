// Splits a TCP byte stream into Kafka frames (int32 size + size bytes). Pure: chunks in, frames out.
// Frames are views into the pushed chunks when they lie inside one chunk; a frame that spans chunks is
// copied once, when it is complete. A size is validated as soon as its 4 bytes arrive, so a hostile
// peer cannot make us buffer more than maxFrameBytes for one frame.
import { DecodeError } from './varint.js';

/** Default largest accepted frame: 100 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 104_857_600;

export interface FrameDecoderOptions {
  /** Largest accepted frame size (excluding the 4-byte size); default 100 MiB. */
  maxFrameBytes?: number;
}

export class FrameDecoder {
  readonly maxFrameBytes: number;
  private readonly chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  private buffered = 0;
  /** Size of the frame being assembled, or -1 while its size prefix is incomplete. */
  private need = -1;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received but not yet returned as part of a frame (including a partial size prefix). */
  get bufferedBytes(): number {
    return this.need >= 0 ? this.buffered + 4 : this.buffered;
  }

  /** Adds received bytes; returns the frames completed by them (size prefix stripped). */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const size = this.readSize();
        if (size < 0) throw new DecodeError('invalid_length', `negative frame size ${size}`);
        if (size > this.maxFrameBytes) {
          throw new DecodeError('frame_too_large', `frame of ${size} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        this.need = size;
      }
      if (this.buffered < this.need) break;
      frames.push(this.take(this.need));
      this.need = -1;
    }
    return frames;
  }

  private readSize(): number {
    const first = this.chunks[0];
    if (first.length - this.offset >= 4) {
      const size = first.readInt32BE(this.offset);
      this.skip(4);
      return size;
    }
    const b = this.take(4);
    return b.readInt32BE(0);
  }

  private skip(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset === this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Removes n buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.skip(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const k = Math.min(n - filled, c.length - this.offset);
      c.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.skip(k);
    }
    return out;
  }
}
