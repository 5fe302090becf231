// A minimal Kafka client over a raw socket: sends requests built with our codec, reads responses in
// order. For tests that need exact requests (bad CRCs, odd versions, malformed frames).
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { FrameDecoder, decodeResponse, encodeRequest, type ApiKeyValue, type ApiRequestInput, type ApiResponse } from '../../protocol/index.js';

export class RawClient {
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private readonly decoder = new FrameDecoder();
  private correlationId = 1;
  private tail: Promise<void> = Promise.resolve();
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.frames.push(...this.decoder.push(d));
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  /** `localAddress`: the address to connect from (127.0.0.2 … are loopback too: another client host). */
  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    const s = connect({ port, host, localAddress });
    s.setNoDelay(true); // as Kafka clients do: a request is never held back waiting for an ACK
    await once(s, 'connect');
    return new RawClient(s);
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response frame (bytes after the size), or undefined when the connection closed. */
  async nextFrame(timeoutMs = 10_000): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0 && !this.closed) {
      if (Date.now() > deadline) throw new Error('no response');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
    return this.frames.shift();
  }

  /** Sends a request; several may be in flight (responses come back in request order). */
  request<K extends ApiKeyValue>(apiKey: K, apiVersion: number, body: ApiRequestInput<K>): Promise<ApiResponse<K>> {
    const id = this.correlationId++;
    this.socket.cork();
    for (const c of encodeRequest(apiKey, apiVersion, id, 'streamhouse-test', body)) this.socket.write(c);
    this.socket.uncork();
    const previous = this.tail;
    const result = previous.then(async () => {
      const frame = await this.nextFrame(60_000);
      if (frame === undefined) throw new Error('connection closed');
      const { header, body: res } = decodeResponse(apiKey, apiVersion, frame);
      if (header.correlationId !== id) throw new Error(`correlation id ${header.correlationId}, expected ${id}`);
      return res;
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  close(): void {
    this.socket.destroy();
  }
}
