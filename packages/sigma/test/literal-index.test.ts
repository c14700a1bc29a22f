import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { MamoriEvent } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { loadRuleDirectory } from '../src/index.ts';
// The sensor formats, used as the pipeline uses them (a test may reach into a service).
import { formatForTopic, normalizeRecord } from '../../../services/normalizer/src/normalize.ts';
import { evtxToFlat, parseConcatenatedJson } from './evtx-json.ts';

const DATA = new URL('../../../../shared/data/', import.meta.url).pathname;
const RULE_DIRS = ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].map((d) => join(DATA, 'sigma', d));
const present = RULE_DIRS.every((d) => existsSync(d)) && existsSync(join(DATA, 'windows/otrf'));

function normalize(topic: string, lines: Iterable<string>, every: number): MamoriEvent[] {
  const format = formatForTopic(topic);
  if (!format) throw new Error(`no format for ${topic}`);
  const out: MamoriEvent[] = [];
  let i = 0;
  for (const line of lines) {
    if (line.trim() === '' || i++ % every !== 0) continue;
    out.push(...normalizeRecord(format, Buffer.from(line), { topic, partition: 0, offset: i, sensorId: 's', orgId: 'o', ingestTime: 0 }).events);
  }
  return out;
}

function gzLines(path: string): string[] {
  return gunzipSync(readFileSync(path)).toString('utf8').split('\n');
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/**
 * The literal index (per-field Aho-Corasick, keyword texts, conjunctions of literals, RE2 prefilter
 * literals, on-the-fly case folding) must never change what fires: for every event, the rules that
 * fire with the index are exactly those that fire when every rule routed to the event is evaluated
 * (brute force). Run over all compiled SigmaHQ rules and three kinds of events: the OTRF Windows
 * simulations (every third event), the Zeek logs of the WRCCDC capture (every fourth) and the SigmaHQ regression
 * records (events written to make rules fire, so the positive side is exercised too).
 */
describe.skipIf(!present)('literal index against brute force over all SigmaHQ rules', () => {
  it('fires exactly the rules that evaluating every routed rule fires', () => {
    const loaded = loadRuleDirectory(RULE_DIRS);
    expect(loaded.rules.length).toBeGreaterThanOrEqual(3000);
    const events: MamoriEvent[] = [];
    for (const kind of ['execution', 'discovery', 'persistence']) {
      const dir = join(DATA, 'windows/otrf', kind);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.ndjson.gz'))) events.push(...normalize('telemetry.raw.windows.event', gzLines(join(dir, f)), 3));
    }
    const windows = events.length;
    const zeekDir = join(DATA, 'zeek/wrccdc-2018/zeek-json');
    for (const log of ['dns', 'http', 'ssl', 'conn', 'smb_files', 'kerberos', 'rdp', 'dce_rpc']) {
      const p = join(zeekDir, `${log}.json.gz`);
      if (existsSync(p)) events.push(...normalize(`telemetry.raw.zeek.${log}`, gzLines(p), 4));
    }
    const regression = join(DATA, 'sigma/regression_data');
    if (existsSync(regression)) {
      for (const file of walk(regression).filter((p) => p.endsWith('.json'))) {
        const lines = parseConcatenatedJson(readFileSync(file, 'utf8')).map((raw) => JSON.stringify(evtxToFlat(raw)));
        events.push(...normalize('telemetry.raw.windows.event', lines, 1));
      }
    }
    expect(windows).toBeGreaterThan(10_000);
    expect(events.length - windows).toBeGreaterThan(5_000);

    const rs = loaded.ruleSet;
    rs.resetStats();
    const differences: string[] = [];
    let fired = 0;
    for (const [i, e] of events.entries()) {
      const indexed = rs.match(e).map((m) => m.rule.id);
      const brute = rs.matchUnindexed(e).map((r) => r.id);
      fired += indexed.length;
      if (JSON.stringify(indexed) !== JSON.stringify(brute)) differences.push(`event ${i} (${e.source_format}): indexed [${indexed.join(', ')}] vs all routed [${brute.join(', ')}]`);
    }
    const stats = rs.stats();
    console.log(`${events.length} events, ${fired} rule hits, ${(stats.evaluated / stats.events).toFixed(2)} of ${stats.rules} rules evaluated per event with the index`);
    expect(differences.slice(0, 20)).toEqual([]);
    // The comparison means something only if rules fire and the index prunes.
    expect(fired).toBeGreaterThan(500);
    expect(stats.evaluated / stats.events).toBeLessThan(10);
  }, 240_000);
});
