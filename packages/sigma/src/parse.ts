import { createHash } from 'node:crypto';
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import type { SigmaCondition, SigmaDetection, SigmaDocument, SigmaFieldItem, SigmaLevel, SigmaLogsource, SigmaScalar, SigmaSearch, SigmaStatus } from './ast.ts';
import { ConditionSyntaxError, expandOfPattern, parseCondition } from './condition.ts';
import { SigmaError } from './errors.ts';

const STATUSES = new Set(['stable', 'test', 'experimental', 'deprecated', 'unsupported']);
const LEVELS = new Set(['informational', 'low', 'medium', 'high', 'critical']);

/** Every document of a file: the ones that parsed, and one error per document that did not. */
export interface ParsedFile {
  documents: SigmaDocument[];
  errors: SigmaError[];
}

/** Parses a Sigma YAML file (one or more documents: rules, filters, correlations). Never throws. */
export function parseSigmaFile(source: string, path: string): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(source, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const out: ParsedFile = { documents: [], errors: [] };
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const line = (n: YamlNode | null | undefined): number => (n?.range ? lineCounter.linePos(n.range[0]).line : 0);
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      out.errors.push(new SigmaError('SIGMA_YAML_INVALID', `invalid YAML: ${e.message.split('\n')[0]}`, path, e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line));
      continue;
    }
    if (doc.contents === null) continue;
    const text = (doc.range ? source.slice(doc.range[0], doc.range[2]) : source).replace(/^---[^\n]*\n/, '').trim();
    try {
      out.documents.push(parseDocument(doc, path, text, line));
    } catch (error) {
      if (error instanceof SigmaError) out.errors.push(error);
      else throw error;
    }
  }
  return out;
}

type LineOf = (n: YamlNode | null | undefined) => number;

function parseDocument(doc: Document.Parsed, path: string, source: string, line: LineOf): SigmaDocument {
  const root = doc.contents;
  const fail = (msg: string, n?: YamlNode | null, code: 'SIGMA_RULE_INVALID' | 'SIGMA_DEPRECATED_SYNTAX' = 'SIGMA_RULE_INVALID'): never => {
    throw new SigmaError(code, msg, path, line(n ?? root));
  };
  if (!isMap(root)) fail('a Sigma document must be a YAML mapping');
  const data = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  const node = (key: string): YamlNode | null => (doc.get(key, true) as YamlNode | undefined) ?? null;
  const title = typeof data.title === 'string' ? data.title : '';
  const idRaw = data.id;
  const id = typeof idRaw === 'string' && idRaw !== '' ? idRaw : `path:${createHash('sha256').update(`${path}\u0000${title}`).digest('hex').slice(0, 16)}`;
  if (data.action !== undefined) fail(`'action: ${String(data.action)}' rule collections are Sigma 1.0 syntax`, node('action'), 'SIGMA_DEPRECATED_SYNTAX');

  if (data.correlation !== undefined) {
    return { kind: 'correlation', path, title, id, document: data, line: line(root), source };
  }
  if (!title) fail("missing 'title'");
  const logsource = parseLogsource(data.logsource, () => fail("'logsource' must be a mapping of product/category/service", node('logsource')));

  if (data.filter !== undefined) {
    const filterNode = doc.get('filter', true) as YamlNode | undefined;
    if (!isMap(filterNode)) return fail("'filter' must be a mapping with rules, selections and condition", filterNode);
    const f = data.filter as Record<string, unknown>;
    const rules = Array.isArray(f.rules) ? f.rules.map(String) : typeof f.rules === 'string' ? [f.rules] : fail("filter: 'rules' must list rule ids or names", filterNode);
    const detection = parseDetection(filterNode, path, line, new Set(['rules']));
    return { kind: 'filter', path, title, id, logsource, rules, detection, source };
  }

  const detNode = doc.get('detection', true) as YamlNode | undefined;
  if (!isMap(detNode)) return fail("missing 'detection' mapping", detNode ?? root);
  const detection = parseDetection(detNode, path, line, new Set());
  const status = typeof data.status === 'string' && STATUSES.has(data.status) ? (data.status as SigmaStatus) : undefined;
  if (data.status !== undefined && !status) fail(`unknown status '${String(data.status)}' (stable, test, experimental, deprecated, unsupported)`, node('status'));
  const level = typeof data.level === 'string' && LEVELS.has(data.level) ? (data.level as SigmaLevel) : undefined;
  if (data.level !== undefined && !level) fail(`unknown level '${String(data.level)}' (informational, low, medium, high, critical)`, node('level'));
  return {
    kind: 'rule',
    path,
    title,
    id,
    ...(typeof data.name === 'string' ? { name: data.name } : {}),
    ...(status ? { status } : {}),
    ...(level ? { level } : {}),
    ...(typeof data.description === 'string' ? { description: data.description } : {}),
    tags: stringList(data.tags),
    logsource,
    detection,
    fields: stringList(data.fields),
    falsepositives: stringList(data.falsepositives),
    source,
  };
}

function stringList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(String);
  if (typeof v === 'string') return [v];
  return [];
}

function parseLogsource(v: unknown, fail: () => never): SigmaLogsource {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) return fail();
  const o = v as Record<string, unknown>;
  const ls: SigmaLogsource = {};
  for (const k of ['product', 'category', 'service', 'definition'] as const) {
    const x = o[k];
    if (typeof x === 'string') ls[k] = x;
  }
  return ls;
}

function parseDetection(det: YamlNode, path: string, line: LineOf, skip: ReadonlySet<string>): SigmaDetection {
  if (!isMap(det)) throw new SigmaError('SIGMA_RULE_INVALID', 'detection must be a mapping', path, line(det));
  const searches = new Map<string, SigmaSearch>();
  let conditionNode: YamlNode | null = null;
  let timeframe = false;
  for (const pair of det.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as YamlNode | null;
    if (key === 'condition') {
      conditionNode = value;
      continue;
    }
    if (key === 'timeframe') {
      timeframe = true;
      continue;
    }
    if (skip.has(key)) continue;
    searches.set(key, parseSearch(value, path, line, line(pair.key as YamlNode)));
  }
  void timeframe;
  if (!conditionNode) throw new SigmaError('SIGMA_RULE_INVALID', "detection has no 'condition'", path, line(det));
  let texts: string[];
  if (isSeq(conditionNode)) texts = conditionNode.items.map((n) => String((n as { value?: unknown }).value ?? ''));
  else if (isScalar(conditionNode)) texts = [String(conditionNode.value)];
  else throw new SigmaError('SIGMA_CONDITION_INVALID', 'condition must be a string or a list of strings', path, line(conditionNode));
  const conditionLine = line(conditionNode);
  let condition: SigmaCondition;
  try {
    const parsed = texts.map((t) => parseCondition(t));
    condition = parsed.length === 1 ? parsed[0]! : { op: 'or', args: parsed };
  } catch (error) {
    if (error instanceof ConditionSyntaxError) {
      const code = /Sigma 1\.0 syntax/.test(error.message) ? 'SIGMA_DEPRECATED_SYNTAX' : 'SIGMA_CONDITION_INVALID';
      throw new SigmaError(code, `condition '${texts.join(' | ')}': ${error.message}`, path, conditionLine);
    }
    throw error;
  }
  checkReferences(condition, searches, path, conditionLine);
  return { searches, condition, conditionText: texts.join(' or '), conditionLine };
}

function checkReferences(c: SigmaCondition, searches: Map<string, SigmaSearch>, path: string, line: number): void {
  switch (c.op) {
    case 'and':
    case 'or':
      for (const a of c.args) checkReferences(a, searches, path, line);
      return;
    case 'not':
      checkReferences(c.arg, searches, path, line);
      return;
    case 'ref':
      if (!searches.has(c.name)) throw new SigmaError('SIGMA_CONDITION_INVALID', `condition refers to '${c.name}', which is not a search identifier of the detection`, path, line);
      return;
    case 'of':
      if (expandOfPattern(c.pattern, searches.keys()).length === 0) throw new SigmaError('SIGMA_CONDITION_INVALID', `'${c.quantifier === 'one' ? '1' : 'all'} of ${c.pattern}' selects no search identifier`, path, line);
  }
}

function scalarOf(n: YamlNode | null, path: string, line: LineOf): SigmaScalar {
  if (n === null) return null;
  if (!isScalar(n)) throw new SigmaError('SIGMA_VALUE_INVALID', 'expected a scalar value (string, number, boolean or null)', path, line(n));
  const v = n.value;
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return String(v);
  return String(v);
}

function parseSearch(n: YamlNode | null, path: string, line: LineOf, keyLine: number): SigmaSearch {
  if (isMap(n)) {
    const items: SigmaFieldItem[] = [];
    for (const pair of n.items) {
      const keyText = isScalar(pair.key) ? String(pair.key.value ?? '') : '';
      const parts = keyText.split('|');
      const field = parts[0] === '' ? null : parts[0]!;
      const modifiers = parts.slice(1);
      const vnode = pair.value as YamlNode | null;
      const itemLine = line(pair.key as YamlNode) || keyLine;
      let values: SigmaScalar[];
      if (isSeq(vnode)) values = vnode.items.map((x) => scalarOf(x as YamlNode, path, line));
      else values = [scalarOf(vnode, path, line)];
      if (values.length === 0) throw new SigmaError('SIGMA_VALUE_INVALID', `'${keyText}' has an empty list of values`, path, itemLine);
      if (values.length > 1 && values.includes(null)) throw new SigmaError('SIGMA_VALUE_INVALID', `'${keyText}': null cannot be part of a list of values (use a separate selection)`, path, itemLine);
      items.push({ field, modifiers, values, line: itemLine });
    }
    return { kind: 'fields', items, line: keyLine };
  }
  if (isSeq(n)) {
    const of: SigmaSearch[] = [];
    const keywords: SigmaScalar[] = [];
    for (const x of n.items) {
      const xn = x as YamlNode;
      if (isMap(xn)) of.push(parseSearch(xn, path, line, line(xn)));
      else if (isSeq(xn)) throw new SigmaError('SIGMA_VALUE_INVALID', 'nested lists are not allowed in a search identifier', path, line(xn));
      else keywords.push(scalarOf(xn, path, line));
    }
    if (keywords.length > 0) of.push({ kind: 'fields', items: [{ field: null, modifiers: [], values: keywords, line: keyLine }], line: keyLine });
    if (of.length === 0) throw new SigmaError('SIGMA_VALUE_INVALID', 'empty search identifier', path, keyLine);
    return of.length === 1 ? of[0]! : { kind: 'any', of, line: keyLine };
  }
  const v = scalarOf(n, path, line);
  if (v === null) throw new SigmaError('SIGMA_VALUE_INVALID', 'a search identifier cannot be null', path, keyLine);
  return { kind: 'fields', items: [{ field: null, modifiers: [], values: [v], line: keyLine }], line: keyLine };
}
