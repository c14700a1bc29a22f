import type { MamoriEvent } from './model.ts';

/**
 * The event with every field that has a schema default filled in, as a reader of the latest
 * schema sees it. Producers may leave optional fields out; this makes comparisons exact.
 */
export function withEventDefaults(event: MamoriEvent): MamoriEvent {
  return {
    ...event,
    site_id: event.site_id ?? '',
    direction: event.direction ?? '',
    host: event.host ?? null,
    user: event.user ?? null,
    src_asset: event.src_asset ?? null,
    dst_asset: event.dst_asset ?? null,
    src_geo: event.src_geo ?? null,
    dst_geo: event.dst_geo ?? null,
    process: event.process ?? null,
    dns: event.dns ?? null,
    http: event.http ?? null,
    tls: event.tls ?? null,
    ssh: event.ssh ?? null,
    smb: event.smb ?? null,
    auth: event.auth ?? null,
    file: event.file ?? null,
    registry: event.registry ?? null,
    alert: event.alert ?? null,
  };
}
