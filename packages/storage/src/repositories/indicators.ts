import { randomUUID } from 'node:crypto';
import { StorageError } from '../errors.ts';
import { assertIdentifier, toDateTime64, toNumber } from '../sql.ts';
import type { QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit, optionalTime } from './filters.ts';
import { assertOrgAllowed, oneOf, orgScope } from './scope.ts';

/** Indicator kinds. */
export const INDICATOR_KINDS = ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'sha256', 'sha1', 'md5', 'ja3', 'email'] as const;
export type IndicatorKind = (typeof INDICATOR_KINDS)[number];
/** Traffic Light Protocol labels (2.0). */
export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
export type TlpLevel = (typeof TLP_LEVELS)[number];

/** A threat indicator (latest version of its id). */
export interface Indicator {
  id: string;
  orgId: string;
  kind: IndicatorKind;
  value: string;
  /** Feed or analyst that supplied it. */
  source: string;
  /** 0..1 */
  confidence: number;
  /** Epoch ms. */
  validFrom: number;
  /** Epoch ms; far future when open-ended. */
  validUntil: number;
  tlp: TlpLevel;
  description: string;
  tags: string[];
  createdBy: string;
  createdAt: number;
  version: number;
}

/** What {@link insertIndicator} needs. Passing an existing `id` writes a new version of it. */
export type IndicatorInput = Pick<Indicator, 'orgId' | 'kind' | 'value' | 'source' | 'createdBy'> &
  Partial<Omit<Indicator, 'orgId' | 'kind' | 'value' | 'source' | 'createdBy'>>;

/** `valid_until` of an open-ended indicator. */
export const OPEN_ENDED = Date.UTC(2299, 11, 31);

const COLUMNS = `id, org_id, kind, value, source, confidence,
toUnixTimestamp64Milli(valid_from) AS valid_from_ms, toUnixTimestamp64Milli(valid_until) AS valid_until_ms,
tlp, description, tags, created_by, toUnixTimestamp64Milli(created_at) AS created_at_ms, version`;

function fromRow(r: Readonly<Record<string, unknown>>): Indicator {
  return {
    id: String(r['id']),
    orgId: String(r['org_id']),
    kind: String(r['kind']) as IndicatorKind,
    value: String(r['value']),
    source: String(r['source']),
    confidence: Number(toNumber(r['confidence']).toPrecision(6)),
    validFrom: toNumber(r['valid_from_ms']),
    validUntil: toNumber(r['valid_until_ms']),
    tlp: String(r['tlp']) as TlpLevel,
    description: String(r['description']),
    tags: Array.isArray(r['tags']) ? (r['tags'] as unknown[]).map(String) : [],
    createdBy: String(r['created_by']),
    createdAt: toNumber(r['created_at_ms']),
    version: toNumber(r['version']),
  };
}

/** Inserts an indicator (or a new version of one, same `id`); returns what was stored. */
export async function insertIndicator(driver: StorageDriver, orgIds: readonly string[], input: IndicatorInput): Promise<Indicator> {
  assertOrgAllowed(orgIds, input.orgId);
  const kind = oneOf('kind', input.kind, INDICATOR_KINDS);
  const tlp = oneOf('tlp', input.tlp ?? 'amber', TLP_LEVELS);
  if (typeof input.value !== 'string' || input.value === '' || input.value.length > 2048) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', 'indicator.value must be 1 to 2048 characters');
  }
  const confidence = input.confidence ?? 0.5;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'indicator.confidence must be between 0 and 1');
  const now = Date.now();
  const row: Indicator = {
    id: input.id ?? randomUUID(),
    orgId: input.orgId,
    kind,
    value: input.value,
    source: input.source,
    confidence,
    validFrom: Math.trunc(input.validFrom ?? now),
    validUntil: Math.trunc(input.validUntil ?? OPEN_ENDED),
    tlp,
    description: input.description ?? '',
    tags: [...(input.tags ?? [])],
    createdBy: input.createdBy,
    createdAt: Math.trunc(input.createdAt ?? now),
    version: input.version ?? now,
  };
  if (row.validUntil < row.validFrom) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'indicator.validUntil must not be before validFrom');
  await driver.insert('indicators', [
    {
      id: row.id,
      org_id: row.orgId,
      kind: row.kind,
      value: row.value,
      source: row.source,
      confidence: row.confidence,
      valid_from: toDateTime64(row.validFrom),
      valid_until: toDateTime64(row.validUntil),
      tlp: row.tlp,
      description: row.description,
      tags: row.tags,
      created_by: row.createdBy,
      created_at: toDateTime64(row.createdAt),
      version: row.version,
    },
  ]);
  return row;
}

/** Filters of {@link listIndicators}. */
export interface ListIndicatorsQuery {
  kind?: IndicatorKind;
  /** Exact value. */
  value?: string;
  source?: string;
  /** Only indicators valid at this time (epoch ms). */
  activeAt?: number;
  /** @default 100 (max 1000) */
  limit?: number;
}

/** Indicators (latest version of each), newest first. */
export async function listIndicators(
  driver: StorageDriver,
  orgIds: readonly string[],
  query: ListIndicatorsQuery = {},
  options: QueryOptions = {},
): Promise<Indicator[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const where = ['org_id IN {orgIds:Array(String)}'];
  const params: Record<string, unknown> = { orgIds: orgs, limit: boundedLimit(query.limit) };
  if (query.kind !== undefined) {
    where.push('kind = {kind:String}');
    params['kind'] = oneOf('kind', query.kind, INDICATOR_KINDS);
  }
  if (query.value !== undefined) {
    where.push('value = {value:String}');
    params['value'] = query.value;
  }
  if (query.source !== undefined) {
    where.push('source = {source:String}');
    params['source'] = query.source;
  }
  const at = optionalTime('activeAt', query.activeAt);
  if (at !== undefined) {
    where.push('valid_from <= fromUnixTimestamp64Milli({at:Int64}) AND valid_until > fromUnixTimestamp64Milli({at:Int64})');
    params['at'] = at;
  }
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM ${db}.indicators FINAL WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map(fromRow);
}
