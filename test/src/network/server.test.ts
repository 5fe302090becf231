import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { KafkaServer, type FrameHandler, type ServerLimits } from '../../../src/network/server.js';
import { DecodeError } from '../../../protocol/varint.js';
import { silentLogger } from '../../../src/logger.js';
import { FrameArena } from '../../../src/network/frame-arena.js';

const limits: ServerLimits = {
  maxFrameBytes: 1024,
  maxConnections: 4,
  connectionsMaxIdleMs: 60_000,
  maxInflightBytes: 64 * 1024,
  queuedMaxRequestBytes: 1024 * 1024,
  maxConnectionsPerIp: 2 ** 31 - 1,
  requestReceiveTimeoutMs: 30_000,
};

function frame(payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

/** Test protocol: payload = [delayMs u16][id u8]; the response echoes id. id 0xff = no response; 0xee = malformed. */
const echo: FrameHandler = {
  handleFrame(f) {
    const delay = f.readUInt16BE(0);
    const id = f[2];
    if (id === 0xee) throw new DecodeError('invalid_value', 'bad');
    const res = id === 0xff ? null : [frame(Buffer.from([id]))];
    return delay === 0 ? res : new Promise((r) => setTimeout(() => r(res), delay));
  },
};

async function withServer(fn: (port: number, srv: KafkaServer) => Promise<void>): Promise<void> {
  const srv = new KafkaServer(echo, limits, silentLogger());
  const { port } = await srv.listen(0, '127.0.0.1');
  try {
    await fn(port, srv);
  } finally {
    await srv.shutdown(100);
  }
}

function reader(sock: Socket): { next(n: number): Promise<number[]>; closed: Promise<void> } {
  const got: number[] = [];
  let waiter: (() => void) | undefined;
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      got.push(buf[4]);
      buf = buf.subarray(5);
    }
    waiter?.();
  });
  const closed = once(sock, 'close').then(() => undefined);
  return {
    async next(n) {
      while (got.length < n) await new Promise<void>((r) => (waiter = r));
      return got.splice(0, n);
    },
    closed,
  };
}

test('pipelined requests are answered in request order, no-response requests take no slot', async () => {
  await withServer(async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const r = reader(sock);
    const req = (delay: number, id: number) => frame(Buffer.from([delay >> 8, delay & 0xff, id]));
    sock.write(Buffer.concat([req(60, 1), req(0, 2), req(30, 0xff), req(10, 3), req(0, 4)]));
    assert.deepEqual(await r.next(4), [1, 2, 3, 4]);
    sock.destroy();
  });
});

test('a malformed frame closes that connection only', async () => {
  await withServer(async (port) => {
    const good = connect(port, '127.0.0.1');
    const bad = connect(port, '127.0.0.1');
    await Promise.all([once(good, 'connect'), once(bad, 'connect')]);
    const rg = reader(good);
    const rb = reader(bad);
    bad.write(frame(Buffer.from([0, 0, 0xee])));
    await rb.closed;
    good.write(frame(Buffer.from([0, 0, 7])));
    assert.deepEqual(await rg.next(1), [7]);
    good.destroy();
  });
});

test('oversized and negative frame sizes close the connection', async () => {
  await withServer(async (port) => {
    for (const size of [limits.maxFrameBytes + 1, -5]) {
      const sock = connect(port, '127.0.0.1');
      await once(sock, 'connect');
      const r = reader(sock);
      const b = Buffer.alloc(4);
      b.writeInt32BE(size, 0);
      sock.write(b);
      await r.closed;
    }
  });
});

test('connections over the limit are refused', async () => {
  await withServer(async (port, srv) => {
    const socks: Socket[] = [];
    for (let i = 0; i < limits.maxConnections; i++) {
      const s = connect(port, '127.0.0.1');
      await once(s, 'connect');
      socks.push(s);
    }
    while (srv.connectionCount < limits.maxConnections) await new Promise((r) => setTimeout(r, 5));
    const extra = connect(port, '127.0.0.1');
    await once(extra, 'close');
    for (const s of socks) s.destroy();
  });
});

test('recycled frames stay intact until their handler settles, then all go back to the arena', async () => {
  // Reads the id only after the delay: a frame recycled early would show another request's bytes.
  const late: FrameHandler = {
    handleFrame(f) {
      const delay = f.readUInt16BE(0);
      if (f[2] === 0xee) return Promise.reject(new DecodeError('invalid_value', 'bad'));
      return new Promise((r) => setTimeout(() => r([frame(Buffer.from([f[2]]))]), delay));
    },
  };
  const arena = new FrameArena({ slabBytes: 64 });
  const delays = [40, 5, 25, 0, 15, 30];
  const srv = new KafkaServer(late, limits, silentLogger(), { recycling: { arena, apiKeys: delays } });
  const { port } = await srv.listen(0, '127.0.0.1');
  try {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const r = reader(sock);
    const ids = Array.from({ length: 60 }, (_, i) => i + 1);
    const req = (i: number) => frame(Buffer.from([0, delays[i % delays.length], ids[i]]));
    // Several writes so that frames land in partly released slabs.
    for (let i = 0; i < ids.length; i += 7) {
      sock.write(Buffer.concat(ids.slice(i, i + 7).map((_, k) => req(i + k))));
      await new Promise((res) => setTimeout(res, 3));
    }
    assert.deepEqual(await r.next(ids.length), ids);
    assert.equal(arena.liveFrames, 0);
    assert.ok(arena.slabCount > 1, 'the test spread frames over several slabs');

    // A connection closed with requests pending, and one closed by a malformed frame followed by
    // frames it never handles: their memory comes back too.
    const bad = connect(port, '127.0.0.1');
    await once(bad, 'connect');
    const rb = reader(bad);
    bad.write(Buffer.concat([frame(Buffer.from([0, 40, 1])), frame(Buffer.from([0, 0, 0xee])), frame(Buffer.from([0, 5, 2]))]));
    await rb.closed;
    const deadline = Date.now() + 2000;
    while (arena.liveFrames > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    assert.equal(arena.liveFrames, 0);
    sock.destroy();
  } finally {
    await srv.shutdown(100);
  }
});
