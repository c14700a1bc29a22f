import { createHash } from 'node:crypto';
import type { Decision, TlpLevel } from '@mamori/storage';
import type { IndicatorType } from './indicator-value.ts';

/** Namespace of Mamori's deterministic STIX ids (UUIDv5, RFC 9562). Never change it: ids would change. */
export const MAMORI_STIX_NAMESPACE = '5c0d6b7e-3a0f-4d52-9a57-6d616d6f7269';

/** RFC 9562 UUIDv5 of `name` in `namespace`. */
export function uuidv5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function stixId(type: string, ...parts: string[]): string {
  return `${type}--${uuidv5(MAMORI_STIX_NAMESPACE, [type, ...parts].join('\u001f'))}`;
}

/**
 * The TLP 2.0 marking definitions published by OASIS (cti-stix-common-objects, extension
 * extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d): fixed ids every STIX consumer knows.
 */
export const TLP_EXTENSION_ID = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';
export const TLP_MARKING_IDS: Readonly<Record<TlpLevel, string>> = {
  clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
  amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
  'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
  red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
};
const TLP_CREATED_BY = 'identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01';

/** The OASIS TLP 2.0 marking-definition object of a level. */
export function tlpMarkingDefinition(level: TlpLevel): Record<string, unknown> {
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: TLP_MARKING_IDS[level],
    created_by_ref: TLP_CREATED_BY,
    created: '2022-10-01T00:00:00.000Z',
    name: `TLP:${level.toUpperCase()}`,
    extensions: { [TLP_EXTENSION_ID]: { extension_type: 'property-extension', tlp_2_0: level } },
  };
}

/** A STIX pattern for one indicator value; values are escaped per the pattern grammar (`\\` and `'`). */
export function stixPattern(type: IndicatorType, value: string): string {
  const v = value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  switch (type) {
    case 'ipv4':
      return `[ipv4-addr:value = '${v}']`;
    case 'ipv6':
      return `[ipv6-addr:value = '${v}']`;
    case 'domain':
      return `[domain-name:value = '${v}']`;
    case 'url':
      return `[url:value = '${v}']`;
    case 'md5':
      return `[file:hashes.MD5 = '${v}']`;
    case 'sha1':
      return `[file:hashes.'SHA-1' = '${v}']`;
    case 'sha256':
      return `[file:hashes.'SHA-256' = '${v}']`;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The identity of a producing organization: deterministic from its id. */
export function organizationIdentity(orgId: string, name: string): Record<string, unknown> {
  return {
    type: 'identity',
    spec_version: '2.1',
    id: stixId('identity', 'organization', orgId),
    created: '2020-01-01T00:00:00.000Z',
    modified: '2020-01-01T00:00:00.000Z',
    name,
    identity_class: 'organization',
  };
}

const TLP_ORDER: readonly TlpLevel[] = ['clear', 'green', 'amber', 'amber+strict', 'red'];

/** The strictest of several levels (an indicator decided on twice keeps the strictest marking). */
export function strictestTlp(levels: readonly TlpLevel[]): TlpLevel {
  let best: TlpLevel = 'clear';
  for (const l of levels) if (TLP_ORDER.indexOf(l) > TLP_ORDER.indexOf(best)) best = l;
  return best;
}

/**
 * One STIX indicator for every (organization, indicator value) a set of decisions act on. The id is
 * UUIDv5 of the organization, type and value, so a later export (or another decision on the same
 * value) updates the same object rather than adding one; `created` is the first decision's time,
 * `modified` the last change.
 */
export function buildIndicator(orgId: string, decisions: readonly Decision[]): Record<string, unknown> {
  const first = decisions[0]!;
  const created = Math.min(...decisions.map((d) => d.createdAt));
  const modified = Math.max(...decisions.map((d) => d.updatedAt));
  const expiries = decisions.map((d) => d.expiresAt);
  const validUntil = expiries.includes(0) ? undefined : Math.max(...expiries);
  const actions = [...new Set(decisions.map((d) => d.action))].sort();
  const tlp = strictestTlp(decisions.map((d) => d.tlp));
  const indicator: Record<string, unknown> = {
    type: 'indicator',
    spec_version: '2.1',
    id: stixId('indicator', orgId, first.indicatorType, first.indicatorValue),
    created_by_ref: stixId('identity', 'organization', orgId),
    created: iso(created),
    modified: iso(Math.max(modified, created)),
    name: `${first.indicatorType} ${first.indicatorValue}`,
    description: `Decided by ${orgId}: ${actions.join(', ')}`,
    indicator_types: ['malicious-activity'],
    pattern: stixPattern(first.indicatorType, first.indicatorValue),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: iso(created),
    labels: actions.map((a) => `mamori-decision-${a}`),
    object_marking_refs: [TLP_MARKING_IDS[tlp]],
  };
  if (validUntil !== undefined && validUntil > created) indicator.valid_until = iso(validUntil);
  return indicator;
}

/** What our detections say about one indicator value. */
export interface SightingFacts {
  count: number;
  firstSeen: number;
  lastSeen: number;
}

export function buildSighting(orgId: string, indicatorId: string, facts: SightingFacts, tlp: TlpLevel, detectionRefs: readonly string[]): Record<string, unknown> {
  const identity = stixId('identity', 'organization', orgId);
  return {
    type: 'sighting',
    spec_version: '2.1',
    id: stixId('sighting', orgId, indicatorId),
    created_by_ref: identity,
    created: iso(facts.firstSeen),
    modified: iso(facts.lastSeen),
    sighting_of_ref: indicatorId,
    where_sighted_refs: [identity],
    count: Math.min(facts.count, 999_999_999),
    first_seen: iso(facts.firstSeen),
    last_seen: iso(Math.max(facts.lastSeen, facts.firstSeen)),
    object_marking_refs: [TLP_MARKING_IDS[tlp]],
    ...(detectionRefs.length > 0 ? { x_mamori_detection_refs: [...detectionRefs] } : {}),
  };
}

/** A detection as a custom STIX object (`x-mamori-detection`): what the analysts saw. */
export interface DetectionFacts {
  detectionId: string;
  ruleId: string;
  title: string;
  severity: string;
  firstSeen: number;
  lastSeen: number;
  detectedAt: number;
  count: number;
  techniques: readonly string[];
}

export function buildDetectionObject(orgId: string, d: DetectionFacts, tlp: TlpLevel): Record<string, unknown> {
  return {
    type: 'x-mamori-detection',
    spec_version: '2.1',
    id: stixId('x-mamori-detection', orgId, d.detectionId),
    created_by_ref: stixId('identity', 'organization', orgId),
    created: iso(d.detectedAt),
    modified: iso(d.detectedAt),
    name: d.title || d.ruleId,
    x_mamori_detection_id: d.detectionId,
    x_mamori_rule_id: d.ruleId,
    x_mamori_severity: d.severity,
    x_mamori_count: d.count,
    x_mamori_techniques: [...d.techniques],
    first_seen: iso(d.firstSeen),
    last_seen: iso(Math.max(d.lastSeen, d.firstSeen)),
    object_marking_refs: [TLP_MARKING_IDS[tlp]],
  };
}

export function buildRelationship(orgId: string, type: string, sourceRef: string, targetRef: string, created: number, tlp: TlpLevel): Record<string, unknown> {
  return {
    type: 'relationship',
    spec_version: '2.1',
    id: stixId('relationship', type, sourceRef, targetRef),
    created_by_ref: stixId('identity', 'organization', orgId),
    created: iso(created),
    modified: iso(created),
    relationship_type: type,
    source_ref: sourceRef,
    target_ref: targetRef,
    object_marking_refs: [TLP_MARKING_IDS[tlp]],
  };
}

/** A bundle whose id is derived from its content's ids, so the same export is the same bundle. */
export function buildBundle(objects: readonly Record<string, unknown>[]): Record<string, unknown> {
  const sorted = [...objects].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const key = sorted.map((o) => `${String(o.id)}@${String(o.modified ?? o.created ?? '')}`).join('\n');
  return { type: 'bundle', id: stixId('bundle', key), objects: sorted };
}
