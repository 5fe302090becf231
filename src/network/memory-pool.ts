// The agent's one budget for request memory (queued.max.request.bytes), as Kafka's broker memory
// pool: a frame's whole size is reserved when its size prefix arrives, before its bytes are read, and
// released when its handler settles. A connection whose frame does not fit is muted (not read) until
// memory comes back, while frames already holding memory progress; so thousands of half-sent frames
// cannot take more than the budget.
//
// Unlike Kafka's non-strict pool (which lets one allocation overshoot), a reservation is granted only
// when it fits, so the reserved total never exceeds the capacity. Large frames (above 1 MiB, or a
// quarter of a small pool) together hold at most three quarters of it: the last quarter stays for
// ordinary requests (metadata, heartbeats, commits, most produce batches), so clients that stop
// halfway through large frames cannot stall every other client until their receive deadline. The
// settings check that the large share holds the largest frame. Within each class waiters are served
// first come, first served: a large frame is not starved by smaller large ones arriving after it.

export interface Reservation {
  /** Cancels a waiting reservation (its connection closed). No effect once granted. */
  cancel(): void;
}

interface Waiter {
  size: number;
  large: boolean;
  grant: () => void;
  cancelled: boolean;
}

/** Frames above this are large (see above), unless a quarter of the pool is less. */
export const LARGE_FRAME_BYTES = 1024 * 1024;

/** The largest frame a pool of `capacity` bytes can ever admit. */
export function largestFrameFor(capacity: number): number {
  return capacity - Math.floor(capacity / 4);
}

export class MemoryPool {
  private reservedBytes = 0;
  private largeBytes = 0;
  private peak = 0;
  private readonly waiters: Waiter[] = [];
  private readonly largeWaiters: Waiter[] = [];
  /** Frames above this many bytes are large. */
  readonly largeFrameBytes: number;
  /** What large frames may hold together. */
  readonly largeCapacity: number;

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new Error(`MemoryPool capacity must be positive, got ${capacity}`);
    this.largeFrameBytes = Math.min(LARGE_FRAME_BYTES, Math.floor(capacity / 4));
    this.largeCapacity = largestFrameFor(capacity);
  }

  /** Bytes reserved and not yet released. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /** The most bytes ever reserved at once. */
  get peakReserved(): number {
    return this.peak;
  }

  /** Reservations waiting for memory. */
  get waiting(): number {
    return this.waiters.length + this.largeWaiters.length;
  }

  /**
   * Reserves `size` bytes when they are free and nobody is waiting (no overtaking); returns false
   * otherwise, leaving the caller to wait() or give up.
   */
  tryReserve(size: number): boolean {
    const large = this.check(size);
    if ((large ? this.largeWaiters : this.waiters).length > 0 || !this.fits(size, large)) return false;
    this.take(size, large);
    return true;
  }

  /** Queues a reservation of `size` bytes; `grant` is called once it is reserved (never synchronously). */
  wait(size: number, grant: () => void): Reservation {
    const large = this.check(size);
    const w: Waiter = { size, large, grant, cancelled: false };
    const queue = large ? this.largeWaiters : this.waiters;
    queue.push(w);
    // A pool with free memory and no one ahead grants at once, but still after the caller returns.
    queueMicrotask(() => this.grantWaiters());
    return {
      cancel: () => {
        if (w.cancelled) return;
        const i = queue.indexOf(w);
        if (i < 0) return; // already granted
        w.cancelled = true;
        queue.splice(i, 1);
        // The head may have been the one blocking smaller requests behind it.
        if (i === 0) this.grantWaiters();
      },
    };
  }

  /** Gives back a reservation of `size` bytes (the size it was reserved with). */
  release(size: number): void {
    if (size < 0 || size > this.reservedBytes) throw new Error(`MemoryPool.release(${size}) with ${this.reservedBytes} bytes reserved`);
    this.reservedBytes -= size;
    if (size > this.largeFrameBytes) this.largeBytes -= size;
    this.grantWaiters();
  }

  private grantWaiters(): void {
    const granted: Waiter[] = [];
    // Ordinary requests first: they are quick and others wait on them.
    for (const queue of [this.waiters, this.largeWaiters]) {
      while (queue.length > 0 && this.fits(queue[0].size, queue[0].large)) {
        const w = queue.shift()!;
        this.take(w.size, w.large);
        granted.push(w);
      }
    }
    // After the loops: a grant callback may release or reserve again.
    for (const w of granted) w.grant();
  }

  private fits(size: number, large: boolean): boolean {
    return this.reservedBytes + size <= this.capacity && (!large || this.largeBytes + size <= this.largeCapacity);
  }

  private take(size: number, large: boolean): void {
    this.reservedBytes += size;
    if (large) this.largeBytes += size;
    if (this.reservedBytes > this.peak) this.peak = this.reservedBytes;
  }

  /** Whether `size` is a large frame; throws when it could never be admitted. */
  private check(size: number): boolean {
    const large = size > this.largeFrameBytes;
    if (!Number.isInteger(size) || size < 0 || size > (large ? this.largeCapacity : this.capacity)) {
      throw new Error(`MemoryPool: a reservation of ${size} bytes can never fit in ${this.capacity} (large frames: ${this.largeCapacity})`);
    }
    return large;
  }
}
