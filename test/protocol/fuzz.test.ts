// Fuzz: random frames and mutations (bit flips, truncations, length inflation, garbage) of valid
// requests of every API and version. Only DecodeError may escape, and no decode creates more than the
// frame holds (Reader.allocated: string/buffer lengths, array counts, 16 per uuid).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMessage, readStruct } from '../../protocol/codec.js';
import { readRequestHeader, requestHeaderVersion } from '../../protocol/headers.js';
import { API_INFO, DecodeError, decodeRequest, decodeResponse, encodeRequest, encodeResponse, isSupportedVersion, type ApiKeyValue } from '../../protocol/index.js';
import { Reader } from '../../protocol/reader.js';
import { int, randomMessageValue, rng, versionsOf, type Rng } from './schema-values.js';

const CASES = Number(process.env.FUZZ_CASES ?? 120_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

interface Sample {
  apiKey: ApiKeyValue;
  version: number;
  frame: Buffer; // without the size prefix
}

function corpus(r: Rng, kind: 'request' | 'response'): Sample[] {
  const out: Sample[] = [];
  for (const info of Object.values(API_INFO)) {
    const schema = kind === 'request' ? info.requestSchema : info.responseSchema;
    for (const version of versionsOf(schema)) {
      for (let i = 0; i < 3; i++) {
        const body = randomMessageValue(r, schema, version, { maxItems: 2, nullRate: 0.1 }) as never;
        const chunks = kind === 'request'
          ? encodeRequest(info.apiKey, version, int(r, 0, 1000), i === 0 ? null : 'fuzz-client', body)
          : encodeResponse(info.apiKey, version, int(r, 0, 1000), body);
        out.push({ apiKey: info.apiKey, version, frame: Buffer.concat(chunks).subarray(4) });
      }
    }
  }
  return out;
}

function mutate(r: Rng, src: Buffer): Buffer {
  const f = Buffer.from(src);
  const kind = int(r, 0, 7);
  switch (kind) {
    case 0: { // bit flips
      const n = int(r, 1, 4);
      for (let i = 0; i < n && f.length > 0; i++) f[int(r, 0, f.length - 1)] ^= 1 << int(r, 0, 7);
      return f;
    }
    case 1: // truncation
      return f.subarray(0, int(r, 0, Math.max(0, f.length - 1)));
    case 2: { // length inflation: a large int32/int16 or a long varint somewhere
      if (f.length < 5) return f;
      const p = int(r, 4, f.length - 1);
      const w = int(r, 0, 3);
      if (w === 0 && p + 4 <= f.length) f.writeInt32BE([0x7fffffff, 0x10000, -2, 1 << 20][int(r, 0, 3)], p);
      else if (w === 1 && p + 2 <= f.length) f.writeInt16BE([0x7fff, -2, 0x1000][int(r, 0, 2)], p);
      else if (w === 2) f.fill(0xff, p, Math.min(f.length, p + int(r, 1, 6)));
      else f[p] = int(r, 0x80, 0xff);
      return f;
    }
    case 3: { // random byte overwrites
      const n = int(r, 1, 8);
      for (let i = 0; i < n && f.length > 0; i++) f[int(r, 0, f.length - 1)] = int(r, 0, 255);
      return f;
    }
    case 4: // trailing garbage
      return Buffer.concat([f, Buffer.from(Array.from({ length: int(r, 1, 8) }, () => int(r, 0, 255)))]);
    case 5: { // inserted bytes
      const p = int(r, 0, f.length);
      return Buffer.concat([f.subarray(0, p), Buffer.from(Array.from({ length: int(r, 1, 4) }, () => int(r, 0, 255))), f.subarray(p)]);
    }
    case 6: { // deleted bytes
      const p = int(r, 0, f.length);
      return Buffer.concat([f.subarray(0, p), f.subarray(Math.min(f.length, p + int(r, 1, 4)))]);
    }
    default: { // random frame, often with a real api key and version
      const b = Buffer.from(Array.from({ length: int(r, 0, 48) }, () => int(r, 0, 255)));
      if (b.length >= 4 && r() < 0.7) {
        b.writeInt16BE(f.readInt16BE(0), 0);
        b.writeInt16BE(f.readInt16BE(2), 2);
      }
      return b;
    }
  }
}

/** decodeRequest through the same internals, with one Reader so its allocation count covers header and body. */
function allocatedByDecode(frame: Buffer): number {
  const r = new Reader(frame);
  try {
    const apiKey = r.int16();
    const version = r.int16();
    const hv = requestHeaderVersion(apiKey, version);
    r.pos = 0;
    readRequestHeader(r, hv);
    if (isSupportedVersion(apiKey, version)) readStruct(r, compileMessage(API_INFO[apiKey as ApiKeyValue].requestSchema, version));
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
  return r.allocated;
}

function expectOnlyDecodeError(fn: () => unknown, what: () => string): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof DecodeError) return false;
    assert.fail(`${what()}: ${(e as Error)?.stack ?? String(e)}`);
  }
}

test(`fuzz: ${CASES} mutated and random request frames only raise DecodeError, within the frame's size`, () => {
  const r = rng(SEED);
  const samples = corpus(r, 'request');
  // Every unmutated sample decodes.
  for (const s of samples) decodeRequest(s.frame);
  let accepted = 0;
  const kinds = new Map<string, number>();
  for (let i = 0; i < CASES; i++) {
    const s = samples[int(r, 0, samples.length - 1)];
    const frame = mutate(r, s.frame);
    const hex = () => `seed ${SEED} case ${i}: api ${s.apiKey} v${s.version} frame ${frame.toString('hex')}`;
    try {
      decodeRequest(frame);
      accepted++;
    } catch (e) {
      if (!(e instanceof DecodeError)) assert.fail(`${hex()}: ${(e as Error)?.stack ?? String(e)}`);
      kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
    }
    const allocated = allocatedByDecode(frame);
    assert.ok(allocated <= frame.length, `${hex()}: allocated ${allocated} > ${frame.length}`);
  }
  // Sanity: the mutations exercise many error kinds, and some mutated frames still decode.
  assert.ok(accepted > 0);
  for (const kind of ['truncated', 'invalid_length', 'unknown_api', 'unsupported_version']) {
    assert.ok((kinds.get(kind) ?? 0) > 0, `no ${kind} errors in ${[...kinds]}`);
  }
});

test('fuzz: mutated response frames only raise DecodeError', () => {
  const r = rng(SEED + 1);
  const samples = corpus(r, 'response');
  for (let i = 0; i < 20_000; i++) {
    const s = samples[int(r, 0, samples.length - 1)];
    const frame = mutate(r, s.frame);
    expectOnlyDecodeError(() => decodeResponse(s.apiKey, s.version, frame), () => `seed ${SEED} response case ${i}`);
  }
});

test('fuzz: FrameDecoder on random streams only raises DecodeError', async () => {
  const { FrameDecoder } = await import('../../protocol/framing.js');
  const r = rng(SEED + 2);
  for (let i = 0; i < 5_000; i++) {
    const d = new FrameDecoder({ maxFrameBytes: int(r, 0, 4096) });
    try {
      for (let k = int(r, 1, 6); k > 0; k--) {
        const chunk = Buffer.from(Array.from({ length: int(r, 0, 64) }, () => (r() < 0.5 ? 0 : int(r, 0, 255))));
        for (const f of d.push(chunk)) assert.ok(f.length <= d.maxFrameBytes);
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) assert.fail(`seed ${SEED} stream ${i}: ${String(e)}`);
    }
  }
});
