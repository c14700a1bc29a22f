import { parseIp } from '@mamori/inventory';
import { Enricher, FORMATS, RecordNormalizer, type SensorFormat } from '@mamori/normalizer';
import { describe, expect, it } from 'vitest';
import { NetflowDecoder } from './decoder.ts';
import { FLOW_FIELDS, flowRow, set, templateRecord, uint, v9Packet } from './test-packets.ts';

/**
 * Community ID joins one flow across sensors: the same 5-tuple seen by Zeek (conn), Suricata (EVE
 * flow) and a NetFlow exporter (through this collector and the normalizer's `netflow.flow`) must
 * get the same `community_id` once normalized and enriched.
 */
const normalizer = new RecordNormalizer({ inventory: () => undefined, allowUnregistered: true, defaultOrg: 'org' }, new Enricher({ inventory: () => undefined }));
const format = (id: string): SensorFormat => FORMATS.find((f) => f.id === id)!;
const source = { topic: 'join', partition: 0, offset: 0, sensorId: 'sensor', ingestTime: 0 };

function normalized(formatId: string, text: string) {
  const result = normalizer.normalize(format(formatId), Buffer.from(text), source);
  expect(result.errors).toEqual([]);
  return result.events;
}
const communityIds = (formatId: string, text: string): (string | null)[] => normalized(formatId, text).map((e) => e.community_id);
const protocols = (formatId: string, text: string): string[] => normalized(formatId, text).map((e) => e.protocol);

interface Flow {
  /** As Zeek writes it: `icmp` for ICMPv6 too. */
  readonly proto: 'tcp' | 'udp' | 'icmp';
  readonly number: number;
  readonly src: string;
  readonly dst: string;
  /** Ports, or ICMP type and code. */
  readonly sport: number;
  readonly dport: number;
}

const zeek = (f: Flow) => JSON.stringify({ ts: 1_700_000_000.5, uid: 'C1', 'id.orig_h': f.src, 'id.orig_p': f.sport, 'id.resp_h': f.dst, 'id.resp_p': f.dport, proto: f.proto, conn_state: 'SF' });

function suricata(f: Flow): string {
  const icmp = f.proto === 'icmp';
  const v6 = f.src.includes(':');
  return JSON.stringify({
    timestamp: '2023-11-14T22:13:20.500000+0000',
    flow_id: 1,
    event_type: 'flow',
    src_ip: f.src,
    dest_ip: f.dst,
    proto: icmp && v6 ? 'IPv6-ICMP' : f.proto.toUpperCase(),
    ...(icmp ? { icmp_type: f.sport, icmp_code: f.dport } : { src_port: f.sport, dest_port: f.dport }),
    flow: { pkts_toserver: 1, pkts_toclient: 1, bytes_toserver: 84, bytes_toclient: 84, start: '2023-11-14T22:13:20.500000+0000', end: '2023-11-14T22:13:21.000000+0000', state: 'closed' },
  });
}

/** The flow as a v9 exporter writes it (ICMP: type << 8 | code in the destination port), through the collector's decoder. */
function netflow(f: Flow): string {
  const icmp = f.proto === 'icmp';
  const sport = icmp ? 0 : f.sport;
  const dport = icmp ? (f.sport << 8) | f.dport : f.dport;
  const v6 = f.src.includes(':');
  const packet = v6
    ? v9Packet([
        set(0, templateRecord(301, [[27, 16], [28, 16], [7, 2], [11, 2], [4, 1], [1, 4], [2, 4]])),
        set(301, Buffer.concat([Buffer.from(parseIp(f.src)!.bytes), Buffer.from(parseIp(f.dst)!.bytes), uint(sport, 2), uint(dport, 2), uint(f.number, 1), uint(84, 4), uint(1, 4)])),
      ])
    : v9Packet([set(0, templateRecord(300, FLOW_FIELDS)), set(300, flowRow(f.src, f.dst, sport, dport, f.number, 84, 1, 90_000, 95_000))]);
  const out = new NetflowDecoder().decode(packet, '192.0.2.10', 1_700_000_000_000);
  expect(out.errors).toEqual([]);
  return out.records.map((r) => JSON.stringify(r)).join('\n');
}

const FLOWS: readonly Flow[] = [
  { proto: 'tcp', number: 6, src: '10.0.0.5', dst: '93.184.216.34', sport: 40_000, dport: 443 },
  { proto: 'udp', number: 17, src: '10.0.0.5', dst: '10.0.0.53', sport: 5353, dport: 53 },
  { proto: 'icmp', number: 1, src: '10.0.0.5', dst: '8.8.8.8', sport: 8, dport: 0 },
  { proto: 'icmp', number: 1, src: '10.0.0.1', dst: '10.0.0.5', sport: 3, dport: 3 },
  { proto: 'udp', number: 17, src: '2001:db8::5', dst: '2001:db8::53', sport: 5353, dport: 53 },
  { proto: 'icmp', number: 58, src: '2001:db8::5', dst: '2001:db8::1', sport: 128, dport: 0 },
];

describe('the same flow from Zeek, Suricata and NetFlow gets one Community ID', () => {
  for (const flow of FLOWS) {
    it(`${flow.proto} ${flow.src}:${flow.sport} -> ${flow.dst}:${flow.dport}`, () => {
      const [fromZeek] = communityIds('zeek.conn', zeek(flow));
      expect(fromZeek).toMatch(/^1:/);
      expect(communityIds('suricata.eve', suricata(flow))).toEqual([fromZeek]);
      expect(communityIds('netflow.flow', netflow(flow))).toEqual([fromZeek]);
    });
  }
});

describe('and one protocol name, IANA\'s keyword (ICMPv6: Zeek icmp, Suricata IPv6-ICMP, NetFlow 58)', () => {
  const IANA: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp' };
  for (const flow of FLOWS) {
    it(`${flow.proto} ${flow.src} -> ${flow.dst}: ${IANA[flow.number]}`, () => {
      const name = IANA[flow.number];
      expect(protocols('zeek.conn', zeek(flow))).toEqual([name]);
      expect(protocols('suricata.eve', suricata(flow))).toEqual([name]);
      expect(protocols('netflow.flow', netflow(flow))).toEqual([name]);
    });
  }
});
