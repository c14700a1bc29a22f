/** Typed AST of a Sigma rule (specification 2.1), as parsed from YAML and before compilation. */

/** A scalar value of a detection item. */
export type SigmaScalar = string | number | boolean | null;

/** `product` / `category` / `service` of a rule (`definition` is informative). */
export interface SigmaLogsource {
  product?: string;
  category?: string;
  service?: string;
  definition?: string;
}

/**
 * One `field|mod1|mod2: value(s)` item, or a keyword item (`field` null: matched against the whole
 * event). `values` are OR-linked unless the `all` modifier is present.
 */
export interface SigmaFieldItem {
  field: string | null;
  modifiers: string[];
  values: SigmaScalar[];
  /** 1-based line in the rule file. */
  line: number;
}

/**
 * A search identifier: a map (`fields`, AND of its items) or a list (`any`, OR of maps and keywords).
 */
export type SigmaSearch =
  | { kind: 'fields'; items: SigmaFieldItem[]; line: number }
  | { kind: 'any'; of: SigmaSearch[]; line: number };

/** Condition expression; precedence (least to most binding): or, and, not, `x of`, parentheses. */
export type SigmaCondition =
  | { op: 'and'; args: SigmaCondition[] }
  | { op: 'or'; args: SigmaCondition[] }
  | { op: 'not'; arg: SigmaCondition }
  | { op: 'ref'; name: string }
  | { op: 'of'; quantifier: 'one' | 'all'; pattern: string /* 'them' or a name with * */ };

export interface SigmaDetection {
  searches: Map<string, SigmaSearch>;
  condition: SigmaCondition;
  /** The condition as written (strings of a list are OR-linked). */
  conditionText: string;
  conditionLine: number;
}

export type SigmaStatus = 'stable' | 'test' | 'experimental' | 'deprecated' | 'unsupported';
export type SigmaLevel = 'informational' | 'low' | 'medium' | 'high' | 'critical';

/** A detection rule. */
export interface SigmaRule {
  kind: 'rule';
  /** File the rule came from (or a name given by the caller). */
  path: string;
  title: string;
  /** The rule's id, or a stable id derived from path and title when the rule has none. */
  id: string;
  name?: string;
  status?: SigmaStatus;
  level?: SigmaLevel;
  description?: string;
  tags: string[];
  logsource: SigmaLogsource;
  detection: SigmaDetection;
  fields: string[];
  falsepositives: string[];
  /** The document's source text (for checksums). */
  source: string;
}

/** A global filter (sigma-filters-specification): excludes matching events from the named rules. */
export interface SigmaFilter {
  kind: 'filter';
  path: string;
  title: string;
  id: string;
  logsource: SigmaLogsource;
  /** Rule ids or names the filter applies to. */
  rules: string[];
  detection: SigmaDetection;
  source: string;
}

/** A correlation rule, kept parsed but uncompiled for the correlation engine. */
export interface SigmaCorrelationDocument {
  kind: 'correlation';
  path: string;
  title: string;
  id: string;
  /** The parsed YAML document as plain data. */
  document: Record<string, unknown>;
  line: number;
  source: string;
}

export type SigmaDocument = SigmaRule | SigmaFilter | SigmaCorrelationDocument;
