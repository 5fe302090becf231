// How a member's client is recorded: Kafka shows the host as InetAddress#toString ("/127.0.0.1").
import type { RequestContext } from '../handlers/types.js';

export function clientHost(ctx: RequestContext): string {
  const addr = ctx.conn.remoteAddress.startsWith('::ffff:') ? ctx.conn.remoteAddress.slice(7) : ctx.conn.remoteAddress;
  return `/${addr}`;
}

export function clientId(ctx: RequestContext): string {
  return ctx.header.clientId ?? '';
}
