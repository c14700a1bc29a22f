/**
 * Codec benchmark: Avro single-object encode/decode of normalized events (`EventCodec`) against
 * JSON.stringify/JSON.parse of the same objects, in the same rounds.
 */
import { EventCodec, type MamoriEvent } from '@mamori/events';
import { compare, fmtRate, fmtRatio, type CompareOptions } from './measure.ts';
import { normalizeLines, simulatedLines } from './inputs.ts';

export interface CodecBenchOptions extends CompareOptions {
  /** Events per round. @default 20000 */
  events?: number;
}

export function benchCodec(options: CodecBenchOptions = {}): string {
  const events: MamoriEvent[] = normalizeLines(simulatedLines(options.events ?? 20_000));
  const codec = new EventCodec();
  const avro = events.map((e) => codec.encode(e));
  const json = events.map((e) => JSON.stringify(e));
  const n = events.length;
  const avg = (xs: readonly { length: number }[]): number => xs.reduce((s, x) => s + x.length, 0) / xs.length;
  const avroBytes = avg(avro);
  const jsonBytes = avg(json.map((s) => Buffer.from(s)));

  const r = compare(
    [
      { name: 'avro-encode', ops: n, run: () => events.reduce((s, e) => s + codec.encode(e).length, 0) },
      { name: 'json-stringify', ops: n, run: () => events.reduce((s, e) => s + JSON.stringify(e).length, 0) },
      // Bytes in, as the events topic delivers them: JSON pays the UTF-8 decode too.
      { name: 'avro-decode', ops: n, run: () => avro.reduce((s, b) => s + codec.decode(b).time, 0) },
      { name: 'json-parse', ops: n, run: () => json.reduce((s, t) => s + (JSON.parse(t) as MamoriEvent).time, 0) },
    ],
    options,
  );
  const row = (name: string, label: string, vs: string): string => {
    const c = r.results.find((x) => x.name === name)!;
    const ratio = name === vs ? '1.00x' : fmtRatio(r.costRatio(vs, name));
    return `| ${label} | ${fmtRate(c.cpuRate)} | ${fmtRate(c.wallRate)} | ${ratio} |`;
  };
  return [
    `${n.toLocaleString('en-US')} normalized events from simulated Zeek conn lines; average size ${Math.round(avroBytes)} bytes Avro (single-object encoding, 10-byte header included) vs ${Math.round(jsonBytes)} bytes JSON.`,
    '',
    '| Operation | Events per CPU-second | Events/s (wall) | Speed vs JSON (JSON CPU time / this) |',
    '| --- | ---: | ---: | ---: |',
    row('avro-encode', 'Avro encode (`EventCodec.encode`)', 'json-stringify'),
    row('json-stringify', 'JSON.stringify', 'json-stringify'),
    row('avro-decode', 'Avro decode (`EventCodec.decode`)', 'json-parse'),
    row('json-parse', 'JSON.parse (from string)', 'json-parse'),
  ].join('\n');
}
