// A TCP proxy in front of an agent that loses chosen Produce responses: the request reaches the agent
// and takes effect, then the connection breaks instead of delivering the answer, as when a network
// path fails at the worst moment. Clients reconnect and resend; what ends up in the log shows whether
// the resend was recognised. Counts Produce responses across all connections (1-based).
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ApiKey } from '../../protocol/index.js';

export class CuttingProxy {
  /** Produce responses seen so far (including the cut ones). */
  produceResponses = 0;
  cuts = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly cutAt: ReadonlySet<number>,
  ) {}

  static async start(targetPort: number, port: number, cutAt: Iterable<number>): Promise<CuttingProxy> {
    const server = createServer();
    const proxy = new CuttingProxy(server, port, new Set(cutAt));
    server.on('connection', (client) => proxy.pipe(client, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  private pipe(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', cut);
    upstream.on('close', cut);
    const apiKeys = new Map<number, number>(); // correlation id -> api key
    let fromClient = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      fromClient = Buffer.concat([fromClient, chunk]);
      while (fromClient.length >= 4 && fromClient.length >= 4 + fromClient.readInt32BE(0)) {
        const size = fromClient.readInt32BE(0);
        apiKeys.set(fromClient.readInt32BE(8), fromClient.readInt16BE(4));
        fromClient = fromClient.subarray(4 + size);
      }
    });
    let fromServer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      fromServer = Buffer.concat([fromServer, chunk]);
      while (fromServer.length >= 4 && fromServer.length >= 4 + fromServer.readInt32BE(0)) {
        const size = fromServer.readInt32BE(0);
        const frame = fromServer.subarray(0, 4 + size);
        fromServer = fromServer.subarray(4 + size);
        if (apiKeys.get(frame.readInt32BE(4)) === ApiKey.Produce && this.cutAt.has(++this.produceResponses)) {
          this.cuts++;
          cut();
          return;
        }
        client.write(frame);
      }
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
