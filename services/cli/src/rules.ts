import type { Writable } from 'node:stream';
import { readFileSync, existsSync } from 'node:fs';
import { ConfigError } from '@mamori/core';
import type { MamoriEvent } from '@mamori/events';
import { FORMATS, normalizeRecord, type SensorFormat } from '@mamori/normalizer';
import { compileDocuments, loadRuleDirectory, parseSigmaFile, type ExplainNode, type LoadedRules } from '@mamori/sigma';
import { expandPaths, formatById, openFile } from './files.ts';

/** Output streams of a `mamori rules` command. */
export interface RulesIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

const line = (w: Writable, s: string): void => {
  w.write(`${s}\n`);
};

/**
 * `mamori rules check DIR...`: parses and compiles every rule, one line per problem
 * (`path:line: CODE reason`), then a summary. Exit 1 if any rule is invalid (YAML or Sigma
 * errors); unsupported rules are listed with their reason but do not fail the check.
 */
export function runRulesCheck(dirs: readonly string[], io: RulesIo): number {
  if (dirs.length === 0) throw new ConfigError('usage: mamori rules check <dir|file...>');
  const loaded = loadRuleDirectory(dirs);
  for (const p of loaded.errors) line(io.stdout, `${p.path}:${p.line}: error ${p.code} ${p.reason}`);
  for (const p of loaded.unsupported) line(io.stdout, `${p.path}:${p.line}: unsupported ${p.code} ${p.reason}`);
  for (const p of loaded.excluded) line(io.stdout, `${p.path}: excluded ${p.reason}`);
  const byCode: Record<string, number> = {};
  for (const p of loaded.unsupported) byCode[p.code] = (byCode[p.code] ?? 0) + 1;
  line(
    io.stderr,
    JSON.stringify({ compiled: loaded.rules.length, filters: loaded.filters.length, correlations: loaded.correlations.length, errors: loaded.errors.length, unsupported: loaded.unsupported.length, unsupportedByCode: byCode, excluded: loaded.excluded.length, checksum: loaded.checksum }),
  );
  return loaded.errors.length > 0 ? 1 : 0;
}

/** A normalized event read from JSON, with defaults for whatever the JSON leaves out. */
export function eventFromJson(o: Record<string, unknown>): MamoriEvent {
  return {
    event_id: 'cli', event_class: '', time: 0, ingest_time: 0, org_id: 'default', sensor_id: 'mamori-cli', source_format: '', src_ip: '', src_port: 0, dst_ip: '', dst_port: 0,
    protocol: '', bytes_out: 0, bytes_in: 0, packets_out: 0, packets_in: 0, duration_ms: 0, conn_state: null, community_id: null, raw: { topic: '', partition: 0, offset: 0 }, attributes: {},
    ...(o as Partial<MamoriEvent>),
  };
}

/** Events of a file: normalized JSON lines (`--format mamori`), or raw sensor data of any registered format. */
async function* eventsOf(paths: readonly string[], format: string | undefined, formats: readonly SensorFormat[]): AsyncGenerator<{ path: string; line: number; event: MamoriEvent }> {
  for (const path of expandPaths(paths)) {
    if (format === 'mamori') {
      const text = readFileSync(path, 'utf8');
      let n = 0;
      for (const l of text.split('\n')) {
        n++;
        if (l.trim() !== '') yield { path, line: n, event: eventFromJson(JSON.parse(l) as Record<string, unknown>) };
      }
      continue;
    }
    const opened = await openFile(path, formats, format === undefined ? undefined : formatById(format, formats));
    if (!opened.ok) throw new ConfigError(`${path}: ${opened.message}`);
    const topic = opened.format.topics[0] ?? `telemetry.raw.${opened.format.id}`;
    for (const r of opened.records) {
      if (r.error !== undefined) continue;
      const result = normalizeRecord(opened.format, Buffer.from(r.text), { topic, partition: 0, offset: r.line, sensorId: 'mamori-cli', orgId: 'default', ingestTime: Date.now() });
      for (const event of result.events) yield { path, line: r.line, event };
    }
  }
}

/**
 * `mamori rules test --rules DIR --events FILE...`: every match as one JSON line (rule id, title,
 * level, file and line, matched fields, the event); a summary with the share of rules evaluated on
 * stderr. Exit 0 (even without matches); bad rules are reported but the good ones run.
 */
export async function runRulesTest(options: { rules: readonly string[]; events: readonly string[]; format?: string | undefined }, io: RulesIo, formats: readonly SensorFormat[] = FORMATS): Promise<number> {
  if (options.rules.length === 0 || options.events.length === 0) throw new ConfigError('usage: mamori rules test --rules <dir> --events <files...> [--format ID|mamori]');
  const loaded: LoadedRules = loadRuleDirectory(options.rules);
  for (const p of [...loaded.errors, ...loaded.unsupported]) line(io.stderr, `${p.path}:${p.line}: ${p.code} ${p.reason}`);
  let events = 0;
  let matches = 0;
  for await (const { path, line: ln, event } of eventsOf(options.events, options.format, formats)) {
    events++;
    for (const m of loaded.ruleSet.match(event)) {
      matches++;
      line(io.stdout, JSON.stringify({ rule_id: m.rule.id, title: m.rule.title, level: m.rule.level ?? null, file: path, line: ln, matched: m.matched, event }));
    }
  }
  const stats = loaded.ruleSet.stats();
  line(io.stderr, JSON.stringify({ rules: loaded.rules.length, events, matches, evaluatedShare: Number(stats.evaluatedShare.toFixed(5)), checksum: loaded.checksum }));
  return 0;
}

function render(node: ExplainNode, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const mark = node.matched ? '✓' : '✗';
  switch (node.kind) {
    case 'search':
      out.push(`${pad}${mark} ${node.name}`);
      break;
    case 'field': {
      const mods = node.modifiers && node.modifiers.length > 0 ? `|${node.modifiers.join('|')}` : '';
      out.push(`${pad}${mark} ${node.field}${mods}  value=${node.value === undefined ? '(absent)' : JSON.stringify(node.value)}  from ${(node.paths ?? []).join(' → ')}${node.mode !== 'match' ? `  [${node.mode}]` : ''}`);
      for (const c of node.compared ?? []) out.push(`${pad}    ${c.matched ? '✓' : '✗'} ${c.expected}`);
      return;
    }
    case 'keyword':
      out.push(`${pad}${mark} keywords`);
      for (const c of node.compared ?? []) out.push(`${pad}    ${c.matched ? '✓' : '✗'} ${c.expected}`);
      return;
    default:
      out.push(`${pad}${mark} ${node.kind}`);
  }
  for (const c of node.children ?? []) render(c, depth + 1, out);
}

/**
 * `mamori rules explain --rule FILE --event JSON|FILE [--json]`: whether the event is routed to the
 * rule's log source, then per search and field the event's value, where it was read from, and
 * each compared value. Exit 0 if the rule fires, 1 if not.
 */
export function runRulesExplain(options: { rule: string; event: string; json?: boolean }, io: RulesIo): number {
  if (!options.rule || !options.event) throw new ConfigError('usage: mamori rules explain --rule <file> --event <json|file> [--json]');
  const parsed = parseSigmaFile(readFileSync(options.rule, 'utf8'), options.rule);
  for (const e of parsed.errors) line(io.stderr, `${e.path}:${e.line}: ${e.code} ${e.message}`);
  const loaded = compileDocuments(parsed.documents, { statuses: ['stable', 'test', 'experimental', 'deprecated', 'unsupported'] });
  for (const p of [...loaded.errors, ...loaded.unsupported]) line(io.stderr, `${p.path}:${p.line}: ${p.code} ${p.reason}`);
  const rule = loaded.rules[0];
  if (!rule) return 2;
  const text = existsSync(options.event) ? readFileSync(options.event, 'utf8') : options.event;
  const event = eventFromJson(JSON.parse(text) as Record<string, unknown>);
  const ex = loaded.ruleSet.explain(event, rule.rule.id)!;
  if (options.json) line(io.stdout, JSON.stringify(ex, null, 2));
  else {
    const out = [`${ex.matched ? 'FIRES' : 'does not fire'}: ${ex.title} (${ex.ruleId})`, `log source ${ex.logsource}: ${ex.routed ? 'event routed here' : `event NOT routed here (source_format=${event.source_format || '(none)'}, event_class=${event.event_class || '(none)'})`}`];
    render(ex.detection, 0, out);
    for (const f of ex.filters) {
      out.push(`filter ${f.title} (${f.id}): ${f.matched ? 'matches: suppresses the rule' : 'does not match'}`);
      render(f.detection, 1, out);
    }
    line(io.stdout, out.join('\n'));
  }
  return ex.matched ? 0 : 1;
}
