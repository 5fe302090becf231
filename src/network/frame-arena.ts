// Recycled memory for Produce request frames. Record bytes stay in the request buffer from the
// socket until their flush cycle commits (tens of milliseconds), which is long enough for V8 to
// promote a fresh buffer per request to the old generation; at hundreds of MB/s that promoted
// stream forces a full mark-compact several times a second. Copying each frame into a slab that is
// reused once all its frames are released keeps that memory out of the garbage collector's way.
//
// Contract: a frame handed out by alloc() must be released exactly once, after which nothing may
// read it (the Produce path holds it until every append of the request has settled; the tail cache
// copies committed batches; acks=0 appends copy their batches first).

export interface FrameArenaOptions {
  /** Bytes per slab (default 2 MiB); frames larger than half a slab are not placed in the arena. */
  slabBytes?: number;
  /** Idle slabs kept for reuse (default 32); more are left to the garbage collector. */
  maxFreeSlabs?: number;
  /**
   * Overwrite every frame as it is released (debugging: a view kept past its release then reads
   * 0xdd bytes, which fail CRC checks and comparisons loudly instead of aliasing a later request).
   */
  poison?: boolean;
}

interface Slab {
  buf: Buffer;
  used: number;
  /** Frames handed out and not yet released. */
  live: number;
}

export class FrameArena {
  readonly slabBytes: number;
  private readonly maxFreeSlabs: number;
  private readonly poison: boolean;
  private readonly bySlab = new Map<ArrayBufferLike, Slab>();
  private readonly free: Slab[] = [];
  private current: Slab | undefined;
  /** Frames handed out and not yet released (for tests and stats). */
  liveFrames = 0;

  constructor(opts: FrameArenaOptions = {}) {
    this.slabBytes = opts.slabBytes ?? 2 * 1024 * 1024;
    this.maxFreeSlabs = opts.maxFreeSlabs ?? 32;
    this.poison = opts.poison ?? false;
  }

  /** Slabs allocated and not given back to the garbage collector. */
  get slabCount(): number {
    return this.bySlab.size;
  }

  /** A buffer of `size` bytes in a slab, or undefined when the frame is too large for the arena. */
  alloc(size: number): Buffer | undefined {
    if (size <= 0 || size > this.slabBytes / 2) return undefined;
    let slab = this.current;
    if (slab === undefined || slab.used + size > slab.buf.length) {
      if (slab !== undefined && slab.live === 0) slab.used = 0;
      else slab = this.current = this.free.pop() ?? this.newSlab();
    }
    const out = slab.buf.subarray(slab.used, slab.used + size);
    slab.used += size;
    slab.live++;
    this.liveFrames++;
    return out;
  }

  /** Gives a frame from alloc() back; its slab is reused once all its frames are back. */
  release(frame: Buffer): void {
    const slab = this.bySlab.get(frame.buffer);
    if (slab === undefined || slab.live <= 0) throw new Error('FrameArena.release: not a live arena frame');
    slab.live--;
    this.liveFrames--;
    if (this.poison) frame.fill(0xdd);
    if (slab.live > 0) return;
    if (slab === this.current) {
      slab.used = 0;
      return;
    }
    slab.used = 0;
    if (this.free.length < this.maxFreeSlabs) this.free.push(slab);
    else this.bySlab.delete(slab.buf.buffer);
  }

  /** True when `frame` came from this arena (and has not been given back with its slab). */
  owns(frame: Buffer): boolean {
    return this.bySlab.has(frame.buffer);
  }

  private newSlab(): Slab {
    const slab: Slab = { buf: Buffer.allocUnsafeSlow(this.slabBytes), used: 0, live: 0 };
    this.bySlab.set(slab.buf.buffer, slab);
    return slab;
  }
}
