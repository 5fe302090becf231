// Splits a TCP byte stream into Kafka frames (int32 size + size bytes). Pure: chunks in, frames out.
// Frames are views into the pushed chunks when they lie inside one chunk; a frame that spans chunks is
// copied once, when it is complete. A size is validated as soon as its 4 bytes arrive, so a hostile
// peer cannot make us buffer more than maxFrameBytes for one frame; with `admit`, a caller may also
// hold a frame until it has memory for it (the server's queued.max.request.bytes pool).
import { DecodeError } from './varint.js';

/** Default largest accepted frame: 100 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 104_857_600;

export interface FrameDecoderOptions {
  /** Largest accepted frame size (excluding the 4-byte size); default 100 MiB. */
  maxFrameBytes?: number;
  /**
   * Where a complete frame is copied to, chosen by its size and first int16 (a request's api key):
   * return a buffer of exactly `size` bytes, or undefined for the default (a view into the received
   * chunk, or a fresh copy when the frame spans chunks). Lets a server keep request bytes in memory
   * it recycles.
   */
  frameBuffer?: (size: number, apiKey: number) => Buffer | undefined;
  /**
   * Called with each frame's size as its size prefix arrives (after the size checks). Returning false
   * holds that frame: nothing more is decoded (pushed bytes are only buffered) until resume().
   */
  admit?: (size: number) => boolean;
}

export class FrameDecoder {
  readonly maxFrameBytes: number;
  private readonly chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  private buffered = 0;
  /** Size of the frame being assembled, or -1 while its size prefix is incomplete. */
  private need = -1;
  private readonly frameBuffer: FrameDecoderOptions['frameBuffer'];
  private readonly admit: FrameDecoderOptions['admit'];
  /** The frame of size `need` waits for resume(). */
  private held = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.frameBuffer = options.frameBuffer;
    this.admit = options.admit;
  }

  /** Size of the frame being received (size prefix read and admitted), or -1. */
  get receivingFrameSize(): number {
    return this.need >= 0 && !this.held ? this.need : -1;
  }

  /** Size of the frame that admit() held, or -1. */
  get heldFrameSize(): number {
    return this.held ? this.need : -1;
  }

  /** Bytes received but not yet returned as part of a frame (including a partial size prefix). */
  get bufferedBytes(): number {
    return this.need >= 0 ? this.buffered + 4 : this.buffered;
  }

  /**
   * Set when a bad size prefix followed frames returned by the same push(): those frames are
   * returned (they may hold memory the caller must give back) and the next push() throws this.
   */
  failure: DecodeError | undefined;

  /** Adds received bytes; returns the frames completed by them (size prefix stripped). */
  push(chunk: Buffer): Buffer[] {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return this.decode();
  }

  /** Continues after admit() held a frame, now admitted by the caller; returns the frames completed. */
  resume(): Buffer[] {
    if (!this.held) throw new Error('FrameDecoder.resume: no frame is held');
    this.held = false;
    if (this.failure !== undefined) throw this.failure;
    return this.decode();
  }

  private decode(): Buffer[] {
    const frames: Buffer[] = [];
    try {
      this.decodeInto(frames);
    } catch (err) {
      if (frames.length === 0 || !(err instanceof DecodeError)) throw err;
      this.failure = err;
    }
    return frames;
  }

  private decodeInto(frames: Buffer[]): void {
    while (!this.held) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const size = this.readSize();
        if (size < 0) throw new DecodeError('invalid_length', `negative frame size ${size}`);
        if (size > this.maxFrameBytes) {
          throw new DecodeError('frame_too_large', `frame of ${size} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        this.need = size;
        if (this.admit !== undefined && !this.admit(size)) {
          this.held = true;
          break;
        }
      }
      if (this.buffered < this.need) break;
      const into = this.frameBuffer !== undefined && this.need >= 2 ? this.frameBuffer(this.need, this.peekInt16()) : undefined;
      frames.push(into !== undefined ? this.copyInto(into) : this.take(this.need));
      this.need = -1;
    }
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

  /** The int16 at the read position (at least 2 bytes are buffered). */
  private peekInt16(): number {
    const first = this.chunks[0];
    if (first.length - this.offset >= 2) return first.readInt16BE(this.offset);
    return ((first[this.offset] << 24) | (this.chunks[1][0] << 16)) >> 16;
  }

  /** Removes out.length buffered bytes, copying them into out. */
  private copyInto(out: Buffer): Buffer {
    const n = out.length;
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

  /** Removes n buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.skip(n);
      return view;
    }
    return this.copyInto(Buffer.allocUnsafe(n));
  }
}

/**
 * The client id of a request frame (header v1+: api key, version, correlation id, then a nullable
 * int16-length string, in every header version that has one), or undefined when the frame is too short.
 */
export function peekClientId(frame: Buffer): string | null | undefined {
  if (frame.length < 10) return undefined;
  const n = frame.readInt16BE(8);
  if (n < 0) return null;
  if (frame.length < 10 + n) return undefined;
  return frame.toString('utf8', 10, 10 + n);
}
