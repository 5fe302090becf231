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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(port: number, localAddress?: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

function isClosed(sock: Socket): boolean {
  return sock.destroyed || sock.readyState === 'closed';
}

test('a frame must arrive whole within the receive deadline; single bytes extend neither it nor the idle time', async () => {
  let t = 0;
  const srv = new KafkaServer(echo, { ...limits, requestReceiveTimeoutMs: 1000, connectionsMaxIdleMs: 5000 }, silentLogger(), { now: () => t, checkIntervalMs: 60_000 });
  const { port } = await srv.listen(0, '127.0.0.1');
  try {
    const slow = await open(port);
    const rs = reader(slow);
    const idle = await open(port);
    const ri = reader(idle);
    idle.write(frame(Buffer.from([0, 0, 1])));
    assert.deepEqual(await ri.next(1), [1]);
    const f = frame(Buffer.from([0, 0, 2]));
    slow.write(f.subarray(0, 1)); // the frame's first byte, at t = 0
    await sleep(30);
    for (let i = 1; i < f.length - 1; i++) {
      t += 120; // a byte every 120 ms: each arrives well within the deadline
      slow.write(f.subarray(i, i + 1));
      await sleep(20);
      srv.checkTimeouts();
    }
    assert.equal(t, 120 * (f.length - 2));
    assert.ok(t < 1000 && !isClosed(slow), 'still within the deadline');
    t = 1000;
    srv.checkTimeouts();
    await rs.closed; // one byte short at the deadline: closed

    // The answered connection starts a frame at 4500: the idle time still counts from its last
    // response (t = 0), not from that byte.
    t = 4500;
    idle.write(Buffer.from([0]));
    await sleep(30);
    t = 4999;
    srv.checkTimeouts();
    await sleep(30);
    assert.equal(isClosed(idle), false);
    t = 5000;
    srv.checkTimeouts();
    await ri.closed;
  } finally {
    await srv.shutdown(100);
  }
});

test('queued.max.request.bytes: a frame that does not fit mutes its connection until memory comes back; small requests keep their share', async () => {
  // Pool 4096: frames above 1024 bytes are large and share 3072 of it.
  const lim = { ...limits, maxFrameBytes: 3000, queuedMaxRequestBytes: 4096 };
  const srv = new KafkaServer(echo, lim, silentLogger());
  const pool = srv.memoryPool;
  const { port } = await srv.listen(0, '127.0.0.1');
  try {
    const big = (id: number) => frame(Buffer.concat([Buffer.from([0, 0, id]), Buffer.alloc(1997)])); // 2000-byte frame
    const a = await open(port);
    const ra = reader(a);
    const fa = big(1);
    a.write(fa.subarray(0, 1000)); // 2000 bytes reserved, half received
    while (pool.reserved < 2000) await sleep(5);
    const b = await open(port);
    const rb = reader(b);
    b.write(big(2)); // whole, but 2000 + 2000 > 3072: muted
    while (pool.waiting < 1) await sleep(5);
    await sleep(50);
    assert.equal(pool.reserved, 2000);

    // An ordinary request still passes.
    const c = await open(port);
    const rc = reader(c);
    c.write(frame(Buffer.from([0, 0, 3])));
    assert.deepEqual(await rc.next(1), [3]);

    // A waiting connection that closes gives its place up; one receiving gives its memory back.
    const d = await open(port);
    d.write(big(4).subarray(0, 10));
    while (pool.waiting < 2) await sleep(5);
    d.destroy();
    while (pool.waiting > 1) await sleep(5);

    a.write(fa.subarray(1000));
    assert.deepEqual(await ra.next(1), [1]);
    assert.deepEqual(await rb.next(1), [2], 'the muted connection is read once memory is released');
    while (pool.reserved > 0) await sleep(5);

    const e = await open(port);
    e.write(big(5).subarray(0, 100));
    while (pool.reserved < 2000) await sleep(5);
    e.destroy();
    while (pool.reserved > 0) await sleep(5);
    assert.ok(pool.peakReserved <= 3072 + 3, `peak ${pool.peakReserved}`);
    for (const s of [a, b, c]) s.destroy();
  } finally {
    await srv.shutdown(100);
  }
});

test('max.connections.per.ip and its overrides refuse extra connections at accept; other addresses still connect', async () => {
  const srv = new KafkaServer(echo, { ...limits, maxConnections: 100, maxConnectionsPerIp: 2, maxConnectionsPerIpOverrides: new Map([['127.0.0.3', 1]]) }, silentLogger());
  const { port } = await srv.listen(0, '127.0.0.1');
  const socks: Socket[] = [];
  const refusedFrom = async (addr: string) => {
    const s = await open(port, addr);
    const r = reader(s);
    await r.closed;
  };
  const answers = async (addr: string) => {
    const s = await open(port, addr);
    socks.push(s);
    const r = reader(s);
    s.write(frame(Buffer.from([0, 0, 9])));
    assert.deepEqual(await r.next(1), [9]);
  };
  try {
    await answers('127.0.0.2');
    await answers('127.0.0.2');
    await refusedFrom('127.0.0.2');
    await answers('127.0.0.3');
    await refusedFrom('127.0.0.3');
    await answers('127.0.0.4');
    // A closed connection frees its place.
    socks[0].destroy();
    while (srv.connectionCount > 3) await sleep(5);
    await answers('127.0.0.2');
  } finally {
    for (const s of socks) s.destroy();
    await srv.shutdown(100);
  }
});

test('half-sent frames hold memory, or their place in line for it, only until the receive deadline', async () => {
  let t = 0;
  const lim = { ...limits, maxFrameBytes: 3000, queuedMaxRequestBytes: 4096, requestReceiveTimeoutMs: 1000 };
  const srv = new KafkaServer(echo, lim, silentLogger(), { now: () => t, checkIntervalMs: 60_000 });
  const pool = srv.memoryPool;
  const { port } = await srv.listen(0, '127.0.0.1');
  try {
    const half = frame(Buffer.alloc(2000)).subarray(0, 1000);
    const holding = await open(port);
    const rh = reader(holding);
    holding.write(half);
    while (pool.reserved < 2000) await sleep(5);
    t = 500;
    const waiting = await open(port);
    const rw = reader(waiting);
    waiting.write(half);
    while (pool.waiting < 1) await sleep(5);
    t = 1000;
    srv.checkTimeouts();
    await rh.closed;
    // The waiting one got the memory, and its deadline still counts from its first byte (t = 500).
    while (pool.waiting > 0) await sleep(5);
    assert.equal(pool.reserved, 2000);
    assert.equal(isClosed(waiting), false);
    t = 1500;
    srv.checkTimeouts();
    await rw.closed;
    while (pool.reserved > 0) await sleep(5);
  } finally {
    await srv.shutdown(100);
  }
});
