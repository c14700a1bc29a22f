import { ConfigError } from '@mamori/core';

/** A TAXII partner: who may read which organization's shares. Only the SHA-256 of the secret is kept. */
export interface TaxiiPartner {
  /** The partner id (HTTP Basic user name; `share_with` entries of decisions name it). */
  id: string;
  /** Hex SHA-256 of the partner's secret. */
  secretSha256: string;
  /** The Mamori organization whose share decisions this partner receives. */
  org: string;
}

/** The response settings of QueryApiConfig (docs/configuration.md, docs/response.md). */
export interface ResponseConfig {
  /** API_BLOCK_REQUIRES_APPROVAL: a block is `proposed` until a different approver approves it. @default true */
  blockRequiresApproval: boolean;
  /** API_WARNING_LISTS: MISP warning-list files or folders consulted by the guard rails (as INTEL_WARNING_LISTS). @default [] */
  warningLists: string[];
  /** MAMORI_INVENTORY_FILE: home networks the guard rails refuse to block; unset = none. */
  inventoryFile: string | undefined;
  /** API_TAXII_PARTNERS: `<partner id>:<sha256 of secret>:<org>` entries separated by `;` or newlines. @default none */
  taxiiPartners: TaxiiPartner[];
  /** API_DECISION_MAX_DAYS: longest expiry a decision may carry; a decision without one gets this. @default 90 */
  decisionMaxDays: number;
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;
const ORG = /^[A-Za-z0-9._-]{1,128}$/;

/** Parses API_TAXII_PARTNERS; throws a ConfigError naming the entry and the fix. */
export function parseTaxiiPartners(spec: string): TaxiiPartner[] {
  const out: TaxiiPartner[] = [];
  const seen = new Set<string>();
  for (const raw of spec.split(/[;\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [id, hash, org, ...rest] = entry.split(':');
    const where = `API_TAXII_PARTNERS entry for partner ${JSON.stringify(id ?? '')}`;
    if (!id || !hash || !org || rest.length > 0) throw new ConfigError(`${where} must be <partner id>:<sha256 hex of the secret>:<org>`);
    if (!ID.test(id)) throw new ConfigError(`${where}: the id may hold only letters, digits, '.', '_' and '-' (at most 64)`);
    if (!/^[0-9a-f]{64}$/i.test(hash)) throw new ConfigError(`${where}: the hash must be 64 hex digits (SHA-256 of the secret)`);
    if (!ORG.test(org)) throw new ConfigError(`${where}: the organization must be an organization id`);
    if (seen.has(id)) throw new ConfigError(`${where}: the id is used twice`);
    seen.add(id);
    out.push({ id, secretSha256: hash.toLowerCase(), org });
  }
  return out;
}
