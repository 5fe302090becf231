// npm run bench -- security [--seconds N] [--handshakes N]
// One embedded agent with PLAINTEXT, SSL and SASL_PLAINTEXT listeners (certificates made by openssl),
// all in the same run:
// 1. connection set-up: N sequential TCP connects next to N TLS handshakes (TLS 1.3, RSA 2048);
// 2. authentication: N sequential SASL logins (handshake + authenticate round trips) with PLAIN and
//    SCRAM-SHA-512 (4096 iterations) — the server's cost includes reading the credential from the
//    database at each login; the client's PBKDF2 is timed apart so the server's share can be read;
// 3. produce throughput, acks=all, 1 KiB records, 16 connections × 5 in flight, over PLAINTEXT and
//    over SSL (the same pre-encoded requests).
import { performance } from 'node:perf_hooks';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ApiKey, ErrorCode, decodeResponse, encodeRequest } from '../protocol/index.js';
import { buildRecordBatchSync } from '../protocol/record-batch.js';
import { startAgent, cliPath } from '../test/helpers/agent.js';
import { makeCerts } from '../test/helpers/certs.js';
import { freePort } from '../test/helpers/ports.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { hash, hmac, saltedPassword } from '../src/security/scram.js';
import { pipelined } from './_pipeline.js';
import { createTopic } from './e2e.js';

const PASSWORD = 'bench-secret';

function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
}

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(2)} ms, p50 ${s[Math.floor(s.length / 2)]!.toFixed(2)} ms, p99 ${s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!.toFixed(2)} ms (${s.length})`;
};

async function timeEach(n: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

async function scramLogin(port: number, clientSide: number[]): Promise<void> {
  const c = await RawClient.connect(port);
  await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'SCRAM-SHA-512' });
  const cnonce = 'benchnonce' + Math.random().toString(36).slice(2);
  const bare = `n=bench,r=${cnonce}`;
  const first = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`n,,${bare}`) });
  const serverFirst = first.authBytes.toString();
  const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
  const t = performance.now();
  const salted = saltedPassword('SCRAM-SHA-512', PASSWORD, Buffer.from(attrs.s!, 'base64'), Number(attrs.i));
  const clientKey = hmac('SCRAM-SHA-512', salted, 'Client Key');
  const withoutProof = `c=biws,r=${attrs.r}`;
  const sig = hmac('SCRAM-SHA-512', hash('SCRAM-SHA-512', clientKey), `${bare},${serverFirst},${withoutProof}`);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
  clientSide.push(performance.now() - t);
  const final = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`${withoutProof},p=${proof.toString('base64')}`) });
  if (final.errorCode !== ErrorCode.NONE) throw new Error(`SCRAM login failed: ${final.errorMessage}`);
  c.close();
}

async function plainLogin(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
  const r = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`\u0000bench\u0000${PASSWORD}`) });
  if (r.errorCode !== ErrorCode.NONE) throw new Error(`PLAIN login failed: ${r.errorMessage}`);
  c.close();
}

function produceFrames(topic: string): { frames: Buffer[]; bytesPerRequest: number } {
  const frames: Buffer[] = [];
  const value = Buffer.alloc(1024, 'x');
  for (let r = 0; r < 4; r++) {
    const partitionData = Array.from({ length: 8 }, (_, j) => ({
      index: r * 8 + j,
      records: buildRecordBatchSync({ records: Array.from({ length: 16 }, (_, k) => ({ key: `k${k}`, value, timestamp: Date.now() })) }),
    }));
    frames.push(Buffer.concat(encodeRequest(ApiKey.Produce, 7, 0, 'bench', { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData }] })));
  }
  return { frames, bytesPerRequest: 8 * 16 * 1024 };
}

async function throughput(port: number, topic: string, seconds: number, open?: () => Promise<Socket>): Promise<{ mbps: number; errors: number }> {
  const { frames, bytesPerRequest } = produceFrames(topic);
  let acked = 0;
  let errors = 0;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, (_, c) =>
      pipelined(port, frames, c, deadline, 5, (frame) => {
        const { body } = decodeResponse(ApiKey.Produce, 7, frame);
        if (body.responses.every((t) => t.partitionResponses.every((p) => p.errorCode === ErrorCode.NONE))) acked++;
        else errors++;
      }, open),
    ),
  );
  return { mbps: (acked * bytesPerRequest) / ((Date.now() - started) / 1000) / 1e6, errors };
}

export async function run(args: string[]): Promise<void> {
  const seconds = arg(args, '--seconds', 10);
  const n = arg(args, '--handshakes', 200);
  const certs = makeCerts();
  const [plain, ssl, sasl] = [await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-bench-security-'));
  const made = spawnSync('node', [cliPath(), 'users', 'create', 'bench', '--password', PASSWORD, '--mechanism', 'SCRAM-SHA-512,PLAIN', '--data-dir', dataDir]);
  if (made.status !== 0) throw new Error(`users create: ${made.stderr}`);
  const agent = await startAgent({
    dataDir,
    cleanup: true,
    port: plain,
    args: [
      '--listeners', `PLAINTEXT://127.0.0.1:${plain},SSL://127.0.0.1:${ssl},SASL_PLAINTEXT://127.0.0.1:${sasl}`,
      '--ssl-cert-file', certs.certFile, '--ssl-key-file', certs.keyFile,
      '--log-level', 'error',
    ],
  });
  try {
    const tcp = () =>
      timeEach(n, async () => {
        const s = netConnect(plain, '127.0.0.1');
        await once(s, 'connect');
        s.destroy();
      });
    const tls = () =>
      timeEach(n, async () => {
        const s = tlsConnect({ host: '127.0.0.1', port: ssl, ca: certs.ca, servername: 'localhost' });
        await once(s, 'secureConnect');
        s.destroy();
      });
    await tcp();
    await tls(); // warm-up
    console.log(`connection set-up, ${n} sequential each (same run):`);
    console.log(`  TCP connect            ${stats(await tcp())}`);
    console.log(`  TLS handshake          ${stats(await tls())}`);
    await plainLogin(sasl);
    const client: number[] = [];
    await scramLogin(sasl, client);
    client.length = 0;
    console.log(`SASL login on a new connection (handshake + authenticate), ${n} sequential each:`);
    console.log(`  PLAIN                  ${stats(await timeEach(n, () => plainLogin(sasl)))}`);
    const scram = await timeEach(n, () => scramLogin(sasl, client));
    console.log(`  SCRAM-SHA-512 (4096)   ${stats(scram)}`);
    console.log(`    of which client PBKDF2 + proof ${stats(client)}`);

    await createTopic(plain, 'bench-security', 32);
    await throughput(plain, 'bench-security', 2); // warm-up: leases taken
    const openTls = async () => {
      const s = tlsConnect({ host: '127.0.0.1', port: ssl, ca: certs.ca, servername: 'localhost' });
      await once(s, 'secureConnect');
      return s as unknown as Socket;
    };
    const p = await throughput(plain, 'bench-security', seconds);
    const t = await throughput(ssl, 'bench-security', seconds, openTls);
    const p2 = await throughput(plain, 'bench-security', seconds);
    console.log(`produce acks=all, 1 KiB records, 16 connections x 5 in flight, ${seconds} s each (plaintext, TLS, plaintext again):`);
    console.log(`  PLAINTEXT  ${p.mbps.toFixed(1)} MB/s (errors ${p.errors})`);
    console.log(`  SSL        ${t.mbps.toFixed(1)} MB/s (errors ${t.errors})`);
    console.log(`  PLAINTEXT  ${p2.mbps.toFixed(1)} MB/s (errors ${p2.errors})`);
    console.log(`  TLS / plaintext: ${(t.mbps / ((p.mbps + p2.mbps) / 2)).toFixed(2)}`);
  } finally {
    await agent.stop();
    certs.cleanup();
  }
}
