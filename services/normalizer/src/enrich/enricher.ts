import type { Asset, MamoriEvent } from '@mamori/events';
import type { Inventory } from '@mamori/inventory';
import { communityIdV1 } from './community-id.ts';
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
  constructor(private readonly deps: EnricherDeps) {}

  enrich(event: EventHead, siteId: string): void {
    const inventory = this.deps.inventory();
    event.site_id = siteId;
    if (inventory) {
      const org = event.org_id;
      event.direction = inventory.hasHomeNetworks(org) ? flowDirection(inventory.isHome(org, event.src_ip), inventory.isHome(org, event.dst_ip)) : '';
      event.src_asset = toAsset(inventory, org, event.src_ip);
      event.dst_asset = toAsset(inventory, org, event.dst_ip);
    }
    if (this.deps.geo) {
      event.src_geo = this.deps.geo.lookup(event.src_ip);
      event.dst_geo = this.deps.geo.lookup(event.dst_ip);
    }
    if (!event.community_id) {
      event.community_id = communityIdV1(
        { protocol: event.protocol, srcIp: event.src_ip, srcPort: event.src_port, dstIp: event.dst_ip, dstPort: event.dst_port },
        this.deps.communityIdSeed ?? 0,
      );
    }
  }
}

function toAsset(inventory: Inventory, org: string, ip: string): Asset | null {
  const a = inventory.asset(org, ip);
  return a ? { name: a.name, owner: a.owner, criticality: a.criticality, network: a.network } : null;
}
