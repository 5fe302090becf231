// The network layer: node:net, per-connection framing, pipelined requests answered in request order,
// backpressure and limits. It knows nothing about Kafka APIs: each frame goes to a FrameHandler, which
// returns the response bytes (size prefix included) or null for "no response" (acks=0 produce).
//
// Limits, so that no client can hurt the agent (Kafka's names where Kafka has them):
// - queued.max.request.bytes: one memory pool for every request being received or handled. A frame's
//   size is reserved when its size prefix arrives and released when its handler settles; a connection
//   whose frame does not fit is muted (not read) until memory comes back; a quarter of the pool is
//   kept for frames up to 1 MiB (memory-pool.ts).
// - max.connections, max.connections.per.ip(.overrides): extra connections are closed at accept.
// - request receive deadline: once a frame's first byte arrives, the whole frame must arrive within
//   it, so a client sending a byte at a time cannot hold its reservation, nor a connection waiting for
//   memory its place (a Kafka client has given up on a request after request.timeout.ms, 30 s, anyway);
//   connections.max.idle.ms counts from the last complete request or response, so single bytes do not
//   keep a connection open either.
// Hitting a limit is logged once per client (limit-log.ts).
import { ANONYMOUS, type KafkaPrincipal } from '../security/principal.js';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { SaslSession } from '../security/sasl/session.js';
import { DEFAULT_LISTENER, usesSasl, type ListenerInfo } from './listeners.js';

/** Kafka's sasl.server.max.receive.size default: the largest frame before authentication. */
export const SASL_SERVER_MAX_RECEIVE_SIZE = 524_288;
import { peerCertificateName, type TlsContextSource } from './tls.js';
import { FrameDecoder, peekClientId } from '../../protocol/framing.js';
import { DecodeError } from '../../protocol/varint.js';
import type { Logger } from '../logger.js';
import { ConnectionQuotas, normalizeAddress } from './connection-quotas.js';
import type { FrameArena } from './frame-arena.js';
import { LimitLog } from './limit-log.js';
import { MemoryPool, largestFrameFor, type Reservation } from './memory-pool.js';
import { Turns } from './turns.js';

export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Who the connection acts as; set by authentication. */
  principal: KafkaPrincipal;
  /** The listener the connection was accepted on (its advertised addresses are the ones answered). */
  readonly listener?: ListenerInfo;
  /** SASL state on SASL listeners (src/security/sasl/). */
  sasl?: SaslSession;
  /** Sends the responses already queued, then closes (a failed authentication). */
  closeAfterResponses?(): void;
  /** Appends of this connection's Produce requests happen in turn, in arrival order. */
  readonly appendTurns: Turns;
  /** The client id of the connection's first request (undefined before it arrives). */
  readonly clientId?: string | null;
  /** Logs, once per client, that a request hit `limit` (a Kafka setting name). */
  reportLimit?(limit: string, fields: Record<string, unknown>, message: string, level?: 'warn' | 'info'): void;
}

export interface FrameHandler {
  /**
   * Handles one request frame (the bytes after the 4-byte size). A DecodeError (sync or async) means
   * the frame is malformed: the connection is closed. Anything else is a bug, also closing the connection.
   */
  handleFrame(frame: Buffer, conn: ConnectionInfo): Promise<Buffer[] | null> | Buffer[] | null;
}

export interface ServerLimits {
  maxFrameBytes: number;
  maxConnections: number;
  connectionsMaxIdleMs: number;
  /** Pause reading a connection while its unanswered requests hold more bytes than this. */
  maxInflightBytes: number;
  /** queued.max.request.bytes: the memory pool of requests being received or handled (≥ maxFrameBytes). */
  queuedMaxRequestBytes: number;
  /** max.connections.per.ip */
  maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides, by IP address. */
  maxConnectionsPerIpOverrides?: ReadonlyMap<string, number>;
  /** A frame must arrive whole within this from its first byte. */
  requestReceiveTimeoutMs: number;
}

/**
 * Request frames of these api keys are copied into recycled arena memory; each is released when its
 * handler's result settles, so those handlers must not keep views into the frame beyond that.
 */
export interface FrameRecycling {
  arena: FrameArena;
  apiKeys: readonly number[];
}

export interface ServerOptions {
  recycling?: FrameRecycling;
  /** Milliseconds clock for the receive deadline and the idle timer (tests inject one). */
  now?: () => number;
  /** How often deadlines and idle connections are checked; default a quarter of the shorter timeout, at most 1 s. */
  checkIntervalMs?: number;
}

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
  bytes: number;
}

/** What a connection needs from its server. */
interface Shared {
  readonly handler: FrameHandler;
  readonly limits: ServerLimits;
  readonly log: Logger;
  readonly limitLog: LimitLog;
  readonly pool: MemoryPool;
  readonly recycling: FrameRecycling | undefined;
  readonly now: () => number;
  onClose(c: Connection): void;
}

class Connection implements ConnectionInfo {
  readonly remoteAddress: string;
  principal: KafkaPrincipal = ANONYMOUS;
  readonly remotePort: number;
  sasl?: SaslSession;
  readonly appendTurns = new Turns();
  /** Close once the queued responses are written. */
  private ending = false;
  clientId: string | null | undefined;
  private readonly decoder: FrameDecoder;
  private readonly queue: Slot[] = [];
  private inflightBytes = 0;
  private pausedForInflight = false;
  private pausedForDrain = false;
  /** Waiting for the memory pool to admit the held frame. */
  private memoryWait: Reservation | undefined;
  private closed = false;
  /** Last complete request received or response written (connections.max.idle.ms). */
  private lastActivity: number;
  /** When the first byte of the frame in progress arrived (-1: none in progress). */
  private receiveStartedAt = -1;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly s: Shared,
    readonly listener: ListenerInfo = DEFAULT_LISTENER,
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '?');
    this.remotePort = socket.remotePort ?? 0;
    this.lastActivity = s.now();
    const r = s.recycling;
    this.decoder = new FrameDecoder({
      maxFrameBytes: s.limits.maxFrameBytes,
      frameBuffer: r === undefined ? undefined : (size, apiKey) => (r.apiKeys.includes(apiKey) ? r.arena.alloc(size) : undefined),
      admit: (size) => this.admit(size),
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.received(() => this.decoder.push(chunk)));
    socket.on('drain', () => {
      this.pausedForDrain = false;
      this.updateReading();
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Authenticated (or re-authenticating an authenticated session). */
  private mayReceiveLargeFrames(): boolean {
    const st = this.sasl?.state;
    return st !== undefined && (st.kind === 'authenticated' || (st.kind === 'authenticating' && st.previous !== undefined));
  }

  closeAfterResponses(): void {
    this.ending = true;
    this.socket.pause();
    if (this.queue.every((q) => q.done)) this.writeReady();
  }

  get pendingRequests(): number {
    return this.queue.length;
  }

  reportLimit(limit: string, fields: Record<string, unknown>, message: string, level: 'warn' | 'info' = 'warn'): void {
    this.s.limitLog.hit(limit, this, { conn: this.id, ...fields }, message, level);
  }

  /** Closes the connection when a timeout has passed (called periodically by the server). */
  checkTimeouts(now: number): void {
    if (this.closed) return;
    if (this.receiveStartedAt >= 0 && now - this.receiveStartedAt >= this.s.limits.requestReceiveTimeoutMs) {
      const received = this.decoder.bufferedBytes;
      this.reportLimit('request.receive.timeout.ms', { timeoutMs: this.s.limits.requestReceiveTimeoutMs, received }, 'request not received whole in time, closing connection');
      this.close('request receive timeout');
      return;
    }
    if (this.queue.length === 0 && now - this.lastActivity >= this.s.limits.connectionsMaxIdleMs) this.close('idle timeout');
  }

  /** The decoder reached a frame's size prefix: reserve its memory, or hold it and mute the connection. */
  private admit(size: number): boolean {
    if (size > SASL_SERVER_MAX_RECEIVE_SIZE && usesSasl(this.listener.securityProtocol) && !this.mayReceiveLargeFrames()) {
      // As Kafka (sasl.server.max.receive.size): before authentication a frame is a SASL token or a
      // small request, so an unauthenticated client cannot make us hold big frames. Closed once the
      // decoder has held the frame (nothing was reserved for it).
      this.reportLimit('sasl.server.max.receive.size', { frameBytes: size, max: SASL_SERVER_MAX_RECEIVE_SIZE }, 'frame too large before authentication, closing connection');
      queueMicrotask(() => this.close('frame too large before authentication'));
      return false;
    }
    const pool = this.s.pool;
    if (pool.tryReserve(size)) return true;
    this.reportLimit(
      'queued.max.request.bytes',
      { frameBytes: size, reservedBytes: pool.reserved, queuedMaxRequestBytes: pool.capacity },
      'request memory exhausted: connection muted until memory is released',
    );
    this.memoryWait = pool.wait(size, () => {
      this.memoryWait = undefined;
      if (this.closed) {
        pool.release(size);
        return;
      }
      this.received(() => this.decoder.resume());
    });
    return false;
  }

  /** Runs one decoder step (a push or a resume) and handles the frames it completes. */
  private received(decode: () => Buffer[]): void {
    if (this.closed) return;
    let frames: Buffer[];
    try {
      frames = decode();
    } catch (err) {
      this.malformed(err);
      return;
    }
    if (frames.length > 0) this.lastActivity = this.s.now();
    for (let i = 0; i < frames.length; i++) {
      if (this.closed) {
        this.dropFrames(frames, i);
        return;
      }
      if (!this.handle(frames[i])) {
        this.dropFrames(frames, i + 1);
        return;
      }
    }
    if (this.decoder.failure !== undefined) {
      this.malformed(this.decoder.failure);
      return;
    }
    if (this.inflightBytes > this.s.limits.maxInflightBytes) this.pausedForInflight = true;
    this.trackReceive(frames.length > 0);
    this.updateReading();
  }

  /** Hands one frame to the handler; false when the connection closed because of it. */
  private handle(frame: Buffer): boolean {
    if (this.clientId === undefined) this.clientId = peekClientId(frame);
    const slot: Slot = { done: false, chunks: null, bytes: frame.length };
    this.queue.push(slot);
    this.inflightBytes += frame.length;
    let result: Promise<Buffer[] | null> | Buffer[] | null;
    try {
      result = this.s.handler.handleFrame(frame, this);
    } catch (err) {
      this.releaseFrame(frame);
      this.malformed(err);
      return false;
    }
    if (result === null || Array.isArray(result)) {
      this.releaseFrame(frame);
      this.complete(slot, result);
    } else {
      result.then(
        (r) => {
          this.releaseFrame(frame);
          this.complete(slot, r);
        },
        (err) => {
          this.releaseFrame(frame);
          this.malformed(err);
        },
      );
    }
    return true;
  }

  /** The request's memory goes back: its arena bytes and its reservation in the pool. */
  private releaseFrame(frame: Buffer): void {
    const arena = this.s.recycling?.arena;
    if (arena !== undefined && arena.owns(frame)) arena.release(frame);
    this.s.pool.release(frame.length);
  }

  /** Frames that will not be handled (the connection closed). */
  private dropFrames(frames: Buffer[], from: number): void {
    for (let i = from; i < frames.length; i++) this.releaseFrame(frames[i]);
  }

  /**
   * Starts the receive deadline when a frame's first bytes are buffered (after a complete frame, the
   * bytes left belong to a new one) and stops it when no partial frame remains.
   */
  private trackReceive(completedFrames: boolean): void {
    if (this.decoder.bufferedBytes === 0) this.receiveStartedAt = -1;
    else if (completedFrames || this.receiveStartedAt < 0) this.receiveStartedAt = this.s.now();
  }

  private complete(slot: Slot, chunks: Buffer[] | null): void {
    slot.done = true;
    slot.chunks = chunks;
    if (this.queue[0] === slot) this.writeReady();
  }

  /** Writes every finished response at the head of the queue, in request order. */
  private writeReady(): void {
    if (this.closed) return;
    let last: Buffer | undefined;
    while (this.queue.length > 0 && this.queue[0].done) {
      const slot = this.queue.shift()!;
      this.inflightBytes -= slot.bytes;
      if (slot.chunks === null || slot.chunks.length === 0) continue;
      if (last === undefined) this.socket.cork();
      else if (!this.socket.write(last)) this.pausedForDrain = true;
      for (let i = 0; i < slot.chunks.length - 1; i++) if (!this.socket.write(slot.chunks[i])) this.pausedForDrain = true;
      last = slot.chunks[slot.chunks.length - 1];
    }
    if (last !== undefined) {
      // A response counts as activity once the kernel has taken it: one the client never reads does not.
      if (!this.socket.write(last, () => (this.lastActivity = this.s.now()))) this.pausedForDrain = true;
      this.socket.uncork();
    }
    if (this.ending && this.queue.length === 0) {
      // end() flushes what was written (the failure response) before the FIN; destroy if the peer lingers.
      this.socket.end();
      const linger = setTimeout(() => this.socket.destroy(), 1000).unref();
      this.socket.once('close', () => clearTimeout(linger));
      this.close('closed after its last response', false);
      return;
    }
    if (this.pausedForInflight && this.inflightBytes <= this.s.limits.maxInflightBytes / 2) this.pausedForInflight = false;
    this.updateReading();
  }

  /** Reads the socket unless a limit says not to. */
  private updateReading(): void {
    if (this.closed) return;
    const read = !this.pausedForInflight && !this.pausedForDrain && this.memoryWait === undefined;
    if (read && this.socket.isPaused()) this.socket.resume();
    else if (!read && !this.socket.isPaused()) this.socket.pause();
  }

  private malformed(err: unknown): void {
    if (this.closed) return;
    if (err instanceof DecodeError) {
      this.s.log.warn({ conn: this.id, remote: `${this.remoteAddress}:${this.remotePort}`, clientId: this.clientId ?? undefined, kind: err.kind, err: err.message }, 'malformed request, closing connection');
    } else {
      this.s.log.error({ conn: this.id, err }, 'request failed unexpectedly, closing connection');
    }
    this.close();
  }

  close(reason?: string, destroy = true): void {
    if (this.closed) return;
    this.closed = true;
    if (reason) this.s.log.debug({ conn: this.id, reason }, 'closing connection');
    // Memory of the frame being received goes back now; frames being handled give theirs back when
    // their handler settles (they are still in use until then).
    this.memoryWait?.cancel();
    this.memoryWait = undefined;
    const receiving = this.decoder.receivingFrameSize;
    if (receiving >= 0) this.s.pool.release(receiving);
    if (destroy) this.socket.destroy();
    this.s.onClose(this);
  }
}

export class KafkaServer {
  private readonly servers: Array<{ server: Server; listener: ListenerInfo; tls?: TlsContextSource }> = [];
  private readonly connections = new Set<Connection>();
  private readonly quotas: ConnectionQuotas;
  private readonly shared: Shared;
  private readonly checkIntervalMs: number;
  private checkTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  /** The queued.max.request.bytes pool (read by tests and stats). */
  readonly memoryPool: MemoryPool;

  constructor(
    handler: FrameHandler,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
    options: ServerOptions = {},
  ) {
    if (largestFrameFor(limits.queuedMaxRequestBytes) < limits.maxFrameBytes) {
      throw new Error(`queued.max.request.bytes (${limits.queuedMaxRequestBytes}) is too small for frames of ${limits.maxFrameBytes} bytes`);
    }
    this.memoryPool = new MemoryPool(limits.queuedMaxRequestBytes);
    this.quotas = new ConnectionQuotas(limits.maxConnectionsPerIp, limits.maxConnectionsPerIpOverrides);
    this.shared = {
      handler,
      limits,
      log,
      limitLog: new LimitLog(log),
      pool: this.memoryPool,
      recycling: options.recycling,
      now: options.now ?? Date.now,
      onClose: (c) => {
        if (this.connections.delete(c)) this.quotas.release(c.remoteAddress);
      },
    };
    this.checkIntervalMs = options.checkIntervalMs ?? Math.max(1, Math.min(1000, Math.floor(Math.min(limits.requestReceiveTimeoutMs, limits.connectionsMaxIdleMs) / 4)));
  }

  private accept(socket: Socket, listener: ListenerInfo): void {
    const address = normalizeAddress(socket.remoteAddress ?? '?');
    if (this.connections.size >= this.limits.maxConnections) {
      this.shared.limitLog.hit('max.connections', { remoteAddress: address }, { max: this.limits.maxConnections }, 'connection limit reached, refusing connection');
      socket.destroy();
      return;
    }
    if (!this.quotas.tryAcquire(address)) {
      this.shared.limitLog.hit('max.connections.per.ip', { remoteAddress: address }, { max: this.quotas.limitFor(address) }, 'connection limit of this address reached, refusing connection');
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this.nextId++, this.shared, listener);
    if ('encrypted' in socket) {
      // A verified client certificate names the principal (SASL, when the listener has it, replaces it).
      const name = peerCertificateName(socket as TLSSocket);
      if (name !== undefined) conn.principal = `User:${name}`;
    }
    this.connections.add(conn);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Accepting connections (between listen() and shutdown()). */
  get listening(): boolean {
    return this.servers.some((s) => s.server.listening);
  }

  /** Applies the receive deadline and the idle timeout now (runs periodically; tests call it with an injected clock). */
  checkTimeouts(): void {
    const now = this.shared.now();
    for (const c of [...this.connections]) c.checkTimeouts(now);
  }

  /**
   * Opens a listener (several may be open at once, sharing the connection limits and the request
   * memory). TLS listeners take their context from `tls`, reloaded for new connections when it changes.
   */
  listen(port: number, host: string, listener: ListenerInfo = DEFAULT_LISTENER, tls?: TlsContextSource): Promise<{ host: string; port: number }> {
    let server: Server;
    if (tls === undefined) {
      server = createServer({ noDelay: true }, (socket) => this.accept(socket, listener));
    } else {
      // A TLS handshake must finish within the request receive deadline (Node's default is 120 s).
      const tlsServer = createTlsServer(
        { ...tls.serverOptions(), noDelay: true, handshakeTimeout: Math.min(this.limits.requestReceiveTimeoutMs, 30_000) },
        (socket) => this.acceptTls(socket, listener, tls),
      );
      tls.onReload(() => tlsServer.setSecureContext(tls.serverOptions()));
      tlsServer.on('tlsClientError', (err, socket) => {
        this.log.info({ listener: listener.name, remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
      });
      server = tlsServer;
    }
    server.on('error', (err) => this.log.error({ err, listener: listener.name }, 'listener error'));
    this.servers.push({ server, listener, tls });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        const addr = server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('listener has no address'));
        this.checkTimer ??= setInterval(() => this.checkTimeouts(), this.checkIntervalMs).unref();
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** ssl.client.auth=requested: a certificate that was presented must verify (Kafka fails the handshake). */
  private acceptTls(socket: TLSSocket, listener: ListenerInfo, tls: TlsContextSource): void {
    if (tls.files.clientAuth === 'requested' && !socket.authorized && socket.getPeerX509Certificate?.() !== undefined) {
      this.log.info({ listener: listener.name, remote: socket.remoteAddress, err: String(socket.authorizationError) }, 'client certificate not trusted, closing connection');
      socket.destroy();
      return;
    }
    this.accept(socket, listener);
  }

  /**
   * Graceful stop: no new connections, pending requests answered (up to graceMs), then every
   * connection closed.
   */
  async shutdown(graceMs: number): Promise<void> {
    const closed = Promise.all(this.servers.map(({ server }) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
    await this.closeConnections(graceMs);
    clearInterval(this.checkTimer);
    this.checkTimer = undefined;
    await closed;
  }

  /** Waits (up to timeoutMs) for pending requests to be answered, then closes every connection. */
  async closeConnections(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.pendingRequests > 0)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of [...this.connections]) c.close('shutdown');
  }
}
