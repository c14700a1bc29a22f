import type { Asset, MamoriEvent } from '@mamori/events';
import { ipv4Into, parseIpInto, type Inventory, type IpBytes } from '@mamori/inventory';
import { communityIdOf } from './community-id.ts';
import { flowDirection } from './direction.ts';
import type { GeoLookup } from './geo.ts';

/** What enrichment reads and sets: an event, with or without its attributes (the fused Zeek conn path writes those as bytes). */
export type EventHead = Omit<MamoriEvent, 'attributes'>;

/**
 * An event's addresses as its decoder already read them: `src` and `dst` are the IPv4 values
 * (unsigned 32-bit, `ipv4ToUint32`) of `src_ip` and `dst_ip`, or -1 when the decoder did not read
 * them as IPv4 (enrichment then parses the text). Lets a decoder that parsed the record's bytes
 * (the fused Zeek conn path) spare enrichment a second parse of each address.
 */
export interface KnownAddresses {
  src: number;
  dst: number;
}

export interface EnricherDeps {
  /** Current inventory; undefined = none configured (no direction, no assets). */
  readonly inventory: () => Inventory | undefined;
  readonly geo?: GeoLookup | undefined;
  /** Community ID seed. @default 0 */
  readonly communityIdSeed?: number;
}

/**
 * Adds context to a freshly decoded event, in place: site, direction (from the organization's home
 * networks), source/destination assets, GeoIP/ASN of public addresses, and a Community ID when the
 * sensor did not write one. Pure lookups: nothing here can fail an event.
 */
export class Enricher {
  /** Where the event's IPv4 addresses are parsed (read only within one `enrich` call). */
  private readonly srcV4 = { version: 4, bytes: new Uint8Array(4) } as const;
  private readonly dstV4 = { version: 4, bytes: new Uint8Array(4) } as const;

  constructor(private readonly deps: EnricherDeps) {}

  enrich(event: EventHead, siteId: string, known?: Readonly<KnownAddresses>): void {
    const inventory = this.deps.inventory();
    event.site_id = siteId;
    const needsId = !event.community_id;
    // Each address parsed once for every lookup below (it was parsed up to three times each), IPv4
    // into this enricher's own arrays: nothing below keeps the bytes.
    const src = inventory || needsId ? addressOf(event.src_ip, known === undefined ? -1 : known.src, this.srcV4) : undefined;
    const dst = inventory || needsId ? addressOf(event.dst_ip, known === undefined ? -1 : known.dst, this.dstV4) : undefined;
    if (inventory) {
      const org = event.org_id;
      event.direction = inventory.hasHomeNetworks(org) ? flowDirection(isHome(inventory, org, src), isHome(inventory, org, dst)) : '';
      event.src_asset = toAsset(inventory, org, src);
      event.dst_asset = toAsset(inventory, org, dst);
    }
    if (this.deps.geo) {
      event.src_geo = this.deps.geo.lookup(event.src_ip);
      event.dst_geo = this.deps.geo.lookup(event.dst_ip);
    }
    if (needsId) event.community_id = communityIdOf(event.protocol, src, event.src_port, dst, event.dst_port, this.deps.communityIdSeed ?? 0);
  }
}

/** The address `text` (whose IPv4 value is `v4` when ≥ 0) parsed, IPv4 into `into`. */
function addressOf(text: string, v4: number, into: { readonly version: 4; readonly bytes: Uint8Array }): IpBytes | undefined {
  return v4 < 0 ? parseIpInto(text, into) : ipv4Into(v4, into);
}

/** An address that is none (undefined) is in no network. */
function isHome(inventory: Inventory, org: string, ip: IpBytes | undefined): boolean {
  return ip !== undefined && inventory.isHome(org, ip);
}

function toAsset(inventory: Inventory, org: string, ip: IpBytes | undefined): Asset | null {
  const a = ip === undefined ? undefined : inventory.asset(org, ip);
  return a ? { name: a.name, owner: a.owner, criticality: a.criticality, network: a.network } : null;
}
