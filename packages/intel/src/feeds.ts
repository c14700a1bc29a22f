import { IntelError } from './errors.ts';
import { classifyValue, normalizeSerial, normalizeValue } from './normalize.ts';
import { parseStixPattern, PatternError, type Comparison } from './stix-pattern.ts';
import { makeIndicator, type Indicator, type IndicatorKind, type ParsedFeed } from './types.ts';

/** How a feed's indicators are labelled and defaulted. */
export interface FeedDefaults {
  /** Feed name, written on every indicator. */
  source: string;
  /** Confidence (0..100) for indicators that carry none. @default 50 */
  confidence?: number;
  /** For indicators without an end of validity: valid this long after valid_from. @default Infinity */
  ttlMs?: number;
  /** Load time (epoch ms): a list entry's TTL (`ttlMs`) counts from it. @default Date.now() */
  now?: number;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new IntelError('INTEL_FEED_INVALID', `${where}: not JSON`, { cause });
  }
}

function time(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string' && value !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return n < 1e11 ? n * 1000 : n;
    const t = Date.parse(value);
    if (Number.isFinite(t)) return t;
  }
  return fallback;
}

/** The indicator kind a STIX comparison names, or a reason it names none we index. */
function stixKind(c: Comparison): IndicatorKind | string {
  const path = c.path.toLowerCase().replace(/-/g, '');
  switch (c.objectType) {
    case 'ipv4-addr':
    case 'ipv6-addr':
      return path === 'value' ? 'ip' : `${c.objectType}:${c.path} is not indexed`;
    case 'domain-name':
      return path === 'value' ? 'domain' : `domain-name:${c.path} is not indexed`;
    case 'url':
      return path === 'value' ? 'url' : `url:${c.path} is not indexed`;
    case 'file':
    case 'artifact':
    case 'x509-certificate':
      if (path === 'hashes.md5') return 'md5';
      if (path === 'hashes.sha1') return 'sha1';
      if (path === 'hashes.sha256') return 'sha256';
      if (c.objectType === 'x509-certificate' && path === 'serial_number') return 'x509';
      return `${c.objectType}:${c.path} is not observed in events`;
    default:
      if (/(^|\.)ja3(_?hash)?$/.test(path)) return 'ja3';
      return `object type ${c.objectType} is not indexed`;
  }
}

/** One DNF conjunction to an indicator, or the reason it cannot be one. */
function conjunctionToIndicator(conj: Comparison[], base: Omit<Indicator, 'kind' | 'value'>): Indicator | string {
  for (const c of conj) {
    if (c.negated) return `NOT ${c.operator} is unsupported`;
    if (c.value === undefined) return `${c.objectType}:${c.path} ${c.operator} needs a string literal`;
  }
  if (conj.length === 2 && conj.every((c) => c.objectType === 'x509-certificate')) {
    const serial = conj.find((c) => c.path.toLowerCase() === 'serial_number');
    const issuer = conj.find((c) => c.path.toLowerCase() === 'issuer');
    if (serial && issuer && serial.operator === '=' && issuer.operator === '=') {
      const value = normalizeSerial(serial.value!);
      return value ? makeIndicator('x509', value, base.source, base.id, base.confidence, base.validFrom, base.validUntil, base.name, issuer.value!) : `serial ${JSON.stringify(serial.value)} is not hex`;
    }
  }
  if (conj.length !== 1) return 'AND of comparisons is supported only for x509-certificate issuer AND serial_number';
  const c = conj[0]!;
  const kind = stixKind(c);
  if (!['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'ja3', 'x509'].includes(kind)) return kind;
  const ok = c.operator === '=' || (kind === 'ip' && c.operator === 'ISSUBSET');
  if (!ok) return `operator ${c.operator} is unsupported (only = and, for addresses, ISSUBSET)`;
  const value = normalizeValue(kind as IndicatorKind, c.value!);
  return value ? makeIndicator(kind as IndicatorKind, value, base.source, base.id, base.confidence, base.validFrom, base.validUntil, base.name) : `${JSON.stringify(c.value)} is not a valid ${kind}`;
}

/**
 * Indicators of a STIX 2.1 bundle (or a single object, or an array of objects). Only
 * `pattern_type: stix` indicators that are not revoked are read; each OR alternative becomes its own
 * indicator with the STIX id. Anything not indexable is reported in `unsupported` with the reason.
 */
export function parseStixBundle(text: string, defaults: FeedDefaults): ParsedFeed {
  const data = parseJson(text, defaults.source) as { type?: string; objects?: unknown[] } | unknown[];
  const objects = Array.isArray(data) ? data : data.type === 'bundle' ? (data.objects ?? []) : [data];
  const out: ParsedFeed = { indicators: [], unsupported: [] };
  const now = defaults.now ?? Date.now();
  for (const raw of objects) {
    const o = raw as Record<string, unknown>;
    if (o?.['type'] !== 'indicator' || o['revoked'] === true) continue;
    const id = String(o['id'] ?? '');
    const pattern = String(o['pattern'] ?? '');
    if ((o['pattern_type'] ?? 'stix') !== 'stix') {
      out.unsupported.push({ source: defaults.source, id, text: pattern, reason: `pattern_type ${String(o['pattern_type'])} is unsupported` });
      continue;
    }
    const validFrom = time(o['valid_from'], now);
    const base = {
      source: defaults.source,
      id,
      confidence: typeof o['confidence'] === 'number' ? Math.max(0, Math.min(100, o['confidence'])) : (defaults.confidence ?? 50),
      validFrom,
      validUntil: time(o['valid_until'], validFrom + (defaults.ttlMs ?? Number.POSITIVE_INFINITY)),
      ...(typeof o['name'] === 'string' ? { name: o['name'] } : {}),
    };
    let dnf: Comparison[][];
    try {
      dnf = parseStixPattern(pattern);
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
      out.unsupported.push({ source: defaults.source, id, text: pattern, reason: error.message });
      continue;
    }
    for (const conj of dnf) {
      const result = conjunctionToIndicator(conj, base);
      if (typeof result === 'string') out.unsupported.push({ source: defaults.source, id, text: pattern, reason: result });
      else out.indicators.push(result);
    }
  }
  return out;
}

/** MISP attribute types to indicator kinds; composite types (`a|b`) take their indexable half. */
const MISP_TYPES: Readonly<Record<string, IndicatorKind>> = {
  'ip-src': 'ip', 'ip-dst': 'ip', ip: 'ip', domain: 'domain', hostname: 'domain', url: 'url', uri: 'url', link: 'url',
  md5: 'md5', sha1: 'sha1', sha256: 'sha256', 'ja3-fingerprint-md5': 'ja3', 'x509-fingerprint-sha1': 'sha1',
};

/** MISP threat_level_id (1 high .. 4 undefined) to a confidence when the feed gives none. */
const THREAT_LEVEL_CONFIDENCE: Readonly<Record<string, number>> = { '1': 85, '2': 70, '3': 50, '4': 40 };

/**
 * Indicators of MISP feed JSON: `{"Event": {...}}`, `{"response": [{"Event": ...}]}` or an array of
 * either. Attributes of the event and of its objects are read; only `to_ids` attributes count (MISP's
 * own flag for "usable for detection"), unless `includeNonIds`.
 */
export function parseMispFeed(text: string, defaults: FeedDefaults & { includeNonIds?: boolean }): ParsedFeed {
  const data = parseJson(text, defaults.source) as Record<string, unknown> | unknown[];
  const events: Record<string, unknown>[] = [];
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(visit);
    else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (o['Event']) events.push(o['Event'] as Record<string, unknown>);
      else if (o['response']) visit(o['response']);
      else if (Array.isArray(o['Attribute'])) events.push(o);
    }
  };
  visit(data);
  if (events.length === 0) throw new IntelError('INTEL_FEED_INVALID', `${defaults.source}: no MISP Event found`);
  const out: ParsedFeed = { indicators: [], unsupported: [] };
  const now = defaults.now ?? Date.now();
  for (const event of events) {
    const confidence = THREAT_LEVEL_CONFIDENCE[String(event['threat_level_id'] ?? '')] ?? defaults.confidence ?? 50;
    const attributes: Record<string, unknown>[] = [...((event['Attribute'] as Record<string, unknown>[]) ?? [])];
    for (const obj of (event['Object'] as Record<string, unknown>[]) ?? []) attributes.push(...((obj['Attribute'] as Record<string, unknown>[]) ?? []));
    for (const a of attributes) {
      if (a['deleted'] === true || (!defaults.includeNonIds && a['to_ids'] === false)) continue;
      const type = String(a['type'] ?? '');
      const id = String(a['uuid'] ?? a['id'] ?? '');
      const rawValue = String(a['value'] ?? '');
      const parts = type.split('|');
      const values = rawValue.split('|');
      let matched = false;
      for (let i = 0; i < parts.length; i++) {
        const kind = MISP_TYPES[parts[i]!];
        if (!kind) continue;
        matched = true;
        const value = normalizeValue(kind, values[i] ?? '');
        if (!value) {
          out.unsupported.push({ source: defaults.source, id, text: rawValue, reason: `${JSON.stringify(values[i])} is not a valid ${kind}` });
          continue;
        }
        const validFrom = time(a['first_seen'], time(a['timestamp'], now));
        const validUntil = time(a['last_seen'], validFrom + (defaults.ttlMs ?? Number.POSITIVE_INFINITY));
        out.indicators.push(makeIndicator(kind, value, defaults.source, id, confidence, validFrom, validUntil, typeof event['info'] === 'string' ? event['info'] : undefined));
      }
      if (!matched) out.unsupported.push({ source: defaults.source, id, text: rawValue, reason: `MISP type ${type} is not indexed` });
    }
  }
  return out;
}

const HEADER_VALUE = ['indicator', 'value', 'ioc', 'observable'];

/**
 * Plain or CSV lists: one value per line (`#` comments), kind guessed from the value's shape.
 * A CSV header naming an `indicator`/`value`/`ioc` column selects it; optional `type`,
 * `confidence`, `valid_from` and `valid_until` (ISO or epoch) columns are read when present.
 *
 * An entry without `valid_from` is valid for any event time up to its end: a list says nothing of
 * when the activity began, and taking the load time instead made the result depend on when the
 * feed was (re)loaded. Every refresh and every detector restart moved it forward, so events older
 * than the last load (a backlog after a restart, events within the allowed lateness before a
 * refresh, archived logs in `mamori hunt`) never matched a listed value.
 */
export function parseList(text: string, defaults: FeedDefaults): ParsedFeed {
  const out: ParsedFeed = { indicators: [], unsupported: [] };
  const now = defaults.now ?? Date.now();
  let columns: string[] | undefined;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    const cells = line.includes(',') ? line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1')) : [line];
    if (!columns && cells.some((c) => HEADER_VALUE.includes(c.toLowerCase()))) {
      columns = cells.map((c) => c.toLowerCase());
      continue;
    }
    const col = (name: string): string | undefined => {
      const i = columns?.indexOf(name) ?? -1;
      return i >= 0 ? cells[i] : undefined;
    };
    const valueCol = columns?.findIndex((c) => HEADER_VALUE.includes(c)) ?? 0;
    const raw = cells[valueCol >= 0 ? valueCol : 0] ?? '';
    const type = col('type')?.toLowerCase();
    const kind = type ? (MISP_TYPES[type] ?? (['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'ja3'].includes(type) ? (type as IndicatorKind) : undefined)) : undefined;
    const classified = kind ? (normalizeValue(kind, raw) ? { kind, value: normalizeValue(kind, raw)! } : undefined) : classifyValue(raw);
    const id = `${defaults.source}:${n + 1}`;
    if (!classified) {
      out.unsupported.push({ source: defaults.source, id, text: raw, reason: 'not an address, network, domain, URL or MD5/SHA-1/SHA-256 hash' });
      continue;
    }
    const confidence = Number(col('confidence'));
    out.indicators.push(
      makeIndicator(
        classified.kind,
        classified.value,
        defaults.source,
        id,
        Number.isFinite(confidence) && col('confidence') !== undefined ? confidence : (defaults.confidence ?? 50),
        time(col('valid_from'), Number.NEGATIVE_INFINITY),
        time(col('valid_until'), now + (defaults.ttlMs ?? Number.POSITIVE_INFINITY)),
      ),
    );
  }
  return out;
}
