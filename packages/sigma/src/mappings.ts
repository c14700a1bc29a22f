import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { SigmaLogsource } from './ast.ts';
import { SigmaError } from './errors.ts';
import { firstOf, pathGetter, type FieldGetter, type FieldValue } from './event-context.ts';

/**
 * Where a Sigma field is read from: an event path (`process.path`, `attributes.EventID`), or a join
 * of several paths (`{ join: [registry.key, registry.value_name], sep: '\' }`, the parts present).
 */
export type FieldSource = string | { join: string[]; sep: string };

/** One route: every key (an event path) must match its value or one of its values (`*` globs, case-insensitive). */
export type RouteSpec = Record<string, string | string[]>;

/** A log source of the mapping data: which events it covers and how its Sigma fields are read. */
export interface LogsourceMapping {
  readonly file: string;
  readonly logsource: SigmaLogsource;
  readonly routes: readonly RouteSpec[];
  /** Sigma field → sources tried in order; `attributes.<Field>` is always the last fallback. */
  readonly fields: Readonly<Record<string, readonly FieldSource[]>>;
}

/** All mapping data: log sources, product-wide fields and placeholder values for `expand`. */
export interface MappingSet {
  readonly logsources: readonly LogsourceMapping[];
  /** Per product, fields shared by all its log sources. */
  readonly productFields: Readonly<Record<string, Readonly<Record<string, readonly FieldSource[]>>>>;
  /** Placeholder name (without `%`) → values, for the `expand` modifier. */
  readonly placeholders: Readonly<Record<string, readonly string[]>>;
}

/** The mapping data shipped with the package (`packages/sigma/mappings/*.yml`). */
export const DEFAULT_MAPPINGS_DIR = fileURLToPath(new URL('../mappings/', import.meta.url));

let cached: MappingSet | undefined;

/** Loads every `*.yml` of a mappings directory; problems throw `SIGMA_MAPPING_INVALID` with the file. */
export function loadMappings(dir: string = DEFAULT_MAPPINGS_DIR): MappingSet {
  if (dir === DEFAULT_MAPPINGS_DIR && cached) return cached;
  const logsources: LogsourceMapping[] = [];
  const productFields: Record<string, Record<string, FieldSource[]>> = {};
  const placeholders: Record<string, string[]> = {};
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.yml') || n.endsWith('.yaml')).sort()) {
    const file = join(dir, name);
    const bad = (msg: string): never => {
      throw new SigmaError('SIGMA_MAPPING_INVALID', `${name}: ${msg}`, file, 0);
    };
    const doc = parseYaml(readFileSync(file, 'utf8'), { merge: true }) as Record<string, unknown> | null;
    if (!doc || typeof doc !== 'object') bad('must be a mapping');
    const d = doc as Record<string, unknown>;
    if (d.placeholders) for (const [k, v] of Object.entries(d.placeholders as Record<string, unknown>)) placeholders[k] = Array.isArray(v) ? v.map(String) : [String(v)];
    if (d.product !== undefined) {
      if (typeof d.product !== 'string') bad("'product' must be a string");
      productFields[d.product as string] = { ...(productFields[d.product as string] ?? {}), ...readFields(d.fields, bad) };
    }
    for (const raw of (d.logsources as unknown[] | undefined) ?? []) {
      const e = raw as Record<string, unknown>;
      const ls = e.logsource as SigmaLogsource | undefined;
      if (!ls || typeof ls !== 'object') bad('every logsources entry needs a logsource');
      const routes = e.routes as RouteSpec[] | undefined;
      if (!Array.isArray(routes) || routes.length === 0) bad(`logsource ${JSON.stringify(ls)} needs at least one route`);
      logsources.push({ file: name, logsource: ls!, routes: routes!, fields: readFields(e.fields, bad) });
    }
  }
  const set: MappingSet = { logsources, productFields, placeholders };
  if (dir === DEFAULT_MAPPINGS_DIR) cached = set;
  return set;
}

function readFields(v: unknown, bad: (m: string) => never): Record<string, FieldSource[]> {
  const out: Record<string, FieldSource[]> = {};
  if (v === undefined || v === null) return out;
  if (typeof v !== 'object') return bad("'fields' must be a mapping");
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const list = Array.isArray(x) ? x : [x];
    out[k] = list.map((s) => {
      if (typeof s === 'string') return s;
      if (s && typeof s === 'object' && Array.isArray((s as { join?: unknown }).join)) {
        const j = s as { join: unknown[]; sep?: unknown };
        return { join: j.join.map(String), sep: typeof j.sep === 'string' ? j.sep : '' };
      }
      return bad(`field ${k}: a source is a path or { join: [paths], sep }`);
    });
  }
  return out;
}

const KEYS = ['product', 'category', 'service'] as const;

/** The mapping whose product/category/service equal the rule's (keys absent on both sides agree). */
export function findLogsource(set: MappingSet, ls: SigmaLogsource): LogsourceMapping | undefined {
  const norm = (x: string | undefined): string => (x ?? '').toLowerCase();
  return set.logsources.find((m) => KEYS.every((k) => norm(m.logsource[k]) === norm(ls[k])));
}

export function describeLogsource(ls: SigmaLogsource): string {
  return KEYS.filter((k) => ls[k] !== undefined).map((k) => `${k}=${ls[k]}`).join(' ') || '(empty)';
}

/** Sources for a Sigma field in a log source: mapped ones, product-wide ones, then `attributes.<field>`. */
export function fieldSources(set: MappingSet, mapping: LogsourceMapping | undefined, field: string): FieldSource[] {
  const product = mapping?.logsource.product;
  const mapped = mapping?.fields[field] ?? (product ? set.productFields[product]?.[field] : undefined) ?? [];
  const fallback = `attributes.${field}`;
  return mapped.some((s) => s === fallback) ? [...mapped] : [...mapped, fallback];
}

export function sourceText(s: FieldSource): string {
  return typeof s === 'string' ? s : `join(${s.join.join(', ')}; '${s.sep}')`;
}

/** A getter trying each source in order. */
export function sourcesGetter(sources: readonly FieldSource[]): FieldGetter {
  if (sources.every((s) => typeof s === 'string')) return firstOf(sources as string[]);
  const getters = sources.map((s): FieldGetter => {
    if (typeof s === 'string') return s.startsWith('attributes.') ? pathGetter(s) : nonEmpty(pathGetter(s));
    const parts = s.join.map(pathGetter);
    return (e) => {
      const vals: string[] = [];
      for (const p of parts) {
        const v = p(e);
        if (typeof v === 'string' && v !== '') vals.push(v);
      }
      return vals.length === 0 ? undefined : vals.join(s.sep);
    };
  });
  return (e) => {
    for (const g of getters) {
      const v = g(e);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

function nonEmpty(g: FieldGetter): FieldGetter {
  return (e) => {
    const v: FieldValue = g(e);
    return v === '' ? undefined : v;
  };
}
