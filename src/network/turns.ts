// Turns taken in the order requests arrive on a connection. Kafka appends pipelined Produce requests
// of one connection in the order they were sent; our handlers run concurrently (topic lookups and
// lease checks may take a database round trip), so each Produce takes a turn as it arrives and makes
// its appends only when every earlier turn is released. What comes before (lookups, validation,
// leases) and after (waiting for the flush commit) still overlaps between requests.

export interface Turn {
  /** Resolves once every turn taken before this one has been released. */
  readonly ready: Promise<void>;
  /** Ends this turn; safe to call more than once. */
  release(): void;
}

export class Turns {
  private last: Promise<void> = Promise.resolve();

  /** Must be called synchronously as the request arrives (before any await), so turns keep arrival order. */
  take(): Turn {
    const ready = this.last;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // Released only when this turn and all earlier ones are: a turn released early cannot overtake.
    this.last = ready.then(() => mine);
    return { ready, release };
  }
}
