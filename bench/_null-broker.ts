// The null broker: decodes every frame with the same protocol code as the agent and answers each
// Produce at once with success, storing nothing. The e2e benchmark measures StreamHouse against it
// with the same load generator, so the ratio shows what storage and durability cost.
// Run: node dist/bench/_null-broker.js <port>
import { createServer } from 'node:net';
import { ApiKey, ErrorCode, FrameDecoder, decodeRequest, encodeResponse } from '../protocol/index.js';

export function startNullBroker(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      socket.cork();
      for (const frame of frames) {
        const req = decodeRequest(frame);
        if (req.apiKey !== ApiKey.Produce) continue;
        const responses = req.body.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: ErrorCode.NONE, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null })),
        }));
        if (req.body.acks !== 0) for (const c of encodeResponse(ApiKey.Produce, req.apiVersion, req.header.correlationId, { responses, throttleTimeMs: 0 })) socket.write(c);
      }
      socket.uncork();
    });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

if (process.argv[1]?.endsWith('null-broker.js')) {
  const port = Number(process.argv[2] ?? 0);
  void startNullBroker(port).then((s) => console.log(JSON.stringify({ msg: 'listening', port: s.port })));
}
