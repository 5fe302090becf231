// One connection sending pre-encoded requests round-robin until a deadline, `depth` in flight (Kafka
// producers default to max.in.flight 5); each response frame goes to `onResponse`, with the time
// (performance.now()) its request was sent. Shared by the
// benchmarks' load generators.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../protocol/index.js';

/** `open`: another way to connect (TLS, an authenticated connection); default plain TCP to 127.0.0.1:port. */
export async function pipelined(
  port: number,
  frames: readonly Buffer[],
  first: number,
  deadline: number,
  depth: number,
  onResponse: (frame: Buffer, sentAt: number) => void,
  open?: () => Promise<Socket>,
): Promise<void> {
  let socket: Socket;
  if (open !== undefined) socket = await open();
  else {
    socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
  }
  socket.setNoDelay(true);
  const decoder = new FrameDecoder();
  const sentAt: number[] = [];
  let inflight = 0;
  let next = first;
  let correlation = 1;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const send = () => {
    while (inflight < depth && Date.now() < deadline) {
      const f = Buffer.from(frames[next++ % frames.length]!);
      f.writeInt32BE(correlation++, 8); // correlation id after size, api key, version
      sentAt.push(performance.now());
      socket.write(f);
      inflight++;
    }
    if (inflight === 0) done();
  };
  socket.on('data', (d: Buffer) => {
    for (const frame of decoder.push(d)) {
      inflight--;
      onResponse(frame, sentAt.shift()!);
    }
    send();
  });
  send();
  await finished;
  socket.destroy();
}
