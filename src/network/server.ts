// The network layer: node:net, per-connection framing, pipelined requests answered in request order,
// backpressure and limits. It knows nothing about Kafka APIs: each frame goes to a FrameHandler, which
// returns the response bytes (size prefix included) or null for "no response" (acks=0 produce).
import { createServer, type Server, type Socket } from 'node:net';
import { FrameDecoder } from '../../protocol/framing.js';
import { DecodeError } from '../../protocol/varint.js';
import type { Logger } from '../logger.js';
import type { FrameArena } from './frame-arena.js';
import { Turns } from './turns.js';

export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Appends of this connection's Produce requests happen in turn, in arrival order. */
  readonly appendTurns: Turns;
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
}

/**
 * Request frames of these api keys are copied into recycled arena memory; each is released when its
 * handler's result settles, so those handlers must not keep views into the frame beyond that.
 */
export interface FrameRecycling {
  arena: FrameArena;
  apiKeys: readonly number[];
}

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
  bytes: number;
}

class Connection implements ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly appendTurns = new Turns();
  private readonly decoder: FrameDecoder;
  private readonly queue: Slot[] = [];
  private inflightBytes = 0;
  private pausedForInflight = false;
  private pausedForDrain = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    id: number,
    private readonly handler: FrameHandler,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
    private readonly onClose: (c: Connection) => void,
    private readonly recycling: FrameRecycling | undefined,
  ) {
    this.id = id;
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.remotePort = socket.remotePort ?? 0;
    const r = recycling;
    this.decoder = new FrameDecoder({
      maxFrameBytes: limits.maxFrameBytes,
      frameBuffer: r === undefined ? undefined : (size, apiKey) => (r.apiKeys.includes(apiKey) ? r.arena.alloc(size) : undefined),
    });
    socket.setNoDelay(true);
    socket.setTimeout(limits.connectionsMaxIdleMs, () => this.close('idle timeout'));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('drain', () => {
      this.pausedForDrain = false;
      this.maybeResume();
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  get pendingRequests(): number {
    return this.queue.length;
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.malformed(err);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (this.closed) {
        this.dropFrames(frames, i);
        return;
      }
      const slot: Slot = { done: false, chunks: null, bytes: frame.length };
      this.queue.push(slot);
      this.inflightBytes += frame.length;
      const arena = this.recycling?.arena;
      const pooled = arena !== undefined && arena.owns(frame);
      let result: Promise<Buffer[] | null> | Buffer[] | null;
      try {
        result = this.handler.handleFrame(frame, this);
      } catch (err) {
        if (pooled) arena.release(frame);
        this.malformed(err);
        this.dropFrames(frames, i + 1);
        return;
      }
      if (result === null || Array.isArray(result)) {
        if (pooled) arena.release(frame);
        this.complete(slot, result);
      } else {
        result.then(
          (r) => {
            if (pooled) arena.release(frame);
            this.complete(slot, r);
          },
          (err) => {
            if (pooled) arena.release(frame);
            this.malformed(err);
          },
        );
      }
    }
    if (this.decoder.failure !== undefined) {
      this.malformed(this.decoder.failure);
      return;
    }
    if (this.inflightBytes > this.limits.maxInflightBytes && !this.pausedForInflight) {
      this.pausedForInflight = true;
      this.socket.pause();
    }
  }

  /** Frames that will not be handled (the connection closed): their arena memory goes back. */
  private dropFrames(frames: Buffer[], from: number): void {
    const arena = this.recycling?.arena;
    if (arena === undefined) return;
    for (let i = from; i < frames.length; i++) if (arena.owns(frames[i])) arena.release(frames[i]);
  }

  private complete(slot: Slot, chunks: Buffer[] | null): void {
    slot.done = true;
    slot.chunks = chunks;
    if (this.queue[0] === slot) this.writeReady();
  }

  /** Writes every finished response at the head of the queue, in request order. */
  private writeReady(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.queue.length > 0 && this.queue[0].done) {
      const slot = this.queue.shift()!;
      this.inflightBytes -= slot.bytes;
      if (slot.chunks === null) continue;
      if (!wrote) {
        this.socket.cork();
        wrote = true;
      }
      let ok = true;
      for (const c of slot.chunks) ok = this.socket.write(c);
      if (!ok) this.pausedForDrain = true;
    }
    if (wrote) this.socket.uncork();
    this.maybeResume();
  }

  private maybeResume(): void {
    if (this.closed) return;
    if (this.pausedForInflight && this.inflightBytes <= this.limits.maxInflightBytes / 2) this.pausedForInflight = false;
    if (!this.pausedForInflight && !this.pausedForDrain && this.socket.isPaused()) this.socket.resume();
    else if (this.pausedForDrain && !this.socket.isPaused()) this.socket.pause();
  }

  private malformed(err: unknown): void {
    if (this.closed) return;
    if (err instanceof DecodeError) {
      this.log.warn({ conn: this.id, remote: `${this.remoteAddress}:${this.remotePort}`, kind: err.kind, err: err.message }, 'malformed request, closing connection');
    } else {
      this.log.error({ conn: this.id, err }, 'request failed unexpectedly, closing connection');
    }
    this.close();
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    if (reason) this.log.debug({ conn: this.id, reason }, 'closing connection');
    this.socket.destroy();
    this.onClose(this);
  }
}

export class KafkaServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private nextId = 1;

  constructor(
    private readonly handler: FrameHandler,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
    private readonly recycling?: FrameRecycling,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.limits.maxConnections) {
      this.log.warn({ remote: socket.remoteAddress, max: this.limits.maxConnections }, 'connection limit reached, refusing connection');
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this.nextId++, this.handler, this.limits, this.log, (c) => this.connections.delete(c), this.recycling);
    this.connections.add(conn);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(port: number, host: string): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('listener has no address'));
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /**
   * Graceful stop: no new connections, pending requests answered (up to graceMs), then every
   * connection closed.
   */
  async shutdown(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
    await this.closeConnections(graceMs);
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
