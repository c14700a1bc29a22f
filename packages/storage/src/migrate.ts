import { createHash } from 'node:crypto';
import { StorageError } from './errors.ts';
import { MIGRATIONS } from './migrations/index.ts';
import type { Migration } from './migrations/migration.ts';
import { assertIdentifier, toNumber } from './sql.ts';
import type { StorageDriver } from './types.ts';

/** Options of {@link migrate} and {@link migrationStatus}. */
export interface MigrateOptions {
  /** Database to migrate. @default driver.database */
  database?: string;
  /** The migrations to apply, in order. @default MIGRATIONS */
  migrations?: readonly Migration[];
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Migrations applied by this call, in order (empty when the schema was current). */
  applied: { id: number; name: string }[];
  /** Migrations already applied before this call. */
  alreadyApplied: number;
}

/** State of one migration as {@link migrationStatus} reports it. */
export interface MigrationState {
  id: number;
  name: string;
  checksum: string;
  /**
   * `applied`; `pending` (not run yet); `checksum_mismatch` (edited after it ran); `unknown` (recorded
   * in the database but not in this code: a newer release migrated it).
   */
  state: 'applied' | 'pending' | 'checksum_mismatch' | 'unknown';
  /** Epoch ms when it was applied. */
  appliedAt?: number;
}

/** sha256 of a migration's statements as written (before `{db}` is replaced). */
export function migrationChecksum(migration: Migration): string {
  const hash = createHash('sha256');
  for (const statement of migration.statements) hash.update(statement.trim()).update('\n;\n');
  return hash.digest('hex');
}

function render(statement: string, database: string): string {
  return statement.replaceAll('{db}', database);
}

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
  appliedAt: number;
}

async function readApplied(driver: StorageDriver, database: string): Promise<Map<number, AppliedRow>> {
  const rows = await driver.query<{ id: unknown; name: string; checksum: string; applied_at: unknown }>(
    `SELECT id, name, checksum, toUnixTimestamp64Milli(applied_at) AS applied_at FROM ${database}.schema_migrations FINAL ORDER BY id`,
  );
  return new Map(
    rows.map((r) => {
      const id = toNumber(r.id);
      return [id, { id, name: r.name, checksum: r.checksum, appliedAt: toNumber(r.applied_at) }];
    }),
  );
}

async function ensureBookkeeping(driver: StorageDriver, database: string): Promise<void> {
  await driver.exec(`CREATE DATABASE IF NOT EXISTS ${database}`);
  await driver.exec(
    `CREATE TABLE IF NOT EXISTS ${database}.schema_migrations
(
    id         UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY id`,
  );
}

function validateList(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.id) || m.id <= previous) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', `migration ids must increase: ${m.id} (${m.name}) after ${previous}`);
    }
    previous = m.id;
  }
}

/**
 * Brings the database to the latest schema: creates the database and `schema_migrations`, then
 * applies each migration not yet recorded, in order, and records it. Idempotent: a second call
 * applies nothing. Refuses to run (STORAGE_MIGRATION_CHECKSUM_MISMATCH) when an applied migration
 * was edited since. Safe to run at every start-up of every service.
 */
export async function migrate(driver: StorageDriver, options: MigrateOptions = {}): Promise<MigrateResult> {
  const database = assertIdentifier('database', options.database ?? driver.database);
  const migrations = options.migrations ?? MIGRATIONS;
  validateList(migrations);
  await ensureBookkeeping(driver, database);
  const applied = await readApplied(driver, database);

  for (const m of migrations) {
    const recorded = applied.get(m.id);
    if (recorded !== undefined && recorded.checksum !== migrationChecksum(m)) {
      throw new StorageError(
        'STORAGE_MIGRATION_CHECKSUM_MISMATCH',
        `migration ${m.id} (${m.name}) was changed after it was applied to ${database} ` +
          `(recorded checksum ${recorded.checksum.slice(0, 12)}, code has ${migrationChecksum(m).slice(0, 12)}); ` +
          'add a new migration instead of editing a released one',
      );
    }
  }

  const result: MigrateResult = { applied: [], alreadyApplied: 0 };
  for (const m of migrations) {
    if (applied.has(m.id)) {
      result.alreadyApplied += 1;
      continue;
    }
    for (const [index, statement] of m.statements.entries()) {
      try {
        await driver.exec(render(statement, database));
      } catch (error) {
        throw new StorageError(
          'STORAGE_MIGRATION_FAILED',
          `migration ${m.id} (${m.name}) statement ${index + 1} of ${m.statements.length} failed on ${database}: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
    }
    await driver.exec(
      `INSERT INTO ${database}.schema_migrations (id, name, checksum, applied_at)
SELECT {id:UInt32}, {name:String}, {checksum:String}, now64(3, 'UTC')`,
      { id: m.id, name: m.name, checksum: migrationChecksum(m) },
    );
    result.applied.push({ id: m.id, name: m.name });
  }
  return result;
}

/** Lists every migration with its state, without changing anything (the database may not exist yet). */
export async function migrationStatus(driver: StorageDriver, options: MigrateOptions = {}): Promise<MigrationState[]> {
  const database = assertIdentifier('database', options.database ?? driver.database);
  const migrations = options.migrations ?? MIGRATIONS;
  const exists = await driver.query<{ n: unknown }>(
    'SELECT count() AS n FROM system.tables WHERE database = {database:String} AND name = {table:String}',
    { database, table: 'schema_migrations' },
  );
  const applied = toNumber(exists[0]?.n) > 0 ? await readApplied(driver, database) : new Map<number, AppliedRow>();
  const states: MigrationState[] = migrations.map((m) => {
    const checksum = migrationChecksum(m);
    const recorded = applied.get(m.id);
    if (recorded === undefined) return { id: m.id, name: m.name, checksum, state: 'pending' };
    return {
      id: m.id,
      name: m.name,
      checksum,
      state: recorded.checksum === checksum ? 'applied' : 'checksum_mismatch',
      appliedAt: recorded.appliedAt,
    };
  });
  const known = new Set(migrations.map((m) => m.id));
  for (const r of applied.values()) {
    if (!known.has(r.id)) states.push({ id: r.id, name: r.name, checksum: r.checksum, state: 'unknown', appliedAt: r.appliedAt });
  }
  return states.sort((a, b) => a.id - b.id);
}
