export type {
  SigmaCondition,
  SigmaCorrelationDocument,
  SigmaDetection,
  SigmaDocument,
  SigmaFieldItem,
  SigmaFilter,
  SigmaLevel,
  SigmaLogsource,
  SigmaRule,
  SigmaScalar,
  SigmaSearch,
  SigmaStatus,
} from './ast.ts';
export { parseCondition, expandOfPattern } from './condition.ts';
export { parseSigmaFile, type ParsedFile } from './parse.ts';
export { SIGMA_ERROR_CODES, UNSUPPORTED_CODES, SigmaError, type SigmaErrorCode } from './errors.ts';
export { compileRule, compileDetection, attachFilter, SlotTable, type CompiledRule, type CompiledNode, type CompileOptions, type ValueTest } from './compile.ts';
export { EventContext, type FieldSlot, type FieldValue } from './event-context.ts';
export {
  DEFAULT_MAPPINGS_DIR,
  describeLogsource,
  fieldSources,
  findLogsource,
  loadMappings,
  type FieldSource,
  type LogsourceMapping,
  type MappingSet,
  type RouteSpec,
} from './mappings.ts';
export { RuleSet, explainRule, type Explanation, type ExplainNode, type MatchedField, type RuleMatch, type RuleSetStats } from './ruleset.ts';
export { compileDocuments, listRuleFiles, loadRuleDirectory, rulesetChecksum, type LoadedRules, type LoadOptions, type RuleProblem } from './load.ts';
export { AhoCorasick, LiteralMatcher, AHO_CORASICK_MIN_PATTERNS } from './aho-corasick.ts';
export { compileCidr, parseIp } from './cidr.ts';
export { parseWildcards, compilePattern } from './wildcard.ts';
export { base64Offsets, transform } from './modifiers.ts';
