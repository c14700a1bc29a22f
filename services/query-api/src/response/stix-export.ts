import { assertIdentifier, toNumber, type Decision, type QueryOptions, type StorageDriver, type TlpLevel } from '@mamori/storage';
import {
  buildDetectionObject,
  buildIndicator,
  buildRelationship,
  buildSighting,
  organizationIdentity,
  strictestTlp,
  tlpMarkingDefinition,
  type DetectionFacts,
  type SightingFacts,
} from './stix.ts';

/** A STIX object and when it entered the export (TAXII `date_added`). */
export interface ExportedObject {
  object: Record<string, unknown>;
  dateAdded: number;
}

/** Decisions grouped by (organization, indicator type, value): one STIX indicator each. */
export function groupByIndicator(decisions: readonly Decision[]): Decision[][] {
  const groups = new Map<string, Decision[]>();
  for (const d of decisions) {
    const key = `${d.orgId}\u001f${d.indicatorType}\u001f${d.indicatorValue}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(d);
  }
  for (const g of groups.values()) g.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  return [...groups.values()];
}

/**
 * Indicators, the producing organizations' identities and the TLP marking definitions they use.
 * `dateAdded` of an indicator is the first activation among its decisions; identities and markings
 * take the earliest indicator's.
 */
export function indicatorObjects(decisions: readonly Decision[], orgName: (id: string) => string): ExportedObject[] {
  const out: ExportedObject[] = [];
  const orgFirst = new Map<string, number>();
  const tlpFirst = new Map<TlpLevel, number>();
  for (const group of groupByIndicator(decisions)) {
    const first = group[0]!;
    const added = Math.min(...group.map((d) => d.activatedAt || d.createdAt));
    const indicator = buildIndicator(first.orgId, group);
    out.push({ object: indicator, dateAdded: added });
    orgFirst.set(first.orgId, Math.min(orgFirst.get(first.orgId) ?? added, added));
    const tlp = strictestTlp(group.map((d) => d.tlp));
    tlpFirst.set(tlp, Math.min(tlpFirst.get(tlp) ?? added, added));
  }
  for (const [org, added] of orgFirst) out.push({ object: organizationIdentity(org, orgName(org)), dateAdded: added });
  for (const [tlp, added] of tlpFirst) out.push({ object: tlpMarkingDefinition(tlp), dateAdded: added });
  return out;
}

interface SightingRow {
  org_id: string;
  entity_value: string;
  detections: string | number;
  first_ms: string | number;
  last_ms: string | number;
  ids: string[];
}

/**
 * The full export of `/v1/stix/bundle`: indicators, identities and markings, plus a sighting per
 * indicator seen in our detections (count of detections, first and last seen) and the detections
 * themselves as `x-mamori-detection` objects linked to the indicator by `related-to` relationships.
 */
export async function fullExport(
  driver: StorageDriver,
  decisions: readonly Decision[],
  orgName: (id: string) => string,
  options: QueryOptions,
  detectionsPerIndicator = 20,
): Promise<Record<string, unknown>[]> {
  const objects = indicatorObjects(decisions, orgName).map((o) => o.object);
  const groups = groupByIndicator(decisions);
  if (groups.length === 0) return objects;
  const db = assertIdentifier('database', driver.database);
  const orgs = [...new Set(decisions.map((d) => d.orgId))];
  const values = [...new Set(decisions.map((d) => d.indicatorValue))];
  const rows = await driver.query<SightingRow>(
    `SELECT org_id, entity_value, count() AS detections, toUnixTimestamp64Milli(min(first_seen)) AS first_ms,
  toUnixTimestamp64Milli(max(last_seen)) AS last_ms, arraySort(groupArray(${Number(detectionsPerIndicator)})(detection_id)) AS ids
FROM ${db}.detections FINAL
WHERE org_id IN {orgs:Array(String)} AND entity_value IN {values:Array(String)}
GROUP BY org_id, entity_value`,
    { orgs, values },
    options,
  );
  const seen = new Map(rows.map((r) => [`${r.org_id}\u001f${r.entity_value}`, r]));
  const detectionIds = new Set<string>();
  for (const g of groups) for (const d of g) if (d.detectionId) detectionIds.add(d.detectionId);
  for (const r of rows) for (const id of r.ids) detectionIds.add(id);
  const facts = new Map<string, DetectionFacts & { orgId: string }>();
  if (detectionIds.size > 0) {
    const detRows = await driver.query<Record<string, unknown>>(
      `SELECT detection_id, org_id, rule_id, title, severity, techniques, count,
  toUnixTimestamp64Milli(first_seen) AS first_ms, toUnixTimestamp64Milli(last_seen) AS last_ms, toUnixTimestamp64Milli(detected_at) AS detected_ms
FROM ${db}.detections FINAL WHERE org_id IN {orgs:Array(String)} AND detection_id IN {ids:Array(String)}`,
      { orgs, ids: [...detectionIds] },
      options,
    );
    for (const r of detRows) {
      facts.set(`${String(r.org_id)}\u001f${String(r.detection_id)}`, {
        orgId: String(r.org_id),
        detectionId: String(r.detection_id),
        ruleId: String(r.rule_id),
        title: String(r.title),
        severity: String(r.severity),
        techniques: Array.isArray(r.techniques) ? r.techniques.map(String) : [],
        count: toNumber(r.count),
        firstSeen: toNumber(r.first_ms),
        lastSeen: toNumber(r.last_ms),
        detectedAt: toNumber(r.detected_ms),
      });
    }
  }
  const emitted = new Set<string>();
  for (const group of groups) {
    const first = group[0]!;
    const indicatorId = String(buildIndicator(first.orgId, group).id);
    const tlp = strictestTlp(group.map((d) => d.tlp));
    const sighting = seen.get(`${first.orgId}\u001f${first.indicatorValue}`);
    const ids = new Set<string>([...group.map((d) => d.detectionId).filter((x) => x !== ''), ...(sighting?.ids ?? [])]);
    const detectionRefs: string[] = [];
    for (const id of [...ids].sort()) {
      const f = facts.get(`${first.orgId}\u001f${id}`);
      if (!f) continue;
      const obj = buildDetectionObject(first.orgId, f, tlp);
      detectionRefs.push(String(obj.id));
      if (!emitted.has(String(obj.id))) {
        emitted.add(String(obj.id));
        objects.push(obj);
      }
      objects.push(buildRelationship(first.orgId, 'related-to', indicatorId, String(obj.id), f.detectedAt, tlp));
    }
    if (sighting) {
      const sf: SightingFacts = { count: toNumber(sighting.detections), firstSeen: toNumber(sighting.first_ms), lastSeen: toNumber(sighting.last_ms) };
      objects.push(buildSighting(first.orgId, indicatorId, sf, tlp, detectionRefs));
    }
  }
  return objects;
}
