// Vacuum and analyze for the embedded database. PGlite is PostgreSQL in single-user mode: no autovacuum
// worker, so the dead rows every flush commit, merge swap, retention pass, lease renewal and offset commit
// leave behind were never reclaimed and no table was ever analyzed. This pass does autovacuum's job in the
// agent: it reads the activity counters PGlite does keep (pg_stat_user_tables) and vacuums / analyzes the
// tables past autovacuum's default thresholds, one table per statement, so produce waits for at most one
// table's VACUUM at a time. PostgreSQL deployments have autovacuum: the agent starts this on PGlite only.
import { statement, type Driver } from './driver.js';

/** The subset of storage/clock.ts's Timers this needs (same shape). */
export interface MaintenanceTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MaintenanceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Autovacuum's defaults (autovacuum_vacuum_threshold / _scale_factor, autovacuum_analyze_*). */
export const VACUUM_THRESHOLD = 50;
export const VACUUM_SCALE_FACTOR = 0.2;
export const ANALYZE_THRESHOLD = 50;
export const ANALYZE_SCALE_FACTOR = 0.1;

export interface TableActivity {
  table: string;
  liveRows: number;
  deadRows: number;
  modifiedSinceAnalyze: number;
}

export interface TableMaintained {
  table: string;
  action: 'vacuum' | 'analyze';
  /** Dead rows counted before the pass. */
  deadRows: number;
  ms: number;
}

export interface MaintenanceStats {
  passes: number;
  vacuums: number;
  analyzes: number;
  failed: number;
  /** The longest single statement (one table), ms. */
  longestMs: number;
}

/** What a table needs, by autovacuum's rule: vacuum past 50 + 20 % of its rows dead, analyze past
 * 50 + 10 % modified since the last analyze. `all`: every table (counters are lost across restarts). */
export function needs(t: TableActivity, all = false): 'vacuum' | 'analyze' | undefined {
  if (all || t.deadRows > VACUUM_THRESHOLD + VACUUM_SCALE_FACTOR * t.liveRows) return 'vacuum';
  if (t.modifiedSinceAnalyze > ANALYZE_THRESHOLD + ANALYZE_SCALE_FACTOR * t.liveRows) return 'analyze';
  return undefined;
}

// PGlite reports a statement's table counters to the statistics only every few seconds (rate-limited
// like a backend's); forcing the next report makes the read after it current.
const S = {
  flushStats: statement('sh_maint_flush_stats', 'SELECT pg_stat_force_next_flush()'),
  activity: statement(
    'sh_maint_activity',
    `SELECT relname AS table, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS modified
     FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname`,
    { idempotent: true },
  ),
};

const IDENT = /^[a-z_][a-z0-9_]*$/;

function maintain(action: 'vacuum' | 'analyze', table: string) {
  // VACUUM (without FULL) only marks dead rows' space reusable: no exclusive lock, no rewrite. Analyze
  // refreshes the planner's statistics (see metadata/README.md "Embedded maintenance" for what it changed).
  const text = action === 'vacuum' ? `VACUUM (ANALYZE) public.${table}` : `ANALYZE public.${table}`;
  return statement(`sh_maint_${action}_${table}`, text);
}

export interface EmbeddedMaintenanceOptions {
  driver: Driver;
  logger?: MaintenanceLogger;
  timers?: MaintenanceTimers;
  /** Called after each pass with what it did (tests, metrics). */
  onPass?: (done: TableMaintained[]) => void;
}

const defaultTimers: MaintenanceTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class EmbeddedMaintenance {
  readonly stats: MaintenanceStats = { passes: 0, vacuums: 0, analyzes: 0, failed: 0, longestMs: 0 };
  private readonly timers: MaintenanceTimers;
  private timer: unknown;
  private running: Promise<TableMaintained[]> | undefined;
  private stopped = false;
  /** The first pass after start vacuums every table: the counters start from zero on every open. */
  private firstPass = true;

  constructor(private readonly opts: EmbeddedMaintenanceOptions) {
    this.timers = opts.timers ?? defaultTimers;
  }

  /** The tables' activity counters, current as of now. */
  async activity(): Promise<TableActivity[]> {
    await this.opts.driver.query(S.flushStats);
    const rows = await this.opts.driver.query<{ table: string; live: number; dead: number; modified: number }>(S.activity);
    return rows.map((r) => ({ table: r.table, liveRows: Number(r.live), deadRows: Number(r.dead), modifiedSinceAnalyze: Number(r.modified) }));
  }

  /** One pass (never two at once). `all`: every table, whatever its counters say. */
  runOnce(opts: { all?: boolean } = {}): Promise<TableMaintained[]> {
    this.running ??= this.pass(opts.all ?? false).finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(all: boolean): Promise<TableMaintained[]> {
    const done: TableMaintained[] = [];
    for (const t of await this.activity()) {
      if (this.stopped) break;
      const action = needs(t, all);
      if (action === undefined || !IDENT.test(t.table)) continue;
      const started = performance.now();
      try {
        await this.opts.driver.query(maintain(action, t.table));
      } catch (err) {
        this.stats.failed++;
        this.opts.logger?.warn({ table: t.table, err: String(err) }, `embedded database ${action} failed`);
        continue;
      }
      const ms = performance.now() - started;
      this.stats.longestMs = Math.max(this.stats.longestMs, ms);
      if (action === 'vacuum') this.stats.vacuums++;
      else this.stats.analyzes++;
      done.push({ table: t.table, action, deadRows: t.deadRows, ms: Number(ms.toFixed(1)) });
    }
    this.stats.passes++;
    if (done.length > 0) this.opts.logger?.info({ tables: done }, 'embedded database vacuumed');
    this.opts.onPass?.(done);
    return done;
  }

  /** Runs a pass every `intervalMs` until stop() (the first one over every table). Errors are logged, never thrown. */
  start(intervalMs: number): void {
    if (this.timer !== undefined) return;
    const tick = () => {
      const all = this.firstPass;
      this.firstPass = false;
      this.runOnce({ all })
        .catch((err) => this.opts.logger?.warn({ err: String(err) }, 'embedded database maintenance failed'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = this.timers.setTimeout(tick, intervalMs);
        });
    };
    this.timer = this.timers.setTimeout(tick, intervalMs);
  }

  /** Stops between tables; a statement under way finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
