// Runs the drizzle/ migrations with drizzle-orm's migrator, one migration per transaction so that a
// failure names the migration that failed (drizzle's own `migrate()` runs them all in one transaction
// and reports only the failing SQL).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import { rootCause } from './errors.js';

/** Where drizzle-orm's migrator records applied migrations (its defaults, spelled out). */
export const MIGRATIONS_SCHEMA = 'drizzle';
export const MIGRATIONS_TABLE = '__drizzle_migrations';

/** The drizzle/ folder of this package: found upwards from this file (works from metadata/ and dist/metadata/). */
export function defaultMigrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error(`migrations folder drizzle/ not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A migration failed: names it, keeps the database error as cause. */
export class MigrationError extends Error {
  readonly migration: string;
  constructor(migration: string, cause: unknown) {
    const root = rootCause(cause);
    super(`metadata migration ${migration} failed: ${root instanceof Error ? root.message : String(root)}`, { cause });
    this.name = 'MigrationError';
    this.migration = migration;
  }
}

interface DrizzleInternals {
  dialect: { migrate(migrations: MigrationMeta[], session: unknown, config: object): Promise<void> };
  session: unknown;
}

/**
 * Applies pending migrations from `folder` to a drizzle database (node-postgres or PGlite). Already
 * applied ones are skipped (drizzle compares each migration's timestamp with the last one recorded),
 * so running this again is a no-op. Returns the tags of the migrations in the folder.
 */
export async function runMigrations(db: unknown, folder: string): Promise<string[]> {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as {
    entries: Array<{ tag: string }>;
  };
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  const { dialect, session } = db as DrizzleInternals;
  const config = { migrationsFolder: folder, migrationsSchema: MIGRATIONS_SCHEMA, migrationsTable: MIGRATIONS_TABLE };
  const tags = journal.entries.map((e) => e.tag);
  for (let i = 0; i < migrations.length; i++) {
    try {
      await dialect.migrate([migrations[i]!], session, config);
    } catch (err) {
      throw new MigrationError(tags[i] ?? `#${i}`, err);
    }
  }
  return tags;
}
