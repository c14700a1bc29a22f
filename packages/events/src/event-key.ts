import type { MamoriEvent } from './model.ts';

/**
 * The Kafka key of a normalized event on `telemetry.events`: `<org>|<src_ip>` for an event with a
 * source address, else `<org>|host:<host>` for an event observed on a host (Windows, Sysmon,
 * PowerShell: process, file and registry activity carry no address), else `<org>|sensor:<sensor>`.
 *
 * Why: the key picks the partition, and the detector keeps per-source state per input partition,
 * so one source's events must share a key (the network analytics key their state by the source
 * address). Events without an address used to share the key `<org>|`: every host event of an
 * organization went to one partition, which one detector instance and one writer batch stream had
 * to carry alone whatever the number of hosts. The prefixes keep a host or sensor name from
 * sharing a key with an address.
 */
export function eventKey(event: Pick<MamoriEvent, 'org_id' | 'src_ip' | 'host' | 'sensor_id'>): string {
  if (event.src_ip) return `${event.org_id}|${event.src_ip}`;
  if (event.host) return `${event.org_id}|host:${event.host}`;
  return `${event.org_id}|sensor:${event.sensor_id}`;
}
