// Decompressions of client data at once, across the agent. Each may expand to
// --max-decompressed-bytes; without a limit, a client pipelining many small bombs (Produce) or
// asking for many partitions (ListOffsets by timestamp) would hold one bound per batch in flight.
// With it, the agent holds at most this many bounds, however many requests wait.
export const DECOMPRESSIONS_AT_ONCE = 2;

let running = 0;
const waiting: Array<() => void> = [];

/** Runs `fn` (which decompresses and reads one batch) once a slot is free. */
export async function withDecompressionSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running < DECOMPRESSIONS_AT_ONCE) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await fn();
  } finally {
    // Hand the slot straight to the next waiter, or give it back.
    const next = waiting.shift();
    if (next !== undefined) next();
    else running--;
  }
}
