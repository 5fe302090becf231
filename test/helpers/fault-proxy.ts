// An HTTP proxy in front of the S3 test server that misbehaves on purpose: for a configurable
// fraction of requests it answers 500/503 without forwarding, forwards and THEN answers an error
// (the request took effect but the client thinks it failed), delays, or resets the connection.
// Randomness is seeded so a failing run can be replayed.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from './ports.js';

export interface FaultRule {
  /** HTTP method to match (default: any). */
  method?: string;
  /** Fraction of matching requests affected, 0..1. */
  rate: number;
  /**
   * error: answer `status` without forwarding. after: forward, then answer `status`.
   * delay: wait `delayMs`, then forward. reset: destroy the connection without answering.
   */
  action: 'error' | 'after' | 'delay' | 'reset';
  status?: number;
  delayMs?: number;
}

export interface FaultProxyStats {
  requests: number;
  forwarded: number;
  errors: number;
  after: number;
  delayed: number;
  resets: number;
  active: number;
  maxActive: number;
}

export interface FaultProxy {
  endpoint: string;
  stats: FaultProxyStats;
  setRules(rules: FaultRule[]): void;
  resetStats(): void;
  stop(): Promise<void>;
}

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function s3ErrorBody(status: number): string {
  const code = status === 503 ? 'SlowDown' : status === 500 ? 'InternalError' : 'ServiceUnavailable';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by fault proxy</Message><RequestId>fault</RequestId></Error>`;
}

function sendError(res: ServerResponse, status: number): void {
  if (res.headersSent || res.destroyed) return;
  const body = s3ErrorBody(status);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startFaultProxy(target: string, opts: { rules?: FaultRule[]; seed?: number } = {}): Promise<FaultProxy> {
  const t = new URL(target);
  let rules = opts.rules ?? [];
  const random = prng(opts.seed ?? 42);
  const fresh = (): FaultProxyStats => ({ requests: 0, forwarded: 0, errors: 0, after: 0, delayed: 0, resets: 0, active: 0, maxActive: 0 });
  const stats = fresh();
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const up = request(
        { hostname: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          readBody(r).then((b) => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: b }), reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });

  const server = createServer((req, res) => {
    stats.requests++;
    stats.active++;
    if (stats.active > stats.maxActive) stats.maxActive = stats.active;
    res.on('close', () => stats.active--);
    const rule = rules.find((r) => (r.method === undefined || r.method === req.method) && random() < r.rate);
    void (async () => {
      const body = await readBody(req);
      if (rule?.action === 'reset') {
        stats.resets++;
        req.socket.destroy();
        return;
      }
      if (rule?.action === 'error') {
        stats.errors++;
        sendError(res, rule.status ?? 503);
        return;
      }
      if (rule?.action === 'delay') {
        stats.delayed++;
        await new Promise((r) => setTimeout(r, rule.delayMs ?? 1000));
        if (res.destroyed) return;
      }
      const up = await forward(req, body);
      stats.forwarded++;
      if (rule?.action === 'after') {
        stats.after++;
        sendError(res, rule.status ?? 500);
        return;
      }
      if (res.destroyed) return;
      const headers = { ...up.headers };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(up.body.length);
      res.writeHead(up.status, headers);
      res.end(up.body);
    })().catch(() => {
      if (!res.headersSent) sendError(res, 502);
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setRules: (r) => (rules = r),
    resetStats: () => Object.assign(stats, fresh(), { active: stats.active }),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
