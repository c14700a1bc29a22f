import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@mamori/core';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { formatCidr, parseCidr, type Cidr, type IpBytes } from './ip.ts';
import { PrefixTrie, type PrefixMatch } from './prefix-trie.ts';

/** Asset criticality, lowest first. */
export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

/** A tenant: every event belongs to exactly one. */
export interface Organization {
  readonly id: string;
  readonly name: string;
}

/** A sensor the pipeline accepts data from, and who owns it. */
export interface Sensor {
  readonly id: string;
  /** Organization id (must be listed under `organizations`). */
  readonly org: string;
  /** Site (data centre, office, cloud account) the sensor watches. */
  readonly site: string;
  /** SHA-256 (hex, lower case) of the sensor's ingest token; undefined = no token set. */
  readonly ingestTokenSha256: string | undefined;
  /** Format ids the sensor may send (`zeek.conn`, ...); undefined = any. */
  readonly formats: readonly string[] | undefined;
}

/** An address or network of an organization, with who owns it and how much it matters. */
export interface AssetEntry {
  readonly org: string;
  /** The network as written in canonical form, `10.1.2.3/32` for a single address. */
  readonly network: string;
  readonly name: string;
  readonly owner: string;
  readonly criticality: Criticality;
}

const ID = /^[A-Za-z0-9._-]{1,128}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The validated inventory, with indexed lookups: sensors by id (a Map), home networks and assets by
 * address per organization (longest-prefix-match tries). Immutable; a reload builds a new one.
 */
export class Inventory {
  private readonly orgs: ReadonlyMap<string, Organization>;
  private readonly sensors: ReadonlyMap<string, Sensor>;
  private readonly homes: ReadonlyMap<string, PrefixTrie<true>>;
  private readonly homeCidrs: ReadonlyMap<string, readonly Cidr[]>;
  private readonly assets: ReadonlyMap<string, PrefixTrie<AssetEntry>>;

  constructor(parts: { organizations: Organization[]; sensors: Sensor[]; homeNetworks: Map<string, Cidr[]>; assets: (AssetEntry & { cidr: Cidr })[] }) {
    this.orgs = new Map(parts.organizations.map((o) => [o.id, o]));
    this.sensors = new Map(parts.sensors.map((s) => [s.id, s]));
    const homes = new Map<string, PrefixTrie<true>>();
    for (const [org, cidrs] of parts.homeNetworks) {
      const trie = new PrefixTrie<true>();
      for (const cidr of cidrs) trie.insert(cidr, true);
      homes.set(org, trie);
    }
    this.homes = homes;
    this.homeCidrs = new Map([...parts.homeNetworks].map(([org, cidrs]) => [org, Object.freeze([...cidrs])]));
    const assets = new Map<string, PrefixTrie<AssetEntry>>();
    for (const { cidr, ...asset } of parts.assets) {
      let trie = assets.get(asset.org);
      if (!trie) assets.set(asset.org, (trie = new PrefixTrie()));
      trie.insert(cidr, Object.freeze(asset));
    }
    this.assets = assets;
  }

  /** An inventory that knows nothing (no sensors, no networks). */
  static empty(): Inventory {
    return new Inventory({ organizations: [], sensors: [], homeNetworks: new Map(), assets: [] });
  }

  get sensorCount(): number {
    return this.sensors.size;
  }

  get organizationCount(): number {
    return this.orgs.size;
  }

  organization(id: string): Organization | undefined {
    return this.orgs.get(id);
  }

  sensor(id: string): Sensor | undefined {
    return this.sensors.get(id);
  }

  /** Whether the organization has home networks configured (direction is unknown without them). */
  hasHomeNetworks(org: string): boolean {
    return (this.homes.get(org)?.size ?? 0) > 0;
  }

  /** The organization's home networks as configured (empty when it has none). */
  homeNetworks(org: string): readonly Cidr[] {
    return this.homeCidrs.get(org) ?? [];
  }

  /** Whether `ip` (text, or bytes from `parseIp` when the caller looks one address up more than once) is inside one of the organization's home networks. */
  isHome(org: string, ip: string | IpBytes): boolean {
    return this.homes.get(org)?.contains(ip) ?? false;
  }

  /** The most specific asset entry of the organization holding `ip` (text or parsed bytes). */
  asset(org: string, ip: string | IpBytes): AssetEntry | undefined {
    return this.assets.get(org)?.lookup(ip)?.value;
  }

  /** The asset and the matching prefix. */
  assetMatch(org: string, ip: string | IpBytes): PrefixMatch<AssetEntry> | undefined {
    return this.assets.get(org)?.lookup(ip);
  }

  /**
   * Whether `token` is the sensor's ingest token (constant-time compare of SHA-256 digests).
   * False for an unknown sensor or one without a token.
   */
  verifyIngestToken(sensorId: string, token: string): boolean {
    const expected = this.sensors.get(sensorId)?.ingestTokenSha256;
    if (!expected) return false;
    const actual = createHash('sha256').update(token, 'utf8').digest();
    return timingSafeEqual(actual, Buffer.from(expected, 'hex'));
  }
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses and validates an inventory document (YAML, or JSON, which is YAML). Every problem is
 * collected and reported in one ConfigError, each naming its path in the file
 * (`sensors[2].org: ...`). `source` names the file in the message.
 */
export function parseInventory(text: string, source = 'inventory'): Inventory {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    throw new ConfigError(`${source}: not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const problems: string[] = [];
  const problem = (path: string, message: string) => problems.push(`${path}: ${message}`);
  if (doc === null || doc === undefined) doc = {};
  if (!isObject(doc)) throw new ConfigError(`${source}: the inventory must be a mapping with organizations, sensors, home_networks and assets`);

  const known = new Set(['version', 'organizations', 'sensors', 'home_networks', 'assets']);
  for (const key of Object.keys(doc)) if (!known.has(key)) problem(key, `unknown section (expected one of: ${[...known].join(', ')})`);
  if (doc['version'] !== undefined && doc['version'] !== 1) problem('version', `must be 1, got ${JSON.stringify(doc['version'])}`);

  const list = (key: string): unknown[] => {
    const v = doc[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problem(key, 'must be a list');
      return [];
    }
    return v;
  };
  const str = (o: Json, path: string, key: string, opts: { required?: boolean; pattern?: RegExp; hint?: string } = {}): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null || v === '') {
      if (opts.required !== false) problem(`${path}.${key}`, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      problem(`${path}.${key}`, `must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    const s = String(v);
    if (opts.pattern && !opts.pattern.test(s)) {
      problem(`${path}.${key}`, `${JSON.stringify(s)} ${opts.hint ?? `must match ${opts.pattern}`}`);
      return undefined;
    }
    return s;
  };
  const onlyKeys = (o: Json, path: string, keys: string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) problem(`${path}.${k}`, `unknown field (expected: ${keys.join(', ')})`);
  };
  const idHint = 'must be 1-128 letters, digits, ".", "_" or "-"';

  const organizations: Organization[] = [];
  list('organizations').forEach((raw, i) => {
    const path = `organizations[${i}]`;
    if (!isObject(raw)) return problem(path, 'must be a mapping with id and name');
    onlyKeys(raw, path, ['id', 'name']);
    const id = str(raw, path, 'id', { pattern: ID, hint: idHint });
    const name = str(raw, path, 'name', { required: false }) ?? id;
    if (id === undefined) return;
    if (organizations.some((o) => o.id === id)) return problem(`${path}.id`, `duplicate organization ${JSON.stringify(id)}`);
    organizations.push(Object.freeze({ id, name: name ?? id }));
  });
  const orgIds = new Set(organizations.map((o) => o.id));
  const orgRef = (path: string, org: string | undefined) => {
    if (org !== undefined && !orgIds.has(org)) problem(path, `organization ${JSON.stringify(org)} is not listed under organizations`);
  };

  const sensors: Sensor[] = [];
  list('sensors').forEach((raw, i) => {
    const path = `sensors[${i}]`;
    if (!isObject(raw)) return problem(path, 'must be a mapping with id, org and site');
    onlyKeys(raw, path, ['id', 'org', 'site', 'ingest_token_sha256', 'formats']);
    const id = str(raw, path, 'id', { pattern: ID, hint: idHint });
    const org = str(raw, path, 'org');
    orgRef(`${path}.org`, org);
    const site = str(raw, path, 'site', { pattern: ID, hint: idHint });
    const token = str(raw, path, 'ingest_token_sha256', { required: false, pattern: SHA256_HEX, hint: 'must be 64 lower-case hex digits (sha256 of the token), never the token itself' });
    let formats: string[] | undefined;
    const f = raw['formats'];
    if (f !== undefined && f !== null) {
      if (!Array.isArray(f) || f.length === 0 || !f.every((x) => typeof x === 'string' && x.length > 0)) problem(`${path}.formats`, 'must be a non-empty list of format ids, e.g. [zeek.conn]');
      else formats = Object.freeze([...(f as string[])]) as string[];
    }
    if (id === undefined || org === undefined || site === undefined) return;
    if (sensors.some((s) => s.id === id)) return problem(`${path}.id`, `duplicate sensor ${JSON.stringify(id)}`);
    sensors.push(Object.freeze({ id, org, site, ingestTokenSha256: token, formats }));
  });

  const homeNetworks = new Map<string, Cidr[]>();
  const homes = doc['home_networks'];
  if (homes !== undefined && homes !== null) {
    if (!isObject(homes)) problem('home_networks', 'must be a mapping of organization id to a list of CIDRs');
    else {
      for (const [org, nets] of Object.entries(homes)) {
        const path = `home_networks.${org}`;
        orgRef(path, org);
        if (!Array.isArray(nets)) {
          problem(path, 'must be a list of CIDRs, e.g. [10.0.0.0/8, fd00::/8]');
          continue;
        }
        const cidrs: Cidr[] = [];
        nets.forEach((n, j) => {
          const parsed = typeof n === 'string' ? parseCidr(n.trim()) : `${JSON.stringify(n)} is not a CIDR`;
          if (typeof parsed === 'string') problem(`${path}[${j}]`, parsed);
          else cidrs.push(parsed);
        });
        homeNetworks.set(org, cidrs);
      }
    }
  }

  const assets: (AssetEntry & { cidr: Cidr })[] = [];
  const seen = new Set<string>();
  list('assets').forEach((raw, i) => {
    const path = `assets[${i}]`;
    if (!isObject(raw)) return problem(path, 'must be a mapping with org, network, name');
    onlyKeys(raw, path, ['org', 'network', 'name', 'owner', 'criticality']);
    const org = str(raw, path, 'org');
    orgRef(`${path}.org`, org);
    const networkText = str(raw, path, 'network');
    const cidr = networkText === undefined ? undefined : parseCidr(networkText.trim());
    if (typeof cidr === 'string') problem(`${path}.network`, cidr);
    const name = str(raw, path, 'name');
    const owner = str(raw, path, 'owner', { required: false }) ?? '';
    const crit = str(raw, path, 'criticality', { required: false }) ?? 'medium';
    if (!(CRITICALITIES as readonly string[]).includes(crit)) problem(`${path}.criticality`, `${JSON.stringify(crit)} must be one of: ${CRITICALITIES.join(', ')}`);
    if (org === undefined || cidr === undefined || typeof cidr === 'string' || name === undefined) return;
    const network = formatCidr(cidr);
    if (seen.has(`${org}|${network}`)) return problem(`${path}.network`, `${network} is listed twice for organization ${org}`);
    seen.add(`${org}|${network}`);
    assets.push({ org, network, name, owner, criticality: crit as Criticality, cidr });
  });

  if (problems.length > 0) {
    throw new ConfigError(`${source}: invalid inventory (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
  return new Inventory({ organizations, sensors, homeNetworks, assets });
}
