import type { Asset, MamoriEvent } from '@mamori/events';
import { parseIpInto, type Inventory, type IpBytes } from '@mamori/inventory';
import { communityIdOf } from './community-id.ts';
import { flowDirection } from './direction.ts';
import type { GeoLookup } from './geo.ts';

/** What enrichment reads and sets: an event, with or without its attributes (the fused Zeek conn path writes those as bytes). */
export type EventHead = Omit<MamoriEvent, 'attributes'>;

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

  enrich(event: EventHead, siteId: string): void {
    const inventory = this.deps.inventory();
    event.site_id = siteId;
    const needsId = !event.community_id;
    // Each address parsed once for every lookup below (it was parsed up to three times each), IPv4
    // into this enricher's own arrays: nothing below keeps the bytes.
    const src = inventory || needsId ? parseIpInto(event.src_ip, this.srcV4) : undefined;
    const dst = inventory || needsId ? parseIpInto(event.dst_ip, this.dstV4) : undefined;
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

/** An address that is none (undefined) is in no network. */
function isHome(inventory: Inventory, org: string, ip: IpBytes | undefined): boolean {
  return ip !== undefined && inventory.isHome(org, ip);
}

function toAsset(inventory: Inventory, org: string, ip: IpBytes | undefined): Asset | null {
  const a = ip === undefined ? undefined : inventory.asset(org, ip);
  return a ? { name: a.name, owner: a.owner, criticality: a.criticality, network: a.network } : null;
}
