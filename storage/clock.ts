// Time and timers are injected wherever behaviour depends on them, so tests can drive flush cycles,
// backoff and grace periods deterministically.

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on the given timers. */
export function sleep(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, ms);
  });
}

/**
 * A background pass run every `intervalMs`, counted from the end of the previous one, until stop(): the
 * merger's, the orphan cleaner's, the embedded database maintenance's. A failed pass goes to `onError`;
 * the next one runs as planned.
 */
export class PeriodicPass {
  private handle: unknown;

  constructor(
    private readonly timers: Timers,
    private readonly pass: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    if (this.handle !== undefined) return;
    const tick = () => {
      this.pass()
        .catch(this.onError)
        .finally(() => {
          if (this.handle !== undefined) this.handle = this.timers.setTimeout(tick, intervalMs);
        });
    };
    this.handle = this.timers.setTimeout(tick, intervalMs);
  }

  /** No pass starts after this; one under way is the caller's to wait for. */
  stop(): void {
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/** The subset of a pino logger storage/ uses (pino's Logger satisfies it). */
export interface StorageLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = () => {};
export const silentStorageLogger: StorageLogger = { debug: noop, info: noop, warn: noop, error: noop };
