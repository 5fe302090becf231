// The agent's HTTP endpoint (--http-port, --http-host): a small route table on node:http, so that
// more routes (a web console) can be mounted next to /metrics, /healthz and /readyz. A route looks at
// the request and either answers it (true) or lets the next route try (false); the first to answer
// wins, and a request no route takes gets 404. A route that throws gets 500 (logged).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';

export type HttpRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

/** A route answering GET and HEAD of one exact path. */
export function get(path: string, answer: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void): HttpRoute {
  return async (req, res, url) => {
    if (url.pathname !== path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return true;
    }
    await answer(req, res, url);
    return true;
  };
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, JSON.stringify(value) + '\n', 'application/json');
}

/** Runs the routes in order; true when one answered. Exported for tests. */
export async function route(routes: readonly HttpRoute[], req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://agent');
  for (const r of routes) if (await r(req, res, url)) return true;
  return false;
}

export class HttpServer {
  private readonly server: Server;
  private readonly routes: HttpRoute[] = [];
  private readonly sockets = new Set<Socket>();

  constructor(private readonly log: Logger) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // Keep-alive connections from a scraper must not hold shutdown.
    this.server.keepAliveTimeout = 5_000;
  }

  /** Adds routes after those already mounted. */
  mount(...routes: HttpRoute[]): this {
    this.routes.push(...routes);
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!(await route(this.routes, req, res))) sendText(res, 404, 'not found\n');
    } catch (err) {
      this.log.error({ err, url: req.url }, 'HTTP route failed');
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    }
  }

  /** Listens; a port in use is an error naming the setting. */
  listen(port: number, host: string): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new Error(`HTTP port ${port} on ${host} is already in use: set another with --http-port (STREAMHOUSE_HTTP_PORT), or 0 to turn the HTTP endpoint and metrics off`, { cause: err }));
        } else if (err.code === 'EADDRNOTAVAIL') {
          reject(new Error(`HTTP host ${host} is not an address of this machine (--http-host / STREAMHOUSE_HTTP_HOST)`, { cause: err }));
        } else reject(err);
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.log.error({ err }, 'HTTP listener error'));
        const addr = this.server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('HTTP listener has no address'));
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
