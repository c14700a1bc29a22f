import { MamoriError } from '@mamori/core';

/**
 * Codes the Sigma package defines; listed in docs/errors.md and docs/sigma.md.
 *
 * Errors (the rule is wrong): `SIGMA_YAML_INVALID`, `SIGMA_RULE_INVALID`, `SIGMA_CONDITION_INVALID`,
 * `SIGMA_MODIFIER_INVALID`, `SIGMA_VALUE_INVALID`.
 * Unsupported (the rule is valid Sigma this engine cannot run): `SIGMA_REGEX_UNSUPPORTED`,
 * `SIGMA_PLACEHOLDER_UNRESOLVED`, `SIGMA_MODIFIER_UNSUPPORTED`, `SIGMA_LOGSOURCE_UNMAPPED`,
 * `SIGMA_DEPRECATED_SYNTAX`, `SIGMA_EXPANSION_TOO_LARGE`.
 */
export const SIGMA_ERROR_CODES = [
  'SIGMA_YAML_INVALID',
  'SIGMA_RULE_INVALID',
  'SIGMA_CONDITION_INVALID',
  'SIGMA_MODIFIER_INVALID',
  'SIGMA_VALUE_INVALID',
  'SIGMA_REGEX_UNSUPPORTED',
  'SIGMA_PLACEHOLDER_UNRESOLVED',
  'SIGMA_MODIFIER_UNSUPPORTED',
  'SIGMA_LOGSOURCE_UNMAPPED',
  'SIGMA_DEPRECATED_SYNTAX',
  'SIGMA_EXPANSION_TOO_LARGE',
  'SIGMA_MAPPING_INVALID',
] as const;

export type SigmaErrorCode = (typeof SIGMA_ERROR_CODES)[number];

/** Codes meaning "valid Sigma, but this engine cannot run it" (as opposed to a broken rule). */
export const UNSUPPORTED_CODES: ReadonlySet<SigmaErrorCode> = new Set<SigmaErrorCode>([
  'SIGMA_REGEX_UNSUPPORTED',
  'SIGMA_PLACEHOLDER_UNRESOLVED',
  'SIGMA_MODIFIER_UNSUPPORTED',
  'SIGMA_LOGSOURCE_UNMAPPED',
  'SIGMA_DEPRECATED_SYNTAX',
  'SIGMA_EXPANSION_TOO_LARGE',
]);

/** A problem with one rule, located by file path and 1-based line (0 when unknown). */
export class SigmaError extends MamoriError {
  constructor(
    code: SigmaErrorCode,
    message: string,
    readonly path: string,
    readonly line: number,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = 'SigmaError';
  }

  /** Whether the rule is valid Sigma that this engine does not support (vs. an invalid rule). */
  get unsupported(): boolean {
    return UNSUPPORTED_CODES.has(this.code as SigmaErrorCode);
  }
}
