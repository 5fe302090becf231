// The agent's routes: /metrics (Prometheus text format), /healthz (the process is up) and /readyz
// (ready to serve: the metadata store and the object store answer a cheap call within a short timeout,
// and the Kafka listener accepts connections).
import { get, sendJson, sendText, type HttpRoute } from './server.js';

export function metricsRoute(scrape: () => Promise<{ contentType: string; body: string }>): HttpRoute {
  return get('/metrics', async (_req, res) => {
    const { contentType, body } = await scrape();
    sendText(res, 200, body, contentType);
  });
}

export function healthRoute(): HttpRoute {
  return get('/healthz', (_req, res) => sendText(res, 200, 'ok\n'));
}

/** One readiness check: resolves when fine, rejects (or returns a reason) when not. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export interface CheckResult {
  ok: boolean;
  error?: string;
  ms: number;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Runs the checks concurrently, each bounded by `timeoutMs`. */
export async function runChecks(checks: Record<string, ReadinessCheck>, timeoutMs: number): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
  const names = Object.keys(checks);
  const results = await Promise.all(
    names.map(async (name): Promise<CheckResult> => {
      const t0 = performance.now();
      try {
        const problem = await withTimeout(Promise.resolve().then(checks[name]), timeoutMs);
        const ms = Math.round(performance.now() - t0);
        return problem === undefined ? { ok: true, ms } : { ok: false, error: problem, ms };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err), ms: Math.round(performance.now() - t0) };
      }
    }),
  );
  const out: Record<string, CheckResult> = {};
  names.forEach((n, i) => (out[n] = results[i]));
  return { ready: results.every((r) => r.ok), checks: out };
}

/**
 * 200 when every check passes, else 503; the JSON body names each check with its result, e.g.
 * {"ready":false,"checks":{"metadata":{"ok":false,"error":"no answer within 2000 ms","ms":2001},...}}.
 * Concurrent probes share one run.
 */
export function readyRoute(checks: Record<string, ReadinessCheck>, timeoutMs: number): HttpRoute {
  let running: ReturnType<typeof runChecks> | undefined;
  return get('/readyz', async (_req, res) => {
    running ??= runChecks(checks, timeoutMs).finally(() => (running = undefined));
    const r = await running;
    sendJson(res, r.ready ? 200 : 503, r);
  });
}
