import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SigmaCorrelationDocument, SigmaDocument, SigmaFilter, SigmaRule, SigmaStatus } from './ast.ts';
import { attachFilter, compileRule, SlotTable, type CompiledRule, type CompileOptions } from './compile.ts';
import { SigmaError, type SigmaErrorCode } from './errors.ts';
import { loadMappings, type MappingSet } from './mappings.ts';
import { parseSigmaFile } from './parse.ts';
import { RuleSet } from './ruleset.ts';

/** A rule (or file) that is not active, with where and why. */
export interface RuleProblem {
  path: string;
  line: number;
  code: SigmaErrorCode;
  reason: string;
  /** The rule id when the document parsed far enough to have one. */
  id?: string;
}

export interface LoadOptions {
  mappings?: MappingSet;
  /** Extra placeholder values for `expand`. */
  placeholders?: Readonly<Record<string, readonly string[]>>;
  /** Statuses to activate. @default every status except deprecated and unsupported */
  statuses?: readonly SigmaStatus[];
}

export interface LoadedRules {
  ruleSet: RuleSet;
  rules: CompiledRule[];
  filters: SigmaFilter[];
  /** Correlation documents, parsed but not compiled (for the correlation engine), with their paths. */
  correlations: SigmaCorrelationDocument[];
  /** Valid Sigma this engine cannot run (regex syntax, unmapped log source, placeholders, ...). */
  unsupported: RuleProblem[];
  /** Broken rules: invalid YAML, missing parts, bad conditions or modifiers. */
  errors: RuleProblem[];
  /** Rules left out by status (e.g. deprecated). */
  excluded: RuleProblem[];
  checksum: string;
}

const DEFAULT_STATUSES: readonly SigmaStatus[] = ['stable', 'test', 'experimental'];

function problem(e: SigmaError, id?: string): RuleProblem {
  return { path: e.path, line: e.line, code: e.code as SigmaErrorCode, reason: e.message, ...(id ? { id } : {}) };
}

/** Every `.yml`/`.yaml` file under the directories, sorted for a stable order. */
export function listRuleFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.yml') || name.endsWith('.yaml')) out.push(p);
    }
  };
  for (const d of dirs) (statSync(d).isDirectory() ? walk(d) : out.push(d));
  return out;
}

/** Loads, compiles and indexes every rule under the directories (or files). Never throws for a bad rule. */
export function loadRuleDirectory(dir: string | readonly string[], options: LoadOptions = {}): LoadedRules {
  const dirs = typeof dir === 'string' ? [dir] : dir;
  const documents: SigmaDocument[] = [];
  const errors: RuleProblem[] = [];
  const unsupported: RuleProblem[] = [];
  for (const file of listRuleFiles(dirs)) {
    const shown = dirs.length === 1 && dirs[0] !== file ? relative(dirs[0]!, file) : file;
    const parsed = parseSigmaFile(readFileSync(file, 'utf8'), shown);
    documents.push(...parsed.documents);
    for (const e of parsed.errors) (e.unsupported ? unsupported : errors).push(problem(e));
  }
  const compiled = compileDocuments(documents, options);
  return { ...compiled, errors: [...errors, ...compiled.errors], unsupported: [...unsupported, ...compiled.unsupported] };
}

/** Compiles parsed documents into a rule set (filters attached, correlations passed through). */
export function compileDocuments(documents: readonly SigmaDocument[], options: LoadOptions = {}): LoadedRules {
  const mappings = options.mappings ?? loadMappings();
  const slots = new SlotTable();
  const copts: CompileOptions = { mappings, slots, ...(options.placeholders ? { placeholders: options.placeholders } : {}) };
  const statuses = new Set(options.statuses ?? DEFAULT_STATUSES);
  const rules: CompiledRule[] = [];
  const filters: SigmaFilter[] = [];
  const correlations: SigmaCorrelationDocument[] = [];
  const unsupported: RuleProblem[] = [];
  const errors: RuleProblem[] = [];
  const excluded: RuleProblem[] = [];
  const seen = new Map<string, string>();
  for (const doc of documents) {
    if (doc.kind === 'correlation') {
      correlations.push(doc);
      continue;
    }
    if (doc.kind === 'filter') {
      filters.push(doc);
      continue;
    }
    const rule: SigmaRule = doc;
    if (rule.status && !statuses.has(rule.status)) {
      excluded.push({ path: rule.path, line: 0, code: 'SIGMA_RULE_INVALID', reason: `status '${rule.status}' is not active`, id: rule.id });
      continue;
    }
    const dup = seen.get(rule.id);
    if (dup !== undefined) {
      errors.push({ path: rule.path, line: 0, code: 'SIGMA_RULE_INVALID', reason: `duplicate rule id ${rule.id} (also in ${dup})`, id: rule.id });
      continue;
    }
    try {
      rules.push(compileRule(rule, copts));
      seen.set(rule.id, rule.path);
    } catch (error) {
      if (!(error instanceof SigmaError)) throw error;
      (error.unsupported ? unsupported : errors).push(problem(error, rule.id));
    }
  }
  for (const filter of filters) {
    const targets = rules.filter((r) => filter.rules.includes(r.rule.id) || (r.rule.name !== undefined && filter.rules.includes(r.rule.name)));
    for (const target of targets) {
      try {
        attachFilter(target, filter, copts);
      } catch (error) {
        if (!(error instanceof SigmaError)) throw error;
        (error.unsupported ? unsupported : errors).push(problem(error, filter.id));
      }
    }
  }
  // Correlations count too: a changed correlation is a changed rule set.
  const checksum = rulesetChecksum([...rules.map((r) => r.rule), ...filters, ...correlations]);
  return { ruleSet: new RuleSet(rules, slots.slots, checksum), rules, filters, correlations, unsupported, errors, excluded, checksum };
}

/** SHA-256 (hex) over the sorted ids and source texts of the active rules and filters. */
export function rulesetChecksum(docs: readonly { id: string; source: string }[]): string {
  const h = createHash('sha256');
  for (const d of [...docs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) h.update(d.id).update('\u0000').update(d.source).update('\u0000');
  return h.digest('hex');
}
