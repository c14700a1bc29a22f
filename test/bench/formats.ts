/**
 * A benchmark per registered format: real sample input from the shared data directory (synthetic
 * lines where there is none), decode + normalize + Avro encode per event, with JSON.parse of the
 * same lines as the same-run baseline when the input is JSON. One Kafka record per JSON/text line,
 * as ingest ships them; Zeek TSV logs as records of their header plus 100 data lines.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EventCodec } from '@mamori/events';
import { EventEncoder, FORMATS, normalizeRecord, type DecodeContext, type SensorFormat } from '@mamori/normalizer';
import { NetflowDecoder } from '../../services/ingest/src/netflow/index.ts';
import { loadSampleGroups, samplesPresent } from '../../services/ingest/src/netflow/samples.ts';
import { realConnLines, recordSource, stageRecordNormalizer } from './inputs.ts';
import { compare, fmtRate, fmtRatio } from './measure.ts';
import { NORMALIZE_TARGET_PER_CORE, NORMALIZE_TARGET_RATIO } from './normalizer.ts';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const WRCCDC = path.join(DATA, 'zeek/wrccdc-2018');

/** Distinct lines per input (the rest of a round repeats them). */
const MAX_DISTINCT = 5_000;
/** Events per measured run, roughly: enough to time, small enough for the whole section to take about two minutes. */
const EVENTS_PER_RUN = 6_000;

interface Input {
  format: SensorFormat;
  /** What the lines are and where they came from. */
  label: string;
  /** One Kafka record each. */
  records: string[];
  /** JSON lines: JSON.parse of each record is the baseline. */
  json: boolean;
}

function readMaybeGz(file: string): string {
  const raw = readFileSync(file);
  return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
}

function nonBlank(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '').slice(0, MAX_DISTINCT);
}

/** A Zeek TSV log as records of its header lines plus `per` data lines each. */
function tsvRecords(text: string, per = 100): string[] {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = lines.filter((l) => l.startsWith('#') && !l.startsWith('#close')).join('\n');
  const data = lines.filter((l) => !l.startsWith('#')).slice(0, MAX_DISTINCT);
  const out: string[] = [];
  for (let i = 0; i < data.length; i += per) out.push(`${header}\n${data.slice(i, i + per).join('\n')}\n`);
  return out;
}

function parsesAsJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

const FACILITY = ['KERN', 'USER', 'MAIL', 'DAEMON', 'AUTH', 'SYSLOG', 'LPR', 'NEWS', 'UUCP', 'CRON', 'AUTHPRIV', 'FTP', 'NTP', 'AUDIT', 'ALERT', 'CLOCK', 'LOCAL0', 'LOCAL1', 'LOCAL2', 'LOCAL3', 'LOCAL4', 'LOCAL5', 'LOCAL6', 'LOCAL7'];
const SEVERITY = ['EMERG', 'ALERT', 'CRIT', 'ERR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];

function syntheticSyslog3164(n: number): string[] {
  const hosts = ['fw01', 'web-3', 'dc1.corp.example', 'vpn-gw'];
  const apps = ['sshd[2211]', 'sudo', 'kernel', 'CRON[881]'];
  const msgs = ['Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2', 'Accepted publickey for deploy from 10.0.4.2 port 40022 ssh2', 'session opened for user root by (uid=0)', 'UFW BLOCK IN=eth0 SRC=198.51.100.4 DST=10.0.0.5 PROTO=TCP SPT=4431 DPT=23'];
  return Array.from({ length: n }, (_, i) => `<${(i * 7) % 192}>Mar ${String(1 + (i % 28)).padStart(2, ' ')} 12:${String(i % 60).padStart(2, '0')}:0${i % 10} ${hosts[i % 4]} ${apps[i % 4]}: ${msgs[(i >> 2) % 4]} #${i}`);
}

function syntheticCef(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) =>
      `CEF:0|Example|NGFW|7.1|${1000 + (i % 50)}|Blocked connection|${i % 11}|rt=${1_700_000_000_000 + i * 1000} src=10.${i % 256}.0.${(i * 7) % 256} spt=${1024 + (i % 60000)} dst=198.51.100.${i % 200} dpt=${[22, 80, 443, 445][i % 4]} proto=TCP act=blocked cs1Label=Rule Name cs1=deny-inbound-${i % 9} msg=Connection from a listed address\\=yes suser=user${i % 30}`,
  );
}

function netflowLines(): string[] {
  if (!samplesPresent()) return [];
  const lines: string[] = [];
  for (const group of loadSampleGroups()) {
    const decoder = new NetflowDecoder();
    for (const { datagrams } of group.files) {
      for (const packet of datagrams) for (const record of decoder.decode(packet, '192.0.2.1', 1_700_000_000_000).records) lines.push(JSON.stringify(record));
    }
  }
  return lines.slice(0, MAX_DISTINCT);
}

function firstTsvConnLog(): string | undefined {
  for (const dir of ['zeek/stratosphere', 'zeek/slips']) {
    const root = path.join(DATA, dir);
    if (!existsSync(root)) continue;
    for (const sub of readdirSync(root).sort()) {
      const file = path.join(root, sub, 'conn.log');
      if (existsSync(file) && readFileSync(file).subarray(0, 1).toString() === '#') return file;
    }
  }
  return undefined;
}

/** The first `<log>.log[.gz]` under the Zeek samples (sorted walk) whose text starts with `first`. */
function otherZeekLog(log: string, first: string): string | undefined {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === `${log}.log` || e.name === `${log}.log.gz`) found.push(p);
    }
  };
  walk(path.join(DATA, 'zeek'));
  // Samples kept on purpose as broken or odd (truncated, unknown fields) are not representative.
  return found.sort().find((f) => !/truncated|unknown|invalid|bad/.test(f) && readMaybeGz(f).startsWith(first));
}

/** Every input found for `format`; a format with no sample yields none. */
function inputsFor(format: SensorFormat): Input[] {
  const out: Input[] = [];
  const add = (label: string, records: string[], json: boolean): void => {
    const kept = json ? records.filter(parsesAsJson) : records;
    if (kept.length > 0) out.push({ format, label, records: kept, json });
  };
  if (format.id === 'zeek.conn') {
    const real = existsSync(path.join(DATA, 'zeek')) ? realConnLines() : undefined;
    if (real) add(`JSON, real conn lines (${real.lines.length.toLocaleString('en-US')})`, real.lines.slice(0, MAX_DISTINCT), true);
    const tsv = firstTsvConnLog();
    if (tsv) add(`TSV, ${path.relative(DATA, tsv)}`, tsvRecords(readFileSync(tsv, 'utf8')), false);
  } else if (format.id.startsWith('zeek.')) {
    const log = format.id.slice('zeek.'.length);
    const json = path.join(WRCCDC, 'zeek-json', `${log}.json.gz`);
    const tsv = path.join(WRCCDC, 'zeek-default', `${log}.log.gz`);
    if (existsSync(json)) add('JSON, WRCCDC 2018', nonBlank(readMaybeGz(json)), true);
    else {
      const other = otherZeekLog(log, '{');
      if (other) add(`JSON, ${path.relative(DATA, other)}`, nonBlank(readMaybeGz(other)), true);
    }
    if (existsSync(tsv)) add('TSV, WRCCDC 2018', tsvRecords(readMaybeGz(tsv)), false);
    else {
      const other = otherZeekLog(log, '#');
      if (other) add(`TSV, ${path.relative(DATA, other)}`, tsvRecords(readMaybeGz(other)), false);
    }
  } else if (format.id === 'suricata.eve') {
    const file = path.join(DATA, 'suricata/slips-test6-malicious.eve.json');
    if (existsSync(file)) add('EVE JSON, slips test6', nonBlank(readFileSync(file, 'utf8')), true);
  } else if (format.id === 'windows.event') {
    const root = path.join(DATA, 'windows/otrf');
    if (existsSync(root)) {
      const lines: string[] = [];
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.name.endsWith('.ndjson.gz') && lines.length < MAX_DISTINCT) lines.push(...nonBlank(readMaybeGz(p)));
        }
      };
      walk(root);
      add('OTRF NDJSON (gz)', lines.slice(0, MAX_DISTINCT), true);
    }
  } else if (format.id === 'netflow.flow') {
    add('flow JSON, decoded from the NetFlow/IPFIX sample packets', netflowLines(), true);
  } else if (format.id === 'syslog') {
    const zeekSyslog = path.join(WRCCDC, 'zeek-json/syslog.json.gz');
    if (existsSync(zeekSyslog)) {
      const lines = nonBlank(readMaybeGz(zeekSyslog)).map((l) => {
        const r = JSON.parse(l) as { facility?: string; severity?: string; message?: string };
        const pri = Math.max(0, FACILITY.indexOf(r.facility ?? '')) * 8 + Math.max(0, SEVERITY.indexOf(r.severity ?? ''));
        return `<${pri}>${r.message ?? ''}`;
      });
      add('RFC 5424, WRCCDC 2018 (Zeek syslog.log messages with their PRI)', lines, false);
    }
    add('RFC 3164, synthetic', syntheticSyslog3164(2_000), false);
  } else if (format.id === 'cef') {
    add('synthetic', syntheticCef(2_000), false);
  }
  return out;
}

interface Row {
  input: Input;
  events: number;
  errors: number;
  parse?: number;
  normalize: number;
  full: number;
  normalizeRatio?: number;
  fullRatio?: number;
}

function ctxFor(format: SensorFormat, offset: number): DecodeContext {
  return { topic: format.topics[0] ?? 'bench', partition: 0, offset, sensorId: 'bench-sensor', orgId: 'default', ingestTime: 1_700_000_000_000 };
}

function benchInput(input: Input, codec: EventCodec): Row {
  const { format } = input;
  const encoder = new EventEncoder(codec);
  // What the stage runs per record in the default deployment (no inventory: Community ID, no GeoIP).
  const stage = stageRecordNormalizer();
  const topic = format.topics[0] ?? 'bench';
  const distinct = input.records.map((r) => Buffer.from(r));
  let events = 0;
  let errors = 0;
  for (let i = 0; i < distinct.length; i++) {
    const r = normalizeRecord(format, distinct[i]!, ctxFor(format, i));
    events += r.events.length;
    errors += r.errors.length;
  }
  // Repeat the distinct records to about EVENTS_PER_RUN events (at least once through).
  const perRecord = Math.max(events / distinct.length, 1e-9);
  const n = Math.max(distinct.length, Math.ceil(EVENTS_PER_RUN / perRecord));
  const records = Array.from({ length: n }, (_, i) => distinct[i % distinct.length]!);
  const ops = Math.max(1, Math.round(events * (n / distinct.length)));
  const cases = [
    {
      name: 'normalize',
      ops,
      run: () => {
        let s = 0;
        for (let i = 0; i < n; i++) s += normalizeRecord(format, records[i]!, ctxFor(format, i)).events.length;
        return s;
      },
    },
    {
      name: 'full',
      ops,
      run: () => {
        let s = 0;
        // The stage's path: sensor check, decode (the format's fused path where it has one and takes the record), enrichment, encode.
        for (let i = 0; i < n; i++) for (const e of stage.normalizeEncoded(format, records[i]!, recordSource(topic, i), encoder).events) s += e.value.length;
        return s;
      },
    },
  ];
  if (input.json) {
    cases.push({
      name: 'parse',
      ops,
      run: () => {
        let s = 0;
        for (let i = 0; i < n; i++) s += JSON.parse(records[i]!.toString('utf8')) === null ? 0 : 1;
        return s;
      },
    });
  }
  const r = compare(cases, { warmup: 1, rounds: 5 });
  const rate = (name: string): number => r.results.find((x) => x.name === name)!.cpuRate;
  return {
    input,
    events,
    errors,
    normalize: rate('normalize'),
    full: rate('full'),
    ...(input.json ? { parse: rate('parse'), normalizeRatio: r.costRatio('normalize', 'parse'), fullRatio: r.costRatio('full', 'parse') } : {}),
  };
}

export function benchFormats(): string {
  if (!existsSync(DATA)) return 'The shared data directory (`../shared/data`) is absent: no per-format figures.';
  const codec = new EventCodec();
  const rows: Row[] = [];
  const missing: string[] = [];
  for (const format of FORMATS) {
    const inputs = inputsFor(format);
    if (inputs.length === 0) missing.push(format.id);
    for (const input of inputs) rows.push(benchInput(input, codec));
  }
  const out: string[] = [
    'Per registered format, on sample input from the shared data directory (synthetic where noted). One Kafka record per line (Zeek TSV: header + 100 data lines per record), ' +
      `up to ${MAX_DISTINCT.toLocaleString('en-US')} distinct records repeated to about ${EVENTS_PER_RUN.toLocaleString('en-US')} events per run; 1 warm-up and 5 measured rounds, cases interleaved, medians. ` +
      'Rates are events produced per CPU-second; the JSON.parse baseline parses the same lines and is counted per the same events, so the ratio columns are CPU cost of the same input. ' +
      'Normalize: `normalizeRecord(format, bytes, ctx)`; full: what the stage runs per record in the default deployment, `RecordNormalizer.normalizeEncoded` as `NormalizerStage` builds it (sensor check, normalize or the format\'s fused path where it has one and takes the record: Zeek conn one-line JSON, enrichment without inventory or GeoIP: Community ID with the default seed, then `EventCodec.encode` of every event).',
    '',
    '| Format | Input | Events (errors) | JSON.parse only | Normalize | Full (+ enrich + Avro encode) | Normalize vs JSON.parse | Full vs JSON.parse |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    out.push(
      `| ${row.input.format.id} | ${row.input.label} | ${row.events.toLocaleString('en-US')} (${row.errors}) | ${row.parse === undefined ? '—' : fmtRate(row.parse)} | ${fmtRate(row.normalize)} | **${fmtRate(row.full)}** | ` +
        `${row.normalizeRatio === undefined ? '—' : fmtRatio(row.normalizeRatio)} | ${row.fullRatio === undefined ? '—' : fmtRatio(row.fullRatio)} |`,
    );
  }
  out.push('');
  if (missing.length > 0) out.push(`No sample input for: ${missing.join(', ')}.`, '');
  const conn = rows.find((r) => r.input.format.id === 'zeek.conn' && r.input.json);
  if (conn && conn.normalizeRatio !== undefined && conn.fullRatio !== undefined) {
    const verdict = (rate: number, ratio: number): string =>
      `${rate >= NORMALIZE_TARGET_PER_CORE ? 'met' : 'NOT met'} on rate (${fmtRate(rate)}), ${ratio <= NORMALIZE_TARGET_RATIO ? 'met' : 'NOT met'} on ratio (${fmtRatio(ratio)})`;
    out.push(
      `Target (Zeek conn JSON ≥${fmtRate(NORMALIZE_TARGET_PER_CORE)} events/s per core, within ${NORMALIZE_TARGET_RATIO}x of JSON.parse): normalize ${verdict(conn.normalize, conn.normalizeRatio)}; ` +
        `as the stage runs it (normalize + Community ID + Avro encode, default deployment) ${verdict(conn.full, conn.fullRatio)}.`,
    );
  }
  return out.join('\n');
}
