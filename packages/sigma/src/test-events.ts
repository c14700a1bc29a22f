import type { MamoriEvent } from '@mamori/events';

/** A normalized event for tests: defaults everywhere, then the given fields. */
export function testEvent(over: Partial<MamoriEvent> = {}): MamoriEvent {
  return {
    event_id: 'e1', event_class: 'process_activity', time: 1_700_000_000_000, ingest_time: 0, org_id: 'org', sensor_id: 's',
    source_format: 'windows.event', src_ip: '', src_port: 0, dst_ip: '', dst_port: 0, protocol: '', bytes_out: 0, bytes_in: 0,
    packets_out: 0, packets_in: 0, duration_ms: 0, conn_state: null, community_id: null, raw: { topic: 't', partition: 0, offset: 0 },
    attributes: {}, ...over,
  };
}

/** A Sysmon process creation event. */
export function sysmonProcess(image: string, commandLine: string, extra: Record<string, string> = {}, over: Partial<MamoriEvent> = {}): MamoriEvent {
  return testEvent({
    attributes: { EventID: '1', Channel: 'Microsoft-Windows-Sysmon/Operational', ...extra },
    process: {
      pid: 1, name: image.split('\\').pop() ?? null, path: image, command_line: commandLine, guid: null, user: 'CORP\\alice', integrity_level: 'High',
      hashes: { sha1: 'abc', md5: 'def' }, parent_pid: 2, parent_name: 'cmd.exe', parent_path: 'C:\\Windows\\System32\\cmd.exe', parent_command_line: 'cmd.exe', parent_guid: null,
    },
    user: 'CORP\\alice', host: 'ws1',
    ...over,
  });
}
