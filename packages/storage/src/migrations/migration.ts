/**
 * One schema change. Statements are plain ClickHouse SQL in which `{db}` stands for the configured
 * database; they must be idempotent (`IF NOT EXISTS`, `ADD COLUMN IF NOT EXISTS`, ...) because two
 * services can start at once and a migration that failed midway is re-run from its first statement.
 * Never edit a migration once released: its checksum is recorded and a change is refused.
 */
export interface Migration {
  /** Increasing integer; the order of application. */
  readonly id: number;
  /** snake_case summary, e.g. `events_detections`. */
  readonly name: string;
  readonly statements: readonly string[];
}
