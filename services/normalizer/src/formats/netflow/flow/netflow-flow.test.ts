import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventCodec, withEventDefaults } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import type { DecodeContext } from '../../types.ts';
import { protocolOfNumber } from '../../protocol.ts';
import { netflowFlowFormat } from '../index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

const ctx: DecodeContext = {
  topic: 'telemetry.raw.netflow.flow',
  partition: 0,
  offset: 7,
  sensorId: 'netflow:192.0.2.10',
  orgId: 'org-test',
  ingestTime: 1_710_000_000_000,
};

const inputs = readdirSync(FIXTURES).filter((f) => f.endsWith('.input'));

describe('netflow.flow golden fixtures', () => {
  for (const input of inputs) {
    it(input, () => {
      const result = netflowFlowFormat.decode(readFileSync(join(FIXTURES, input)), ctx);
      const actual = { events: result.events, errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })) };
      const expectedPath = join(FIXTURES, input.replace(/\.input$/, '.expected.json'));
      // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }

  it('produces events the Avro codec accepts', () => {
    const codec = new EventCodec();
    for (const input of inputs) {
      for (const event of netflowFlowFormat.decode(readFileSync(join(FIXTURES, input)), ctx).events) {
        expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
      }
    }
  });
});

describe('netflow.flow details', () => {
  it('maps one record to one direction: bytes and packets out, duration from start/end', () => {
    const line = JSON.stringify({ exporter: '10.0.0.254', observation_domain: 0, version: 10, template_id: 256, start_ms: 1000, end_ms: 4500, src_ip: '2001:db8::1', dst_ip: '2001:db8::2', src_port: 5353, dst_port: 53, protocol: 17, bytes: 300, packets: 2, tcp_flags: 0, input_if: 1, output_if: 2, direction: 'ingress', fields: { vlanId: 10 } });
    const [event] = netflowFlowFormat.decode(Buffer.from(line), ctx).events;
    expect(event).toMatchObject({ time: 1000, duration_ms: 3500, protocol: 'udp', bytes_out: 300, bytes_in: 0, packets_out: 2, packets_in: 0, src_port: 5353, source_format: 'netflow.flow' });
    expect(event?.attributes).toMatchObject({ exporter: '10.0.0.254', template_id: '256', input_if: '1', output_if: '2', flow_direction: 'ingress', 'netflow.vlanId': '10' });
  });

  it('names protocol numbers by their IANA keyword; numbers without one as text', () => {
    expect([1, 6, 17, 58, 47, 132, 200].map(protocolOfNumber)).toEqual(['icmp', 'tcp', 'udp', 'ipv6-icmp', 'gre', 'sctp', '200']);
  });

  it('sniffs collector lines and nothing else', () => {
    const sniff = netflowFlowFormat.sniff as (head: string) => number;
    expect(sniff(readFileSync(join(FIXTURES, 'v5-softflowd.input'), 'utf8'))).toBe(1);
    expect(sniff('{"ts":1.5,"id.orig_h":"10.0.0.1","proto":"tcp"}\n')).toBe(0);
    expect(sniff('{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","src_ip":"10.0.0.1"}\n')).toBe(0);
    expect(sniff('<34>Oct 11 22:14:15 host su: hi\n')).toBe(0);
  });
});
