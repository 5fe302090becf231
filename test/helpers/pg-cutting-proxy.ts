// A TCP proxy in front of PostgreSQL that loses the answer to one chosen statement after the server
// has committed it, then stays unreachable until up(): the connection lost mid-commit that leaves a
// flush commit's outcome unknown. The statement is recognised by its prepared-statement name in the
// client's bytes (Parse/Bind carry it); of the server's bytes only the message framing is read
// (type byte, int32 length), to find ReadyForQuery, which the server sends once the statement's
// implicit transaction has committed.
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Conn {
  client: Socket;
  server: Socket;
  /** The armed statement was sent on this connection: its ReadyForQuery is the one to lose. */
  watching: boolean;
  /** Server bytes since the statement was sent, not yet parsed into whole messages. */
  pending: Buffer;
  /** The end of the client's previous chunk (a name may straddle two chunks). */
  tail: string;
}

const READY_FOR_QUERY = 0x5a; // 'Z'

export class PgCuttingProxy {
  private armed: string | undefined;
  private down = false;
  private readonly conns = new Set<Conn>();
  /** Statements whose answer was lost. */
  cuts = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<PgCuttingProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new PgCuttingProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    return proxy;
  }

  /** The next execution of prepared statement `name` applies, but its answer never arrives; then every connection breaks and new ones are refused until up(). */
  cutAfter(name: string): void {
    this.armed = name;
  }

  up(): void {
    this.down = false;
  }

  get isDown(): boolean {
    return this.down;
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    client.on('error', () => undefined);
    if (this.down) {
      client.destroy();
      return;
    }
    const server = connect(targetPort, '127.0.0.1');
    server.on('error', () => undefined);
    const c: Conn = { client, server, watching: false, pending: Buffer.alloc(0), tail: '' };
    this.conns.add(c);
    const close = () => {
      this.conns.delete(c);
      client.destroy();
      server.destroy();
    };
    client.on('close', close);
    server.on('close', close);
    client.on('data', (chunk: Buffer) => {
      const text = c.tail + chunk.toString('latin1');
      if (this.armed !== undefined && text.includes(this.armed)) {
        this.armed = undefined;
        c.watching = true;
        c.pending = Buffer.alloc(0); // the connection is idle between statements: the answer starts a message
      }
      c.tail = text.slice(-64);
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (c.watching) {
        c.pending = Buffer.concat([c.pending, chunk]);
        while (c.pending.length >= 5 && c.pending.length >= 1 + c.pending.readInt32BE(1)) {
          const type = c.pending[0];
          c.pending = c.pending.subarray(1 + c.pending.readInt32BE(1));
          if (type === READY_FOR_QUERY) {
            this.cuts++;
            this.cutAll();
            return;
          }
        }
      }
      client.write(chunk);
    });
  }

  private cutAll(): void {
    this.down = true;
    for (const c of [...this.conns]) {
      c.client.destroy();
      c.server.destroy();
    }
    this.conns.clear();
  }
}
