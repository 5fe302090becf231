// Listeners as Kafka configures them: `listeners=NAME://host:port,...` with each name mapped to a
// security protocol (by default the name is the protocol), `advertised.listeners` giving per name the
// address clients are told, and an agent advertising all of its listeners so that Metadata,
// FindCoordinator and DescribeCluster answer each client with addresses of the listener it came in on.

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

/** What a connection knows of the listener it was accepted on. */
export interface ListenerInfo {
  readonly name: string;
  readonly securityProtocol: SecurityProtocol;
}

export interface ListenerSpec extends ListenerInfo {
  /** Bind address ('' in the setting = every interface, as Kafka). */
  readonly host: string;
  readonly port: number;
  readonly advertisedHost: string;
  readonly advertisedPort: number;
}

export const DEFAULT_LISTENER: ListenerInfo = { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT' };

export const usesTls = (p: SecurityProtocol): boolean => p === 'SSL' || p === 'SASL_SSL';
export const usesSasl = (p: SecurityProtocol): boolean => p === 'SASL_PLAINTEXT' || p === 'SASL_SSL';

const isProtocol = (s: string): s is SecurityProtocol => (SECURITY_PROTOCOLS as readonly string[]).includes(s);

/** `NAME://host:port` entries, comma separated; IPv6 hosts in brackets. */
export function parseEndpoints(text: string, what: string): Array<{ name: string; host: string; port: number }> {
  const out: Array<{ name: string; host: string; port: number }> = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^([A-Za-z0-9_.-]+):\/\/(\[[0-9A-Fa-f:.]+\]|[^:\[\]/]*):(\d{1,5})$/.exec(entry);
    if (m === null) throw new Error(`${what}: "${entry}" is not NAME://host:port`);
    const port = Number(m[3]);
    if (port > 65535) throw new Error(`${what}: port ${port} of "${entry}" is out of range`);
    const name = m[1]!.toUpperCase();
    if (out.some((e) => e.name === name)) throw new Error(`${what}: listener name ${name} appears twice`);
    out.push({ name, host: m[2]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/** `NAME:PROTOCOL,...` (listener.security.protocol.map); names absent from it must be protocol names. */
export function parseProtocolMap(text: string): Map<string, SecurityProtocol> {
  const map = new Map<string, SecurityProtocol>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [name, proto, ...rest] = entry.split(':');
    const p = (proto ?? '').trim().toUpperCase();
    if (rest.length > 0 || !name || !isProtocol(p)) {
      throw new Error(`listener-security-protocol-map: "${entry}" is not NAME:PROTOCOL (protocols: ${SECURITY_PROTOCOLS.join(', ')})`);
    }
    map.set(name.trim().toUpperCase(), p);
  }
  return map;
}

export interface ListenerSettings {
  listeners: string;
  advertisedListeners: string;
  listenerSecurityProtocolMap: string;
  host: string;
  port: number;
  advertisedHost: string;
  advertisedPort: number;
}

/** The host clients are told when a listener binds every interface. */
function advertisedFor(bindHost: string, fallback: string): string {
  return bindHost === '' || bindHost === '0.0.0.0' || bindHost === '::' ? fallback : bindHost;
}

/**
 * The agent's listeners. Without `listeners`, one PLAINTEXT listener on host:port advertised as
 * advertised-host:advertised-port (the settings that predate listeners keep working).
 */
export function resolveListeners(s: ListenerSettings): ListenerSpec[] {
  if (s.listeners.trim() === '') {
    if (s.advertisedListeners.trim() !== '') throw new Error('advertised-listeners needs listeners');
    return [{ ...DEFAULT_LISTENER, host: s.host, port: s.port, advertisedHost: s.advertisedHost, advertisedPort: s.advertisedPort }];
  }
  const map = parseProtocolMap(s.listenerSecurityProtocolMap);
  const endpoints = parseEndpoints(s.listeners, 'listeners');
  if (endpoints.length === 0) throw new Error('listeners: no listener given');
  const advertised = new Map(parseEndpoints(s.advertisedListeners, 'advertised-listeners').map((e) => [e.name, e]));
  for (const name of advertised.keys()) {
    if (!endpoints.some((e) => e.name === name)) throw new Error(`advertised-listeners: ${name} is not one of the listeners`);
  }
  const ports = new Set<string>();
  return endpoints.map((e) => {
    const protocol = map.get(e.name) ?? (isProtocol(e.name) ? e.name : undefined);
    if (protocol === undefined) {
      throw new Error(`listeners: ${e.name} is neither a security protocol (${SECURITY_PROTOCOLS.join(', ')}) nor mapped to one by listener-security-protocol-map`);
    }
    if (e.port !== 0) {
      const key = `${e.host}:${e.port}`;
      if (ports.has(key)) throw new Error(`listeners: two listeners bind ${key}`);
      ports.add(key);
    }
    const adv = advertised.get(e.name);
    return {
      name: e.name,
      securityProtocol: protocol,
      host: e.host === '' ? '0.0.0.0' : e.host,
      port: e.port,
      advertisedHost: adv ? adv.host : advertisedFor(e.host, 'localhost'),
      advertisedPort: adv ? adv.port : e.port,
    };
  });
}

/** Kafka's advertised.listeners text of bound listeners (port 0 replaced by the port bound). */
export function formatEndpoints(list: ReadonlyArray<{ name: string; host: string; port: number }>): string {
  return list.map((l) => `${l.name}://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`).join(',');
}

const parsedCache = new Map<string, Map<string, { host: string; port: number }>>();

/**
 * The address a broker advertises on `listenerName`: from its stored listeners text, else its
 * default address (an agent that predates listeners, or one without that listener).
 */
export function endpointFor(
  broker: { host: string; port: number; listeners?: string | null },
  listenerName: string | undefined,
): { host: string; port: number } {
  if (listenerName === undefined || !broker.listeners) return { host: broker.host, port: broker.port };
  let map = parsedCache.get(broker.listeners);
  if (map === undefined) {
    try {
      map = new Map(parseEndpoints(broker.listeners, 'stored listeners').map((e) => [e.name, { host: e.host, port: e.port }]));
    } catch {
      map = new Map();
    }
    if (parsedCache.size > 1000) parsedCache.clear();
    parsedCache.set(broker.listeners, map);
  }
  return map.get(listenerName) ?? { host: broker.host, port: broker.port };
}

/** Binds beyond loopback (a warning when such a listener has no authentication). */
export function bindsBeyondLoopback(host: string): boolean {
  return !(host === 'localhost' || host === '::1' || /^127\./.test(host));
}
