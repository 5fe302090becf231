// Connections per client IP address (Kafka's max.connections.per.ip and
// max.connections.per.ip.overrides): a connection over its address's limit is closed at accept.
import { isIP } from 'node:net';

/** Kafka's default for max.connections.per.ip: no limit. */
export const UNLIMITED_CONNECTIONS = 2 ** 31 - 1;

/** An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d; it is the same address as a.b.c.d. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/**
 * Parses Kafka's override format `host:count,host:count` (IPv6 as `[::1]:5` or `::1:5`: the count
 * follows the last colon). Hosts must be IP addresses: the agent does not resolve names at start.
 * Throws an Error naming the bad entry.
 */
export function parseConnectionOverrides(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.lastIndexOf(':');
    let host = colon > 0 ? entry.slice(0, colon).trim() : '';
    const count = colon > 0 ? entry.slice(colon + 1).trim() : '';
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (isIP(host) === 0) throw new Error(`"${entry}": expected <ip address>:<count>`);
    if (!/^\d+$/.test(count) || Number(count) > UNLIMITED_CONNECTIONS) throw new Error(`"${entry}": the count is not an integer from 0 to ${UNLIMITED_CONNECTIONS}`);
    out.set(normalizeAddress(host), Number(count));
  }
  return out;
}

export class ConnectionQuotas {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly maxPerIp: number,
    private readonly overrides: ReadonlyMap<string, number> = new Map(),
  ) {}

  limitFor(address: string): number {
    return this.overrides.get(normalizeAddress(address)) ?? this.maxPerIp;
  }

  count(address: string): number {
    return this.counts.get(normalizeAddress(address)) ?? 0;
  }

  /** Counts a new connection from `address`; false (nothing counted) when that address is at its limit. */
  tryAcquire(address: string): boolean {
    const ip = normalizeAddress(address);
    const n = this.counts.get(ip) ?? 0;
    if (n >= this.limitFor(ip)) return false;
    this.counts.set(ip, n + 1);
    return true;
  }

  release(address: string): void {
    const ip = normalizeAddress(address);
    const n = this.counts.get(ip) ?? 0;
    if (n <= 1) this.counts.delete(ip);
    else this.counts.set(ip, n - 1);
  }
}
