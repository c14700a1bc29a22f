import type { Migration } from './migration.ts';

/**
 * Search columns on `events` and the skip indexes that make text and entity search cheap.
 *
 * - Application fields the API and detectors search (`dns_query`, `http_host`, `http_uri`, `tls_sni`,
 *   `user_name`, `host_name`) plus `direction` (inbound/outbound/internal/external, as the normalizer
 *   classifies it) and `site_id`. Empty string for "none", like the other text columns.
 * - Exact lookups (`dns_query = x`, `tls_sni = x`) use bloom filters; substring search lowercases the
 *   column and uses an n-gram bloom filter on the same expression (`lower(dns_query) LIKE '%x%'`),
 *   which skips granules that cannot contain the trigram set instead of scanning every row.
 * - `http_uri` gets a token bloom filter: URIs are searched by path segment or parameter
 *   (`hasTokenCaseInsensitive`), not by arbitrary substrings.
 * - `detections` gets an n-gram index on `lower(title)` and a bloom filter on `techniques` (`has`).
 *
 * Indexes apply to parts written after the migration; `ALTER TABLE ... MATERIALIZE INDEX` builds
 * them for older parts (docs/storage.md, "Migration procedure").
 */
export const migration0002: Migration = {
  id: 2,
  name: 'event_search_columns',
  statements: [
    `ALTER TABLE {db}.events
    ADD COLUMN IF NOT EXISTS dns_query String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS http_host String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS http_uri  String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS tls_sni   String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS user_name String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS host_name String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS direction LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS site_id   LowCardinality(String) DEFAULT ''`,
    `ALTER TABLE {db}.events
    ADD INDEX IF NOT EXISTS idx_dns_query dns_query TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_http_host http_host TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_tls_sni tls_sni TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_dns_query_ngram lower(dns_query) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_http_host_ngram lower(http_host) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_tls_sni_ngram lower(tls_sni) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_http_uri_token http_uri TYPE tokenbf_v1(16384, 3, 0) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_user_name user_name TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_host_name host_name TYPE bloom_filter(0.01) GRANULARITY 4`,
    `ALTER TABLE {db}.detections
    ADD INDEX IF NOT EXISTS idx_title_ngram lower(title) TYPE ngrambf_v1(3, 8192, 3, 0) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_techniques techniques TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_entity_value entity_value TYPE bloom_filter(0.01) GRANULARITY 4`,
  ],
};
