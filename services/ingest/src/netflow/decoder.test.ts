import { describe, expect, it } from 'vitest';
import { NetflowDecoder } from './decoder.ts';
import type { FlowRecord } from './flow-record.ts';
import { loadSampleGroups, samplesPresent } from './samples.ts';
import { FLOW_FIELDS, flowRow, ip, ipfixOptionsTemplate, ipfixPacket, set, templateRecord, uint, v9Packet, varField, type FieldDef } from './test-packets.ts';

const EXPORTER = '192.0.2.10';
const T0 = 1_700_000_000_000;

interface GroupResult {
  records: FlowRecord[];
  options: number;
  errors: string[];
  expired: string[];
  datagrams: number;
}

function decodeGroup(name: string): GroupResult {
  const group = loadSampleGroups().find((g) => g.name === name);
  if (group === undefined) throw new Error(`no sample group ${name}`);
  return feed(group.files.flatMap((f) => f.datagrams));
}

function feed(datagrams: readonly Buffer[], decoder = new NetflowDecoder()): GroupResult {
  const result: GroupResult = { records: [], options: 0, errors: [], expired: [], datagrams: datagrams.length };
  for (const d of datagrams) {
    const out = decoder.decode(d, EXPORTER, T0);
    result.records.push(...out.records);
    result.options += out.optionsRecords;
    result.errors.push(...out.errors.map((e) => e.code));
    result.expired.push(...out.expired.map((e) => e.error.code));
  }
  result.expired.push(...decoder.expire(T0 + 3_600_000).map((e) => e.error.code));
  return result;
}

/** Flow records per upstream spec, templates fed first; checked against the upstream spec's counts where it has them. */
const EXPECTED_RECORDS: Record<string, number> = {
  ipfix: 12, ipfix_test_barracuda: 8, ipfix_test_barracuda_extended_uniflow: 2, ipfix_test_ixia: 3, ipfix_test_juniper_mx240_junos151r6s3: 0,
  ipfix_test_mikrotik: 46, ipfix_test_netscaler: 3, ipfix_test_nokia_bras: 1, ipfix_test_openbsd_pflow: 26, ipfix_test_procera: 8,
  ipfix_test_viptela: 1, ipfix_test_vmware_vds: 5, ipfix_test_yaf: 2, netflow5: 30, netflow5_test_invalid01: 0, netflow5_test_invalid02: 0,
  netflow5_test_juniper_mx80: 29, netflow5_test_microtik: 30, netflow9_cisco_asr1001x: 25, netflow9_test_0length_fields: 10,
  netflow9_test_cisco_1941K9: 29, netflow9_test_cisco_aci: 3, netflow9_test_cisco_asa_1: 14, netflow9_test_cisco_asa_2: 19,
  netflow9_test_cisco_asr9k: 21, netflow9_test_cisco_nbar: 5, netflow9_test_cisco_wlc_8510: 0, netflow9_test_cisco_wlc: 19,
  netflow9_test_field_layer2segmentid: 1, netflow9_test_fortigate_fortios_521: 1, netflow9_test_fortigate_fortios_542_appid: 17,
  netflow9_test_h3c: 16, netflow9_test_h3c_netstream_varstring: 1, netflow9_test_huawei_netstream: 1, netflow9_test_invalid01: 2,
  netflow9_test_iptnetflow_reduced_size_encoding: 12, netflow9_test_juniper_srx: 0, netflow9_test_macaddr: 29, netflow9_test_nprobe: 2,
  netflow9_test_paloalto_81: 1, netflow9_test_paloalto_panos: 8, netflow9_test_softflowd: 7, netflow9_test_streamcore: 4,
  netflow9_test_ubnt_edgerouter: 16, netflow9_test_unknown: 2, netflow9_test_valid01: 7,
};

describe.skipIf(!samplesPresent())('NetFlow decoder on the logstash-codec-netflow samples', () => {
  it('decodes every packet without a throw; record counts and errors per spec', () => {
    const groups = loadSampleGroups();
    let datagrams = 0;
    const counts: Record<string, number> = {};
    const errors: Record<string, string[]> = {};
    for (const group of groups) {
      const r = decodeGroup(group.name);
      datagrams += r.datagrams;
      counts[group.name] = r.records.length;
      if (r.errors.length + r.expired.length > 0) errors[group.name] = [...r.errors, ...r.expired];
      for (const record of r.records) {
        expect(Number.isFinite(record.start_ms) && Number.isFinite(record.end_ms), group.name).toBe(true);
        expect(record.src_port).toBeLessThanOrEqual(65535);
        expect(JSON.parse(JSON.stringify(record))).toEqual(record);
      }
    }
    expect(datagrams).toBeGreaterThanOrEqual(90);
    expect(counts).toEqual(EXPECTED_RECORDS);
    expect(errors).toEqual({
      netflow5_test_invalid01: ['NETFLOW_MALFORMED'],
      netflow5_test_invalid02: ['NETFLOW_MALFORMED'],
      // Data sets 280 (netscaler) and 259/262 (ipt_NETFLOW) have no template in the capture.
      ipfix_test_netscaler: ['NETFLOW_TEMPLATE_MISSING'],
      netflow9_test_iptnetflow_reduced_size_encoding: ['NETFLOW_TEMPLATE_MISSING'],
    });
  });

  it('v5: the first record of netflow5.dat, verified by hand from the hex', () => {
    // Header: uptime 0x0d35 = 3381 ms, unix 0x55451990 s + 0x10b57740 ns = 1430591888280 ms.
    // Record: first 0xffffffff (-1 ms with the 32-bit wrap), last 0x0a11 = 2577 ms.
    const first = decodeGroup('netflow5').records[0];
    expect(first).toEqual({
      exporter: EXPORTER, observation_domain: 0, version: 5, template_id: 0,
      start_ms: 1430591888280 - 3381 - 1, end_ms: 1430591888280 - 3381 + 2577,
      src_ip: '10.0.2.2', dst_ip: '10.0.2.15', src_port: 54435, dst_port: 22, protocol: 6, bytes: 230, packets: 5, tcp_flags: 16,
      input_if: 0, output_if: 0,
      fields: { ipNextHopIPv4Address: '0.0.0.0', ipClassOfService: 0, bgpSourceAsNumber: 0, bgpDestinationAsNumber: 0, sourceIPv4PrefixLength: 0, destinationIPv4PrefixLength: 0 },
    });
  });

  it('v5: Juniper MX80 header sampling and AS numbers; Mikrotik ToS', () => {
    const mx80 = decodeGroup('netflow5_test_juniper_mx80').records[28];
    expect(mx80).toMatchObject({ src_ip: '66.249.92.75', dst_ip: '192.168.0.1', dst_port: 80, src_port: 37387, bytes: 104, packets: 2, input_if: 542, output_if: 536, sampling_interval: 1000 });
    expect(mx80?.fields).toMatchObject({ bgpSourceAsNumber: 15169, bgpDestinationAsNumber: 64496, sourceIPv4PrefixLength: 19, destinationIPv4PrefixLength: 24 });
    const mikrotik = decodeGroup('netflow5_test_microtik').records[29];
    expect(mikrotik).toMatchObject({ src_ip: '10.0.8.1', dst_ip: '192.168.0.1', src_port: 80, dst_port: 51826, bytes: 11442, packets: 13, tcp_flags: 82 });
    expect(mikrotik?.fields['ipClassOfService']).toBe(40);
  });

  it('v9: Cisco ASA NSEL (initiator octets, absolute start ms), ASR9k, Ubiquiti, NBAR MACs, zero-length fields', () => {
    const asa = decodeGroup('netflow9_test_cisco_asa_2').records[18];
    expect(asa).toMatchObject({ template_id: 263, src_ip: '192.168.0.1', dst_ip: '192.168.0.18', src_port: 56651, dst_port: 80, protocol: 6, bytes: 69, input_if: 3, output_if: 4, start_ms: 1469109036395 });
    expect(asa?.fields).toMatchObject({ flowId: 742820223, postNATSourceIPv4Address: '192.168.0.1', responderOctets: 14178, ciscoFwExtEvent: 2030, observationTimeMilliseconds: 1469109036495 });

    const asr = decodeGroup('netflow9_test_cisco_asr9k').records[20];
    expect(asr).toMatchObject({ observation_domain: 2177, src_ip: '10.0.29.46', dst_ip: '10.0.15.38', src_port: 443, dst_port: 52364, bytes: 112, packets: 2, tcp_flags: 18, input_if: 75, output_if: 158, direction: 'egress' });
    expect(asr?.fields).toMatchObject({ bgpSourceAsNumber: 15169, bgpDestinationAsNumber: 64498, egressVRFID: 1610612736, bgpNextHopIPv4Address: '10.0.14.27' });

    const ubnt = decodeGroup('netflow9_test_ubnt_edgerouter').records;
    expect(ubnt[0]?.src_ip).toBe('10.1.0.135');
    expect(ubnt[15]).toMatchObject({ template_id: 1025, src_ip: '192.168.1.102', dst_ip: '10.2.0.95', src_port: 47690, dst_port: 443, bytes: 3668, packets: 21, tcp_flags: 27, input_if: 2, output_if: 4 });

    const nbar = decodeGroup('netflow9_test_cisco_nbar').records[4];
    expect(nbar).toMatchObject({ src_ip: '10.10.172.60', dst_ip: '10.30.19.180', src_port: 45269, dst_port: 161, protocol: 17, bytes: 2794, packets: 36, direction: 'ingress' });
    expect(nbar?.fields).toMatchObject({ sourceMacAddress: '00:18:19:9e:6c:01', destinationMacAddress: '1c:df:0f:7e:c3:58' });

    // IN_BYTES 0 and OUT_BYTES 32: the non-zero counter is the flow's.
    const zero = decodeGroup('netflow9_test_0length_fields').records[9];
    expect(zero).toMatchObject({ src_ip: '192.168.1.33', dst_ip: '239.255.255.250', protocol: 2, bytes: 32, packets: 1, direction: 'egress' });
  });

  it('IPFIX: OpenBSD absolute ms, VMware IPv6 and enterprise fields, Netscaler variable-length enterprise strings', () => {
    const pflow = decodeGroup('ipfix_test_openbsd_pflow').records[25];
    expect(pflow).toMatchObject({ observation_domain: 42, src_ip: '192.168.0.1', dst_ip: '192.168.0.17', src_port: 80, dst_port: 64026, bytes: 6425, packets: 8, input_if: 1, output_if: 1 });
    expect(pflow?.start_ms).toBe(Date.parse('2016-07-21T13:29:59Z'));
    expect(pflow?.end_ms).toBe(Date.parse('2016-07-21T13:30:01Z'));

    const vds = decodeGroup('ipfix_test_vmware_vds').records;
    const v6 = vds.find((r) => r.src_ip?.includes(':'));
    expect(v6).toMatchObject({ src_ip: 'fe80::5187:5cd8:d750:cdc9', dst_ip: 'ff02::1:3', bytes: 144, dst_port: 5355, protocol: 17, direction: 'egress' });
    expect(v6?.fields).toMatchObject({ '6876.890': '0001', '6876.888': '0002' });

    const netscaler = decodeGroup('ipfix_test_netscaler').records;
    expect(netscaler.map((r) => r.template_id)).toEqual([258, 257, 258]);
    expect(netscaler[0]?.fields).toMatchObject({ flowId: 14460661, observationPointId: 167954698 });
    const values = Object.values(netscaler[2]?.fields ?? {});
    // Enterprise values stay hex, NUL terminator included (NetScaler sends C strings).
    expect(values).toContain(Buffer.from('www.kobo.com\0').toString('hex'));
    expect(values).toContain(Buffer.from('/aa/bb/ccccc/ddddddddddddddddddddddddd\0').toString('hex'));
    // The cookie is over 255 bytes (3-byte length prefix); values are bounded to 256 source bytes.
    expect(values.some((v) => typeof v === 'string' && v.startsWith(Buffer.from('beer=').toString('hex')) && v.length === 512)).toBe(true);
  });

  it('IPFIX: uptime-relative times from the options data system init time; sampling from options data', () => {
    const r = decodeGroup('ipfix');
    expect(r.options).toBe(1);
    expect(r.records[0]).toMatchObject({ src_ip: '192.168.253.1', dst_ip: '192.168.253.128', src_port: 60560, dst_port: 22, bytes: 260, packets: 5, start_ms: 1431516013506, end_ms: 1431516013506 + 12726, sampling_interval: 1 });
  });
});

describe('NetFlow decoder: templates', () => {
  const template = set(0, templateRecord(300, FLOW_FIELDS));
  const data = set(300, Buffer.concat([flowRow('10.0.0.1', '10.0.0.2', 1234, 80, 6, 1500, 3, 90_000, 95_000), flowRow('10.0.0.2', '10.0.0.1', 80, 1234, 6, 9000, 7, 90_500, 99_000)]));

  it('v9: converts uptime-relative times with the header (unix secs, sysUptime)', () => {
    const decoder = new NetflowDecoder();
    const out = decoder.decode(v9Packet([template, data], { uptimeMs: 100_000, unixSecs: 1_700_000_000 }), EXPORTER, T0);
    expect(out.errors).toEqual([]);
    expect(out.records).toHaveLength(2);
    expect(out.records[0]).toMatchObject({ version: 9, template_id: 300, src_ip: '10.0.0.1', dst_ip: '10.0.0.2', bytes: 1500, packets: 3, start_ms: T0 - 10_000, end_ms: T0 - 5_000 });
  });

  it('buffers data that arrives before its template and decodes it when the template comes', () => {
    const decoder = new NetflowDecoder({ pendingMaxAgeMs: 5_000 });
    const early = decoder.decode(v9Packet([data]), EXPORTER, T0);
    expect(early).toMatchObject({ records: [], errors: [], pending: 1 });
    expect(decoder.pendingCount).toBe(1);
    const later = decoder.decode(v9Packet([template]), EXPORTER, T0 + 1_000);
    expect(later.records.map((r) => r.bytes)).toEqual([1500, 9000]);
    expect(decoder.pendingCount).toBe(0);
  });

  it('keeps templates apart per exporter and source id', () => {
    const decoder = new NetflowDecoder();
    decoder.decode(v9Packet([template], { sourceId: 1 }), EXPORTER, T0);
    expect(decoder.decode(v9Packet([data], { sourceId: 2 }), EXPORTER, T0).pending).toBe(1);
    expect(decoder.decode(v9Packet([data], { sourceId: 1 }), '192.0.2.99', T0).pending).toBe(1);
    expect(decoder.decode(v9Packet([data], { sourceId: 1 }), EXPORTER, T0).records).toHaveLength(2);
  });

  it('gives up waiting data after the pending age with NETFLOW_TEMPLATE_MISSING and the original packet', () => {
    const decoder = new NetflowDecoder({ pendingMaxAgeMs: 5_000 });
    const packet = v9Packet([data, data]);
    decoder.decode(packet, EXPORTER, T0);
    expect(decoder.expire(T0 + 5_000)).toEqual([]);
    const expired = decoder.expire(T0 + 5_001);
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ exporter: EXPORTER, sets: 2, packet });
    expect(expired[0]?.error.code).toBe('NETFLOW_TEMPLATE_MISSING');
    // The template arriving later does not resurrect them.
    expect(decoder.decode(v9Packet([template]), EXPORTER, T0 + 6_000).records).toEqual([]);
  });

  it('bounds the pending buffer by count: the oldest set is given up first', () => {
    const decoder = new NetflowDecoder({ pendingMaxSets: 2 });
    const packets = [0, 1, 2].map(() => v9Packet([data]));
    const outs = packets.map((p) => decoder.decode(p, EXPORTER, T0));
    expect(outs[2]?.expired.map((e) => e.packet)).toEqual([packets[0]]);
    expect(decoder.pendingCount).toBe(2);
  });

  it('expires templates not re-sent within the TTL; a re-sent template is refreshed', () => {
    const decoder = new NetflowDecoder({ templateTtlMs: 60_000 });
    decoder.decode(v9Packet([template]), EXPORTER, T0);
    decoder.decode(v9Packet([template]), EXPORTER, T0 + 50_000); // refresh
    expect(decoder.decode(v9Packet([data]), EXPORTER, T0 + 100_000).records).toHaveLength(2);
    const stale = decoder.decode(v9Packet([data]), EXPORTER, T0 + 111_000);
    expect(stale).toMatchObject({ records: [], pending: 1 });
    expect(decoder.templateCount).toBe(0);
  });

  it('IPFIX: withdrawal (field count 0) forgets the template', () => {
    const decoder = new NetflowDecoder();
    const tpl = set(2, templateRecord(400, FLOW_FIELDS));
    const rows = set(400, flowRow('10.1.1.1', '10.1.1.2', 1, 2, 17, 10, 1, 0, 0));
    expect(decoder.decode(ipfixPacket([tpl, rows]), EXPORTER, T0).records).toHaveLength(1);
    decoder.decode(ipfixPacket([set(2, templateRecord(400, []))]), EXPORTER, T0);
    expect(decoder.decode(ipfixPacket([rows]), EXPORTER, T0)).toMatchObject({ records: [], pending: 1 });
  });

  it('IPFIX: enterprise fields, variable-length fields (1- and 3-byte lengths), absolute ms, options sampling', () => {
    const decoder = new NetflowDecoder({ maxFieldValueBytes: 1024 });
    const long = Buffer.alloc(300, 0x61);
    const tpl = set(2, templateRecord(500, [[8, 4], [12, 4], [4, 1], [152, 8], [153, 8], [1, 8], [7, 0xffff, 9], [82, 0xffff], [99, 0xffff, 29305], [302, 1]]));
    const options = set(3, ipfixOptionsTemplate(501, 1, [[302, 1], [305, 4]]));
    const optionsData = set(501, Buffer.concat([uint(7, 1), uint(64, 4)]));
    const row = Buffer.concat([ip('10.2.0.1'), ip('10.2.0.2'), uint(6, 1), uint(T0, 8), uint(T0 + 250, 8), uint(2 ** 40, 8), varField(Buffer.from('abc')), varField(Buffer.from('eth0\0')), varField(long), uint(7, 1)]);
    const out = decoder.decode(ipfixPacket([tpl, options, optionsData, set(500, row)], { domain: 5 }), EXPORTER, T0);
    expect(out.errors).toEqual([]);
    expect(out.optionsRecords).toBe(1);
    expect(out.records[0]).toMatchObject({ version: 10, observation_domain: 5, src_ip: '10.2.0.1', protocol: 6, start_ms: T0, end_ms: T0 + 250, bytes: 2 ** 40, sampling_interval: 64 });
    expect(out.records[0]?.fields).toEqual({ '9.7': '616263', interfaceName: 'eth0', '29305.99': long.toString('hex'), selectorId: 7 });
  });

  it('bounds the fields kept per record', () => {
    const decoder = new NetflowDecoder({ maxFieldsPerRecord: 3 });
    const fields = Array.from({ length: 10 }, (_, i) => [1000 + i, 1] as const);
    const out = decoder.decode(v9Packet([set(0, templateRecord(600, [[8, 4], ...fields])), set(600, Buffer.concat([ip('10.0.0.9'), Buffer.alloc(10, 1)]))]), EXPORTER, T0);
    expect(out.records[0]?.fields).toEqual({ '0.1000': '01', '0.1001': '01', '0.1002': '01', _truncated: 7 });
  });
});

describe('NetFlow decoder: malformed packets', () => {
  const codes = (packet: Buffer, decoder = new NetflowDecoder()): string[] => decoder.decode(packet, EXPORTER, T0).errors.map((e) => e.code);
  const tpl = set(0, templateRecord(300, FLOW_FIELDS));

  it('refuses short and unknown headers', () => {
    expect(codes(Buffer.alloc(0))).toEqual(['NETFLOW_MALFORMED']);
    expect(codes(Buffer.from([0, 5, 0, 1]))).toEqual(['NETFLOW_MALFORMED']);
    expect(codes(Buffer.from([0, 9, 0, 1, 0, 0]))).toEqual(['NETFLOW_MALFORMED']);
    expect(codes(Buffer.from([0, 10, 0, 16]))).toEqual(['NETFLOW_MALFORMED']);
    expect(codes(Buffer.from([0, 7, 0, 0, 0, 0]))).toEqual(['NETFLOW_VERSION_UNSUPPORTED']);
    expect(codes(Buffer.from([0x45, 0, 0, 0]))).toEqual(['NETFLOW_VERSION_UNSUPPORTED']);
  });

  it('refuses lengths that overrun the packet and sets shorter than their header', () => {
    const ipfix = ipfixPacket([set(2, templateRecord(400, FLOW_FIELDS))]);
    expect(codes(ipfix.subarray(0, ipfix.length - 4))).toEqual(['NETFLOW_MALFORMED']); // message length > datagram
    const overrun = v9Packet([tpl]);
    overrun.writeUInt16BE(500, 22);
    expect(codes(overrun)).toEqual(['NETFLOW_MALFORMED']);
    expect(codes(Buffer.concat([v9Packet([tpl]), Buffer.from([1, 0, 0, 2, 9, 9])]))).toEqual(['NETFLOW_MALFORMED']); // set length 2
    expect(codes(Buffer.concat([v9Packet([tpl]), Buffer.alloc(40)]))).toEqual([]); // zero fill is padding
    // A template announcing more fields than its set holds.
    const cut = set(0, Buffer.concat([templateRecord(301, FLOW_FIELDS).subarray(0, 4), Buffer.alloc(8)]));
    cut.writeUInt16BE(50, 6);
    expect(codes(v9Packet([cut]))).toEqual(['NETFLOW_MALFORMED']);
  });

  it('refuses templates that cannot describe a record', () => {
    expect(codes(v9Packet([set(0, templateRecord(300, []))]))).toEqual(['NETFLOW_TEMPLATE_INVALID']); // v9 field count 0
    expect(codes(v9Packet([set(0, templateRecord(300, [[8, 0], [12, 0]]))]))).toEqual(['NETFLOW_TEMPLATE_INVALID']); // zero record length
    expect(codes(v9Packet([set(0, templateRecord(255, FLOW_FIELDS))]))).toEqual(['NETFLOW_TEMPLATE_INVALID']); // id < 256
    expect(codes(ipfixPacket([set(3, ipfixOptionsTemplate(300, 0, [[302, 1]]))]))).toEqual(['NETFLOW_TEMPLATE_INVALID']); // scope count 0
    expect(codes(ipfixPacket([set(3, ipfixOptionsTemplate(300, 3, [[302, 1]]))]))).toEqual(['NETFLOW_TEMPLATE_INVALID']);
  });

  it('reports a variable-length record that overruns its set, keeping the records before it', () => {
    const decoder = new NetflowDecoder();
    const row = (s: string) => Buffer.concat([ip('10.0.0.1'), varField(Buffer.from(s))]);
    const bad = Buffer.concat([row('ok'), ip('10.0.0.2'), Buffer.from([200, 1, 2])]);
    const out = decoder.decode(ipfixPacket([set(2, templateRecord(700, [[8, 4], [82, 0xffff]])), set(700, bad, false)]), EXPORTER, T0);
    expect(out.records).toHaveLength(1);
    expect(out.errors.map((e) => e.code)).toEqual(['NETFLOW_MALFORMED']);
  });
});

/** A NetFlow v5 packet of the given records (48 bytes each, times as uptimes). */
function v5Packet(records: readonly { src: string; dst: string; sport: number; dport: number; proto: number }[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt16BE(5, 0);
  header.writeUInt16BE(records.length, 2);
  header.writeUInt32BE(100_000, 4);
  header.writeUInt32BE(1_700_000_000, 8);
  const body = records.map((r) => {
    const b = Buffer.alloc(48);
    ip(r.src).copy(b, 0);
    ip(r.dst).copy(b, 4);
    b.writeUInt32BE(1, 16);
    b.writeUInt32BE(84, 20);
    b.writeUInt32BE(90_000, 24);
    b.writeUInt32BE(95_000, 28);
    b.writeUInt16BE(r.sport, 32);
    b.writeUInt16BE(r.dport, 34);
    b[38] = r.proto;
    return b;
  });
  return Buffer.concat([header, ...body]);
}

describe('NetFlow decoder: ICMP type and code as the ports (as Zeek and Suricata write them, for Community ID)', () => {
  const ports = (records: readonly FlowRecord[]) => records.map((r) => [r.protocol, r.src_port, r.dst_port]);

  it('v5: type << 8 | code in the destination port (source port 0) becomes type and code; other protocols keep their ports', () => {
    const out = new NetflowDecoder().decode(
      v5Packet([
        { src: '10.0.0.5', dst: '8.8.8.8', sport: 0, dport: 0x0800, proto: 1 },
        { src: '8.8.8.8', dst: '10.0.0.5', sport: 0, dport: 0, proto: 1 },
        { src: '10.0.0.1', dst: '10.0.0.5', sport: 0, dport: 0x0303, proto: 1 },
        { src: '10.0.0.5', dst: '10.0.0.9', sport: 0, dport: 0x0800, proto: 6 },
        { src: '10.0.0.5', dst: '10.0.0.9', sport: 0, dport: 0x0800, proto: 17 },
      ]),
      EXPORTER,
      T0,
    );
    expect(out.errors).toEqual([]);
    expect(ports(out.records)).toEqual([[1, 8, 0], [1, 0, 0], [1, 3, 3], [6, 0, 0x0800], [17, 0, 0x0800]]);
  });

  it('v9/IPFIX: icmpTypeCode, or icmpType/icmpCode over ports that carry the ICMP identifier, or the destination-port convention', () => {
    const FIELDS: readonly FieldDef[] = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [176, 1], [177, 1]];
    const row = (sport: number, dport: number, proto: number, type: number, code: number) =>
      Buffer.concat([ip('10.0.0.5'), ip('10.0.0.9'), uint(sport, 2), uint(dport, 2), uint(proto, 1), uint(type, 1), uint(code, 1)]);
    const typeFields = new NetflowDecoder().decode(
      v9Packet([set(0, templateRecord(400, FIELDS)), set(400, Buffer.concat([row(17549, 0, 1, 8, 0), row(0, 17549, 1, 0, 0), row(0, 0, 1, 3, 3), row(443, 51000, 6, 0, 0)]))]),
      EXPORTER,
      T0,
    );
    expect(typeFields.errors).toEqual([]);
    expect(ports(typeFields.records)).toEqual([[1, 8, 0], [1, 0, 0], [1, 3, 3], [6, 443, 51000]]);
    // The exporter's own fields stay in `fields`.
    expect(typeFields.records[0]?.fields).toMatchObject({ icmpTypeIPv4: 8, icmpCodeIPv4: 0 });

    const typeCode = new NetflowDecoder().decode(
      ipfixPacket([set(2, templateRecord(401, [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [139, 2]])), set(401, Buffer.concat([ip('10.0.0.5'), ip('10.0.0.9'), uint(0, 2), uint(0, 2), uint(58, 1), uint(0x8700, 2)]))]),
      EXPORTER,
      T0,
    );
    expect(ports(typeCode.records)).toEqual([[58, 135, 0]]);

    const portsOnly = new NetflowDecoder().decode(v9Packet([set(0, templateRecord(402, FLOW_FIELDS)), set(402, flowRow('10.0.0.5', '10.0.0.9', 0, 0x8600, 58, 64, 1, 90_000, 95_000))]), EXPORTER, T0);
    expect(ports(portsOnly.records)).toEqual([[58, 134, 0]]);
  });

  it.skipIf(!samplesPresent())('on the samples: Cisco NBAR echo requests, softflowd router advertisements, ASA NSEL echo and unreachable', () => {
    const icmp = (name: string) => ports(decodeGroup(name).records.filter((r) => r.protocol === 1 || r.protocol === 58));
    expect(icmp('netflow9_test_cisco_nbar')).toEqual([[1, 8, 0], [1, 8, 0]]);
    expect(icmp('netflow9_test_softflowd')).toEqual([[58, 134, 0]]);
    const asa = icmp('netflow9_test_cisco_asa_1');
    expect(asa.length).toBeGreaterThan(10);
    expect(new Set(asa.map((p) => p.join('/')))).toEqual(new Set(['1/8/0', '1/0/0', '1/3/3']));
  });
});
