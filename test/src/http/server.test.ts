import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpServer, get, sendText, type HttpRoute } from '../../../src/http/server.js';
import { readyRoute, runChecks } from '../../../src/http/routes.js';
import { createLogger } from '../../../src/logger.js';
import { freePort } from '../../helpers/ports.js';

const log = createLogger('silent');
let server: HttpServer;
let base: string;
const seen: string[] = [];
let ready = true;

before(async () => {
  // A prefix route that declines what it does not know, then exact routes, then one that throws.
  const console: HttpRoute = (req, res, url) => {
    seen.push(`console ${url.pathname}`);
    if (!url.pathname.startsWith('/console/')) return false;
    sendText(res, 200, `page ${url.pathname.slice('/console/'.length)} ${url.searchParams.get('q') ?? ''}`);
    return true;
  };
  server = new HttpServer(log).mount(
    console,
    get('/a', (_req, res) => sendText(res, 200, 'first')),
    get('/a', (_req, res) => sendText(res, 200, 'second')),
    get('/boom', () => {
      throw new Error('boom');
    }),
    readyRoute({ store: () => (ready ? undefined : 'store down'), slow: () => new Promise<undefined>((r) => setTimeout(() => r(undefined), ready ? 0 : 500)) }, 100),
  );
  const port = await freePort();
  await server.listen(port, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await server.close();
});

test('routes are tried in order; the first that answers wins; none answering is 404', async () => {
  seen.length = 0;
  assert.equal(await (await fetch(`${base}/a`)).text(), 'first');
  assert.deepEqual(seen, ['console /a']);
  const page = await fetch(`${base}/console/topics?q=x`);
  assert.equal(await page.text(), 'page topics x');
  assert.equal((await fetch(`${base}/missing`)).status, 404);
});

test('get() routes answer GET and HEAD, 405 otherwise', async () => {
  const head = await fetch(`${base}/a`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  const post = await fetch(`${base}/a`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('a route that throws is answered 500 and the server goes on', async () => {
  assert.equal((await fetch(`${base}/boom`)).status, 500);
  assert.equal((await fetch(`${base}/a`)).status, 200);
});

test('/readyz: 200 when every check passes; 503 naming the failed ones (a reason or a timeout)', async () => {
  ready = true;
  const ok = await fetch(`${base}/readyz`);
  assert.equal(ok.status, 200);
  ready = false;
  const bad = await fetch(`${base}/readyz`);
  assert.equal(bad.status, 503);
  const body = (await bad.json()) as { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> };
  assert.equal(body.ready, false);
  assert.equal(body.checks.store.ok, false);
  assert.equal(body.checks.store.error, 'store down');
  assert.match(body.checks.slow.error!, /no answer within 100 ms/);
  ready = true;
});

test('runChecks: a rejected check fails with its message', async () => {
  const r = await runChecks({ a: async () => undefined, b: async () => { throw new Error('ECONNREFUSED'); } }, 1000);
  assert.equal(r.ready, false);
  assert.equal(r.checks.a.ok, true);
  assert.equal(r.checks.b.error, 'ECONNREFUSED');
});

test('listening on a port in use names the setting', async () => {
  const other = new HttpServer(log);
  const port = Number(new URL(base).port);
  await assert.rejects(other.listen(port, '127.0.0.1'), /HTTP port \d+ on 127\.0\.0\.1 is already in use: set another with --http-port \(STREAMHOUSE_HTTP_PORT\), or 0/);
});
