import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EventCodec, withEventDefaults } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import type { DecodeContext } from '../types.ts';
import { zeekConnFormat } from './index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DATA = fileURLToPath(new URL('../../../../../../shared/data/zeek/', import.meta.url));

const ctx: DecodeContext = {
  topic: 'telemetry.raw.zeek.conn',
  partition: 2,
  offset: 1234,
  sensorId: 'zeek-lab-1',
  orgId: 'org-test',
  ingestTime: 1_710_000_000_000,
};

describe('zeek.conn golden fixtures', () => {
  const inputs = readdirSync(FIXTURES).filter((f) => f.endsWith('.input'));
  it('has fixtures', () => expect(inputs.length).toBeGreaterThanOrEqual(4));

  for (const input of inputs) {
    it(input, () => {
      const result = zeekConnFormat.decode(readFileSync(join(FIXTURES, input)), ctx);
      const actual = {
        events: result.events,
        errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })),
      };
      const expectedPath = join(FIXTURES, input.replace(/\.input$/, '.expected.json'));
      // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }

  it('gives each NDJSON line its own deterministic event_id', () => {
    const bytes = readFileSync(join(FIXTURES, 'dotted-epoch-ndjson.input'));
    const a = zeekConnFormat.decode(bytes, ctx).events.map((e) => e.event_id);
    expect(new Set(a).size).toBe(2);
    expect(zeekConnFormat.decode(bytes, ctx).events.map((e) => e.event_id)).toEqual(a);
    expect(zeekConnFormat.decode(bytes, { ...ctx, offset: 1235 }).events.map((e) => e.event_id)).not.toEqual(a);
  });

  it('produces events the Avro codec accepts', () => {
    const codec = new EventCodec();
    for (const input of inputs) {
      for (const event of zeekConnFormat.decode(readFileSync(join(FIXTURES, input)), ctx).events) {
        expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
      }
    }
  });
});

/** Every Zeek conn log written as JSON in the shared data (plain or gzip), found by content. */
function realConnJsonLogs(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/^conn[^/]*\.(log|json)(\.gz)?$/.test(entry.name) && !path.includes('/truncated/')) {
        const head = readLog(path).subarray(0, 1).toString();
        if (head === '{') found.push(path);
      }
    }
  };
  walk(DATA);
  return found.sort();
}

function readLog(path: string): Buffer {
  const raw = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(raw) : raw;
}

describe.skipIf(!existsSync(DATA))('zeek.conn on real sensor data (../shared/data/zeek)', () => {
  it('finds the conn JSON logs', () => {
    if (!existsSync(DATA)) console.warn(`skipped: ${DATA} is absent`);
    expect(realConnJsonLogs().length).toBeGreaterThanOrEqual(5);
  });

  it('normalizes every record of every conn JSON log without a single error', () => {
    const codec = new EventCodec();
    let total = 0;
    for (const path of realConnJsonLogs()) {
      const lines = readLog(path).toString('utf8').split('\n').filter((l) => l.trim() !== '');
      lines.forEach((line, i) => {
        const result = zeekConnFormat.decode(Buffer.from(line), { ...ctx, offset: i });
        expect(result.errors.map((e) => `${path}:${i + 1} ${e.message}`)).toEqual([]);
        expect(result.events).toHaveLength(1);
        const event = result.events[0]!;
        const source = JSON.parse(line) as Record<string, unknown>;
        expect(event.src_ip).toBe(source['id.orig_h']);
        expect(event.dst_port).toBe(source['id.resp_p']);
        expect(event.bytes_out).toBe(source['orig_bytes'] ?? 0);
        codec.encode(event);
      });
      // The whole file as one NDJSON record gives the same events, one per line.
      const whole = zeekConnFormat.decode(readLog(path), ctx);
      expect(whole.errors).toEqual([]);
      expect(whole.events).toHaveLength(lines.length);
      total += lines.length;
    }
    expect(total).toBeGreaterThan(5000);
  });

  it('reports the deliberately broken rita/truncated/conn_json.log line by line', () => {
    const path = join(DATA, 'rita/truncated/conn_json.log');
    if (!existsSync(path)) return;
    const result = zeekConnFormat.decode(readFileSync(path), ctx);
    // Two good lines; line 3 has source port 93145; line 4 is cut off mid-object.
    expect(result.events).toHaveLength(2);
    expect(result.errors.map((e) => [e.code, e.line, e.field])).toEqual([
      ['FIELD_INVALID', 2, 'id.orig_p'],
      ['PARSE_FAILED', 3, undefined],
    ]);
  });
});
