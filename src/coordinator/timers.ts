// Time for the group coordinator, injected so session, rebalance and initial-delay timeouts can be
// driven by a fake clock in tests.

/** Opaque handle returned by Timers.setTimeout. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Real time. Timers are unref'd: a pending session timeout must not keep the process alive. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
