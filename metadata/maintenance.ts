// Vacuum for the embedded database. PGlite is PostgreSQL in single-user mode: no autovacuum worker,
// so the dead rows every flush commit, merge swap, retention pass, lease renewal and offset commit leave
// behind were never reclaimed, and no row was ever frozen. This pass does autovacuum's job in the
// agent: it reads the activity counters PGlite does keep (pg_stat_user_tables) and vacuums the tables past
// autovacuum's default thresholds, one table per statement, so produce waits for at most one table's
// VACUUM at a time. PostgreSQL deployments have autovacuum: the agent starts this on PGlite only.
import { PeriodicPass, systemTimers, type Timers } from '../storage/clock.js';
import { statement, type Driver } from './driver.js';

export interface MaintenanceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Autovacuum's defaults: autovacuum_vacuum_threshold / _scale_factor, autovacuum_vacuum_insert_threshold /
 * _scale_factor, autovacuum_freeze_max_age. */
export const VACUUM_THRESHOLD = 50;
export const VACUUM_SCALE_FACTOR = 0.2;
export const INSERT_THRESHOLD = 1000;
export const INSERT_SCALE_FACTOR = 0.2;
export const FREEZE_MAX_AGE = 200_000_000;

export interface TableActivity {
  table: string;
  /** The larger of the planner's row count (pg_class.reltuples) and the live rows counted since open. */
  liveRows: number;
  deadRows: number;
  insertedSinceVacuum: number;
  /** Transactions since the table's oldest unfrozen row (age(relfrozenxid)). */
  xidAge: number;
  /** Bytes in the table's main fork (0: nothing to vacuum). */
  bytes: number;
}

/** Why a table is vacuumed: dead rows, inserts (visibility map and freezing of append-mostly tables),
 * transaction id age (wraparound: each flush commit uses one id, 200 per second under load), or the
 * first pass after opening (the counters start from zero on every open). */
export type VacuumReason = 'dead' | 'inserts' | 'wraparound' | 'start';

export interface TableVacuumed {
  table: string;
  reason: VacuumReason;
  /** Dead rows counted before the pass. */
  deadRows: number;
  ms: number;
}

export interface MaintenanceStats {
  passes: number;
  vacuums: number;
  failed: number;
  /** The longest single statement (one table), ms. */
  longestMs: number;
}

/** What a table needs, by autovacuum's rules. `all`: every table holding data (the first pass after open). */
export function needs(t: TableActivity, all = false): VacuumReason | undefined {
  if (t.xidAge > FREEZE_MAX_AGE) return 'wraparound';
  if (t.deadRows > VACUUM_THRESHOLD + VACUUM_SCALE_FACTOR * t.liveRows) return 'dead';
  if (t.insertedSinceVacuum > INSERT_THRESHOLD + INSERT_SCALE_FACTOR * t.liveRows) return 'inserts';
  if (all && t.bytes > 0) return 'start';
  return undefined;
}

// PGlite reports a statement's table counters to the statistics only every few seconds (rate-limited
// like a backend's); forcing the next report makes the read after it current.
const S = {
  flushStats: statement('sh_maint_flush_stats', 'SELECT pg_stat_force_next_flush()'),
  activity: statement(
    'sh_maint_activity',
    `SELECT c.relname AS table, GREATEST(c.reltuples, COALESCE(s.n_live_tup, 0))::bigint AS live,
            COALESCE(s.n_dead_tup, 0) AS dead, COALESCE(s.n_ins_since_vacuum, 0) AS inserted,
            age(c.relfrozenxid)::bigint AS xid_age, pg_relation_size(c.oid)::bigint AS bytes
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname`,
    { idempotent: true },
  ),
};

const IDENT = /^[a-z_][a-z0-9_]*$/;

// VACUUM without FULL: marks dead rows' space reusable and freezes old rows, no exclusive lock, no
// rewrite. No ANALYZE: the statements were tuned on PGlite without column statistics, and with them the
// planner turned some of them into sequential scans (metadata/README.md "Embedded maintenance").
const vacuum = (table: string) => statement(`sh_maint_vacuum_${table}`, `VACUUM public.${table}`);

export interface EmbeddedMaintenanceOptions {
  driver: Driver;
  logger?: MaintenanceLogger;
  timers?: Timers;
  /** Called after each pass with what it did (tests, metrics). */
  onPass?: (done: TableVacuumed[]) => void;
}

export class EmbeddedMaintenance {
  readonly stats: MaintenanceStats = { passes: 0, vacuums: 0, failed: 0, longestMs: 0 };
  private readonly periodic: PeriodicPass;
  private running: Promise<TableVacuumed[]> | undefined;
  private stopped = false;
  /** The first pass after start vacuums every table: the counters start from zero on every open. */
  private firstPass = true;

  constructor(private readonly opts: EmbeddedMaintenanceOptions) {
    const pass = () => this.runOnce({ all: this.firstPass }).then(() => (this.firstPass = false));
    this.periodic = new PeriodicPass(opts.timers ?? systemTimers, pass, (err) => this.opts.logger?.warn({ err: String(err) }, 'embedded database maintenance failed'));
  }

  /** The tables' activity counters, current as of now. */
  async activity(): Promise<TableActivity[]> {
    await this.opts.driver.query(S.flushStats);
    const rows = await this.opts.driver.query<{ table: string; live: number; dead: number; inserted: number; xid_age: number; bytes: number }>(S.activity);
    return rows.map((r) => ({
      table: r.table,
      liveRows: Number(r.live),
      deadRows: Number(r.dead),
      insertedSinceVacuum: Number(r.inserted),
      xidAge: Number(r.xid_age),
      bytes: Number(r.bytes),
    }));
  }

  /** One pass (never two at once; none after stop()). `all`: every table holding data, whatever its counters say. */
  runOnce(opts: { all?: boolean } = {}): Promise<TableVacuumed[]> {
    if (this.stopped) return Promise.resolve([]);
    this.running ??= this.pass(opts.all ?? false).finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(all: boolean): Promise<TableVacuumed[]> {
    const done: TableVacuumed[] = [];
    for (const t of await this.activity()) {
      if (this.stopped) break;
      const reason = needs(t, all);
      if (reason === undefined || !IDENT.test(t.table)) continue;
      const started = performance.now();
      try {
        await this.opts.driver.query(vacuum(t.table));
      } catch (err) {
        this.stats.failed++;
        this.opts.logger?.warn({ table: t.table, err: String(err) }, 'embedded database vacuum failed');
        continue;
      }
      const ms = performance.now() - started;
      this.stats.longestMs = Math.max(this.stats.longestMs, ms);
      this.stats.vacuums++;
      done.push({ table: t.table, reason, deadRows: t.deadRows, ms: Number(ms.toFixed(1)) });
    }
    this.stats.passes++;
    if (done.length > 0) this.opts.logger?.info({ tables: done }, 'embedded database vacuumed');
    this.opts.onPass?.(done);
    return done;
  }

  /** Runs a pass every `intervalMs` until stop() (the first one over every table). Errors are logged, never thrown. */
  start(intervalMs: number): void {
    this.periodic.start(intervalMs);
  }

  /** Stops between tables; a statement under way finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.periodic.stop();
    await this.running?.catch(() => undefined);
  }
}
