// Hitting a limit is logged once per client and reason, not once per event: a client retrying
// against a limit (or an abusive one) would otherwise flood the log. The set of clients remembered is
// bounded; the oldest is forgotten first (and may then be logged again).
import type { Logger } from '../logger.js';

export interface LimitClient {
  readonly remoteAddress: string;
  /** Known once a complete request has arrived. */
  readonly clientId?: string | null;
}

export class LimitLog {
  private readonly seen = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly maxClients = 10_000,
  ) {}

  /** Logs the first time `client` hits `limit` (a Kafka setting name); later hits are silent. */
  hit(limit: string, client: LimitClient, fields: Record<string, unknown>, message: string, level: 'warn' | 'info' = 'warn'): void {
    const key = `${limit}\0${client.remoteAddress}\0${client.clientId ?? ''}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= this.maxClients) this.seen.delete(this.seen.values().next().value as string);
    this.seen.add(key);
    this.log[level]({ limit, remote: client.remoteAddress, clientId: client.clientId ?? undefined, ...fields }, `${message} (logged once per client)`);
  }
}
