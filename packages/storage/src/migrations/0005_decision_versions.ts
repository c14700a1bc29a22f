import type { Migration } from './migration.ts';

/**
 * Response decisions as an append-only history: `decision_versions` holds one row per version of a
 * decision (version 1 when it is made, +1 per approval, rejection or revocation), each row the whole
 * decision as it stood after that change. Nothing is updated or collapsed: a decision's current state
 * is its highest version (`ORDER BY version DESC LIMIT 1 BY`), and its history stays queryable.
 *
 * Exactly one writer wins each version: every insert carries the deduplication token
 * `decision/<org>/<id>/<version>`, so of two racing writes of the same version the engine stores the
 * first and silently drops the second (`non_replicated_deduplication_window`; ReplicatedMergeTree
 * deduplicates through Keeper the same way). A writer reads back the row of its version and learns
 * from `write_id` whether it won (repositories/decisions.ts).
 *
 * Migration 0003's `decisions` table lacks what the outputs need (indicator type and value, TLP,
 * activation time, who decided and why) and had no writer in any service; it is left as it is, unused.
 * Decisions that query-api releases before this migration kept in its own `api_decisions` table
 * (created on first use) are copied here, every stored row with its versions renumbered 1, 2, ... in
 * their original order, and that table is dropped. On a database that never had it, the statements
 * create it empty, copy nothing and drop it. The copy skips rows already copied, so a re-run after a
 * failure midway neither loses nor duplicates a row.
 */
export const migration0005: Migration = {
  id: 5,
  name: 'decision_versions',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.decision_versions
(
    decision_id     String,
    org_id          LowCardinality(String),
    version         UInt32,
    action          LowCardinality(String),
    status          LowCardinality(String),
    target_kind     LowCardinality(String),
    detection_id    String,
    indicator_type  LowCardinality(String),
    indicator_value String,
    justification   String CODEC(ZSTD(1)),
    tlp             LowCardinality(String),
    share_with      Array(String),
    requested_by    String,
    decided_by      String,
    decision_reason String CODEC(ZSTD(1)),
    created_at      DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC'),
    activated_at    DateTime64(3, 'UTC'),
    expires_at      DateTime64(3, 'UTC'),
    write_id        String,
    INDEX idx_value indicator_value TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_detection detection_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
ORDER BY (org_id, decision_id, version)
SETTINGS non_replicated_deduplication_window = 10000`,
    `CREATE TABLE IF NOT EXISTS {db}.api_decisions
(
    decision_id     String,
    org_id          LowCardinality(String),
    action          LowCardinality(String),
    status          LowCardinality(String),
    target_kind     LowCardinality(String),
    detection_id    String,
    indicator_type  LowCardinality(String),
    indicator_value String,
    justification   String,
    tlp             LowCardinality(String),
    share_with      Array(String),
    requested_by    String,
    decided_by      String,
    decision_reason String,
    created_at      DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC'),
    activated_at    DateTime64(3, 'UTC'),
    expires_at      DateTime64(3, 'UTC'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, decision_id)`,
    `INSERT INTO {db}.decision_versions (decision_id, org_id, version, action, status, target_kind, detection_id, indicator_type,
    indicator_value, justification, tlp, share_with, requested_by, decided_by, decision_reason, created_at, updated_at,
    activated_at, expires_at, write_id)
SELECT decision_id, org_id, new_version, action, status, target_kind, detection_id, indicator_type, indicator_value,
    justification, tlp, share_with, requested_by, decided_by, decision_reason, created_at, updated_at, activated_at,
    expires_at, 'migration-0005'
FROM
(
    SELECT *, toUInt32(row_number() OVER (PARTITION BY org_id, decision_id ORDER BY version, updated_at)) AS new_version
    FROM {db}.api_decisions
)
WHERE (org_id, decision_id, new_version) NOT IN (SELECT org_id, decision_id, version FROM {db}.decision_versions)`,
    `DROP TABLE IF EXISTS {db}.api_decisions`,
  ],
};
