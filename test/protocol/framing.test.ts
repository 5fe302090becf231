import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_FRAME_BYTES, DecodeError, FrameDecoder } from '../../protocol/index.js';
import { peekClientId } from '../../protocol/framing.js';
import { rng, int } from './schema-values.js';

const isDecodeError = (kind: string) => (e: unknown) => e instanceof DecodeError && e.kind === kind;

function frame(payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

test('whole frames in one chunk come back as views', () => {
  const stream = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.alloc(0)), frame(Buffer.from('defg'))]);
  const d = new FrameDecoder();
  const frames = d.push(stream);
  assert.deepEqual(frames.map((f) => f.toString()), ['abc', '', 'defg']);
  assert.equal(frames[0].buffer, stream.buffer);
  assert.equal(d.bufferedBytes, 0);
});

test('frames split at every byte boundary reassemble', () => {
  const payloads = [Buffer.from('hello'), Buffer.alloc(300, 1), Buffer.from('x')];
  const stream = Buffer.concat(payloads.map(frame));
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder();
    const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(out, payloads, `cut at ${cut}`);
    assert.equal(d.bufferedBytes, 0);
  }
});

test('random chunking, one byte at a time included', () => {
  const r = rng(7);
  const payloads = Array.from({ length: 50 }, () => Buffer.alloc(int(r, 0, 2000), int(r, 0, 255)));
  const stream = Buffer.concat(payloads.map(frame));
  for (let round = 0; round < 20; round++) {
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    for (let p = 0; p < stream.length; ) {
      const n = round === 0 ? 1 : int(r, 1, 3000);
      out.push(...d.push(stream.subarray(p, p + n)));
      p += n;
    }
    assert.deepEqual(out, payloads);
  }
});

test('bufferedBytes counts a partial frame', () => {
  const d = new FrameDecoder();
  assert.deepEqual(d.push(Buffer.from([0, 0])), []);
  assert.equal(d.bufferedBytes, 2);
  assert.deepEqual(d.push(Buffer.from([0, 3, 1])), []);
  assert.equal(d.bufferedBytes, 5);
  assert.deepEqual(d.push(Buffer.from([2, 3, 0])).map((f) => [...f]), [[1, 2, 3]]);
  assert.equal(d.bufferedBytes, 1);
});

test('negative and oversized sizes are typed errors, detected from the size alone', () => {
  assert.equal(new FrameDecoder().maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 100 * 1024 * 1024);
  assert.throws(() => new FrameDecoder().push(Buffer.from('ffffffff', 'hex')), isDecodeError('invalid_length'));
  assert.throws(() => new FrameDecoder().push(Buffer.from('06400001', 'hex')), isDecodeError('frame_too_large'));
  const d = new FrameDecoder({ maxFrameBytes: 10 });
  assert.deepEqual(d.push(frame(Buffer.alloc(10))).length, 1);
  d.push(Buffer.from([0, 0]));
  assert.throws(() => d.push(Buffer.from([0, 11])), isDecodeError('frame_too_large'));
});

test('frameBuffer copies chosen frames into caller memory, whatever the chunking', () => {
  const payloads = [Buffer.from([0, 7, 1, 2, 3]), Buffer.from([0, 1, 9]), Buffer.from([0, 7, 4])];
  const stream = Buffer.concat(payloads.map(frame));
  for (let cut = 0; cut <= stream.length; cut++) {
    const given: Buffer[] = [];
    const d = new FrameDecoder({
      frameBuffer: (size, apiKey) => {
        if (apiKey !== 7) return undefined;
        const b = Buffer.alloc(size);
        given.push(b);
        return b;
      },
    });
    const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(out, payloads, `cut at ${cut}`);
    assert.equal(given.length, 2);
    assert.equal(out[0], given[0]);
    assert.equal(out[2], given[1]);
  }
});

test('a bad size after complete frames returns those frames first, then fails', () => {
  const bad = Buffer.alloc(4);
  bad.writeInt32BE(-1, 0);
  const d = new FrameDecoder();
  const frames = d.push(Buffer.concat([frame(Buffer.from('ok')), bad]));
  assert.deepEqual(frames.map(String), ['ok']);
  assert.ok(d.failure instanceof DecodeError);
  assert.throws(() => d.push(Buffer.from('more')), isDecodeError('invalid_length'));
});

test('admit() holds a frame at its size prefix: nothing more is decoded until resume()', () => {
  const admitted: number[] = [];
  let allow = false;
  const d = new FrameDecoder({ admit: (size) => (admitted.push(size), allow) });
  const f1 = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('abc')]);
  const f2 = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('de')]);
  assert.deepEqual(d.push(Buffer.concat([f1, f2])), []);
  assert.deepEqual(admitted, [3]);
  assert.equal(d.heldFrameSize, 3);
  assert.equal(d.receivingFrameSize, -1);
  assert.deepEqual(d.push(Buffer.from([0, 0])), [], 'bytes pushed while held are only buffered');
  allow = true;
  assert.deepEqual(d.resume().map(String), ['abc', 'de']);
  assert.deepEqual(admitted, [3, 2], 'a held frame is admitted once');
  assert.equal(d.receivingFrameSize, -1, 'a partial size prefix is not a frame yet');
  assert.deepEqual(d.push(Buffer.from([0, 5, 1])), []);
  assert.equal(d.receivingFrameSize, 5);
  assert.throws(() => d.resume(), /no frame is held/);
});

test('peekClientId reads the client id of a request header, null when absent', () => {
  const header = (id: string | null) => {
    const b = Buffer.alloc(10 + (id === null ? 0 : Buffer.byteLength(id)));
    b.writeInt16BE(3, 0);
    b.writeInt16BE(12, 2);
    b.writeInt32BE(7, 4);
    b.writeInt16BE(id === null ? -1 : Buffer.byteLength(id), 8);
    if (id !== null) b.write(id, 10);
    return b;
  };
  assert.equal(peekClientId(header('rdkafka')), 'rdkafka');
  assert.equal(peekClientId(header(null)), null);
  assert.equal(peekClientId(header('x').subarray(0, 9)), undefined);
});
