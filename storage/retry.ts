// Bounded concurrency and retry-with-backoff for remote calls.
import { sleep, systemTimers, type Timers } from './clock.js';

/** A counting semaphore: at most `limit` holders at once, FIFO. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  maxActive = 0;

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('semaphore limit must be ≥ 1');
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    else this.active++;
    if (this.active > this.maxActive) this.maxActive = this.active;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next !== undefined) next(); // the slot passes straight to the next waiter
      else this.active--;
    };
  }

  get inUse(): number {
    return this.active;
  }
}

export interface RetryPolicy {
  /** Total attempts including the first (≥ 1). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** "Full jitter" exponential backoff: uniform in [0, min(max, base·2^attempt)]. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

/** Runs `fn` until it succeeds, `isRetriable(err)` is false, or attempts run out. */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  isRetriable: (err: unknown) => boolean,
  opts: { timers?: Timers; onRetry?: (err: unknown, attempt: number, delayMs: number) => void } = {},
): Promise<T> {
  const timers = opts.timers ?? systemTimers;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= policy.maxAttempts || !isRetriable(err)) throw err;
      const delay = backoffDelay(policy, attempt);
      opts.onRetry?.(err, attempt, delay);
      await sleep(timers, delay);
    }
  }
}
