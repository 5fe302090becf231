// A lease table with the store's semantics: expiry judged on its own clock (`now`, the database
// clock), batch acquire, one renewal for all of an agent's leases. `calls` counts statements and
// `log` records releases, in order.
import type { LeaseGrant, LeaseRef, LeaseStore } from '../../../src/cluster/leases.js';

export interface Row { holder: string; epoch: number; expiresAt: number }

/** A lease table: `now` is the database clock. `calls` counts statements. */
export class FakeLeaseStore implements LeaseStore {
  now = 1_000_000;
  rows = new Map<string, Row>();
  failing = false;
  unknown = new Set<string>();
  calls = { acquire: 0, renew: 0, release: 0 };
  log: string[] = [];
  private k = (r: LeaseRef) => `${r.topic}-${r.partitionId}`;

  async acquire(holder: string, refs: readonly LeaseRef[], ttlMs: number): Promise<LeaseGrant[]> {
    this.calls.acquire++;
    if (this.failing) throw new Error('database down');
    const out: LeaseGrant[] = [];
    for (const r of refs) {
      if (this.unknown.has(this.k(r))) continue;
      const cur = this.rows.get(this.k(r));
      if (cur && cur.holder !== holder && cur.expiresAt > this.now) continue;
      const epoch = cur === undefined ? 1 : cur.holder === holder && cur.expiresAt > this.now ? cur.epoch : cur.epoch + 1;
      this.rows.set(this.k(r), { holder, epoch, expiresAt: this.now + ttlMs });
      out.push({ ...r, holder, epoch });
    }
    return out;
  }

  async renew(holder: string, ttlMs: number): Promise<LeaseGrant[]> {
    this.calls.renew++;
    if (this.failing) throw new Error('database down');
    const out: LeaseGrant[] = [];
    for (const [k, row] of this.rows) {
      if (row.holder !== holder || row.expiresAt <= this.now) continue;
      row.expiresAt = this.now + ttlMs;
      const i = k.lastIndexOf('-');
      out.push({ topic: k.slice(0, i), partitionId: Number(k.slice(i + 1)), holder, epoch: row.epoch });
    }
    return out;
  }

  async release(holder: string, refs: readonly LeaseRef[]): Promise<void> {
    this.calls.release++;
    if (this.failing) throw new Error('database down');
    for (const r of refs) {
      const cur = this.rows.get(this.k(r));
      if (cur?.holder === holder) cur.expiresAt = Math.min(cur.expiresAt, this.now);
      this.log.push(`release ${this.k(r)}`);
    }
  }
}

