import type { Inventory } from '@mamori/inventory';

/**
 * Dead-letter codes of the sensor registry check; listed in docs/errors.md.
 *
 * - `SENSOR_UNREGISTERED`: the record's sensor is not in the inventory and unregistered sensors are
 *   not allowed (`MAMORI_ALLOW_UNREGISTERED_SENSORS`).
 * - `SENSOR_FORMAT_NOT_ALLOWED`: the sensor is registered with a `formats` list that does not include
 *   the record's format.
 */
export const SENSOR_ERROR_CODES = ['SENSOR_UNREGISTERED', 'SENSOR_FORMAT_NOT_ALLOWED'] as const;
export type SensorErrorCode = (typeof SENSOR_ERROR_CODES)[number];

/** How records of sensors the inventory does not know are handled. */
export interface SensorPolicy {
  /** Current inventory (reloads swap it); undefined = no inventory configured. */
  readonly inventory: () => Inventory | undefined;
  /** Accept unregistered sensors, stamping them with `defaultOrg`. */
  readonly allowUnregistered: boolean;
  readonly defaultOrg: string;
}

/** Who owns a record: resolved from its sensor, or why it is refused. */
export type SensorResolution =
  | { readonly ok: true; readonly orgId: string; readonly siteId: string; readonly registered: boolean }
  | { readonly ok: false; readonly code: SensorErrorCode; readonly reason: string };

/** Looks the sensor up and checks it may send `formatId`. */
export function resolveSensor(policy: SensorPolicy, sensorId: string, formatId: string): SensorResolution {
  const sensor = policy.inventory()?.sensor(sensorId);
  if (!sensor) {
    if (policy.allowUnregistered) return { ok: true, orgId: policy.defaultOrg, siteId: '', registered: false };
    return { ok: false, code: 'SENSOR_UNREGISTERED', reason: `sensor ${JSON.stringify(sensorId)} is not in the inventory (sensors:); register it or set MAMORI_ALLOW_UNREGISTERED_SENSORS=true` };
  }
  if (sensor.formats && !sensor.formats.includes(formatId)) {
    return { ok: false, code: 'SENSOR_FORMAT_NOT_ALLOWED', reason: `sensor ${JSON.stringify(sensorId)} may send ${sensor.formats.join(', ')}, not ${formatId}` };
  }
  return { ok: true, orgId: sensor.org, siteId: sensor.site, registered: true };
}
