import type { Migration } from './migration.ts';

/**
 * Analysts' work, kept as history: nothing here is updated in place.
 *
 * - `detection_state`: append-only triage changes (status, assignee, note) with a per-detection
 *   `version`. `detection_state_current` (ReplacingMergeTree by version, fed by a materialized view)
 *   holds the latest row per detection; read it with FINAL. `listDetections` joins it for status and
 *   assignee filters. A detection with no row is `new`.
 * - `audit_log`: append-only record of every change an actor made (before/after as JSON text).
 * - `indicators`: threat indicators (ReplacingMergeTree by version: an edit is a new version).
 * - `decisions`: block/monitor/share/escalate proposals and their approval lifecycle
 *   (ReplacingMergeTree by version; every version is also written to `audit_log` by the API).
 *
 * No partition key on the replacing tables: ReplacingMergeTree collapses only inside a partition, and
 * these tables stay small (thousands to millions of rows), so one partition keeps FINAL exact.
 */
export const migration0003: Migration = {
  id: 3,
  name: 'triage_audit_indicators_decisions',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.detection_state
(
    detection_id String,
    org_id       LowCardinality(String),
    status       LowCardinality(String),
    assignee     String,
    note         String CODEC(ZSTD(1)),
    changed_by   String,
    changed_at   DateTime64(3, 'UTC'),
    version      UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(changed_at)
ORDER BY (org_id, detection_id, version)
SETTINGS non_replicated_deduplication_window = 1000`,
    `CREATE TABLE IF NOT EXISTS {db}.detection_state_current
(
    detection_id String,
    org_id       LowCardinality(String),
    status       LowCardinality(String),
    assignee     String,
    note         String CODEC(ZSTD(1)),
    changed_by   String,
    changed_at   DateTime64(3, 'UTC'),
    version      UInt64,
    INDEX idx_status status TYPE set(16) GRANULARITY 4,
    INDEX idx_assignee assignee TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, detection_id)
SETTINGS non_replicated_deduplication_window = 1000`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detection_state_current_mv TO {db}.detection_state_current AS
SELECT detection_id, org_id, status, assignee, note, changed_by, changed_at, version
FROM {db}.detection_state`,
    `CREATE TABLE IF NOT EXISTS {db}.audit_log
(
    id          String,
    org_id      LowCardinality(String),
    actor       String,
    action      LowCardinality(String),
    target_type LowCardinality(String),
    target_id   String,
    before_json String CODEC(ZSTD(3)),
    after_json  String CODEC(ZSTD(3)),
    reason      String CODEC(ZSTD(1)),
    at          DateTime64(3, 'UTC'),
    request_id  String,
    INDEX idx_actor actor TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (org_id, target_type, target_id, at, id)
SETTINGS non_replicated_deduplication_window = 1000`,
    `CREATE TABLE IF NOT EXISTS {db}.indicators
(
    id          String,
    org_id      LowCardinality(String),
    kind        LowCardinality(String),
    value       String,
    source      LowCardinality(String),
    confidence  Float32,
    valid_from  DateTime64(3, 'UTC'),
    valid_until DateTime64(3, 'UTC'),
    tlp         LowCardinality(String),
    description String CODEC(ZSTD(1)),
    tags        Array(LowCardinality(String)),
    created_by  String,
    created_at  DateTime64(3, 'UTC'),
    version     UInt64,
    INDEX idx_value value TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, id)
SETTINGS non_replicated_deduplication_window = 1000`,
    `CREATE TABLE IF NOT EXISTS {db}.decisions
(
    id            String,
    org_id        LowCardinality(String),
    target_type   LowCardinality(String),
    target_id     String,
    action        LowCardinality(String),
    justification String CODEC(ZSTD(1)),
    expires_at    DateTime64(3, 'UTC'),
    status        LowCardinality(String),
    requested_by  String,
    approved_by   String,
    share_with    Array(String),
    created_at    DateTime64(3, 'UTC'),
    updated_at    DateTime64(3, 'UTC'),
    version       UInt64,
    INDEX idx_target target_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, id)
SETTINGS non_replicated_deduplication_window = 1000`,
  ],
};
