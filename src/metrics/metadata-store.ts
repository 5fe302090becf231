// A MetadataStore decorator timing every call that reaches the database: the agent wraps the SQL store
// under its read-through cache, so cache hits are not counted and each observation is a query (or a
// transaction) on PostgreSQL or PGlite. A Proxy, so that methods added to the store later are timed
// without touching this file; properties (kind, driver) pass through.
import { performance } from 'node:perf_hooks';
import type { MetadataStore } from '../../metadata/types.js';

export interface MetadataOpSink {
  metadataOp(op: string, seconds: number, ok: boolean): void;
}

/** Calls that are not queries. */
const UNTIMED = new Set(['close', 'constructor']);

export function instrumentMetadataStore<S extends MetadataStore>(store: S, sink: MetadataOpSink): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || UNTIMED.has(prop)) return typeof value === 'function' ? value.bind(target) : value;
      let w = wrapped.get(prop);
      if (w === undefined) {
        const fn = value as (...args: unknown[]) => unknown;
        w = function timed(...args: unknown[]): unknown {
          const t0 = performance.now();
          let result: unknown;
          try {
            result = fn.apply(target, args);
          } catch (err) {
            sink.metadataOp(prop, (performance.now() - t0) / 1000, false);
            throw err;
          }
          if (result instanceof Promise) {
            return result.then(
              (v) => {
                sink.metadataOp(prop, (performance.now() - t0) / 1000, true);
                return v;
              },
              (err: unknown) => {
                sink.metadataOp(prop, (performance.now() - t0) / 1000, false);
                throw err;
              },
            );
          }
          return result; // synchronous helpers (no query)
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}
