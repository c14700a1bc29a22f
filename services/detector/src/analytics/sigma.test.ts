import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MamoriEvent } from '@mamori/events';
import { afterEach, describe, expect, it } from 'vitest';
import { attackFromTags, DEFAULT_SIGMA_ANALYTIC_CONFIG, entityOf, SigmaAnalytic, SigmaRulePacks, type RulePackReport } from './sigma.ts';

const RULE = `title: Whoami
id: 11111111-2222-3333-4444-555555555555
status: stable
level: high
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  s:
    CommandLine|contains: whoami
  condition: s
`;

function event(time: number, cmd = 'whoami /all', user: string | null = 'CORP\\alice'): MamoriEvent {
  return {
    event_id: `e${time}`, event_class: 'process_activity', time, ingest_time: 0, org_id: 'org', sensor_id: 's', source_format: 'windows.event',
    src_ip: '', src_port: 0, dst_ip: '', dst_port: 0, protocol: '', bytes_out: 0, bytes_in: 0, packets_out: 0, packets_in: 0, duration_ms: 0,
    conn_state: null, community_id: null, raw: { topic: 'telemetry.events', partition: 0, offset: time }, host: 'ws1', user,
    attributes: { EventID: '1', Channel: 'Microsoft-Windows-Sysmon/Operational' },
    process: { pid: 1, name: 'whoami.exe', path: 'C:\\Windows\\System32\\whoami.exe', command_line: cmd, guid: null, user, integrity_level: null, hashes: {}, parent_pid: null, parent_name: null, parent_path: null, parent_command_line: null, parent_guid: null },
  };
}

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function packs(files: Record<string, string>, onReport?: (r: RulePackReport) => void): SigmaRulePacks {
  dir = mkdtempSync(join(tmpdir(), 'sigma-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return new SigmaRulePacks([dir], onReport);
}

describe('SigmaAnalytic', () => {
  it('turns a match into a detection with severity, ATT&CK, checksum and matched fields', () => {
    const p = packs({ 'whoami.yml': RULE });
    const a = new SigmaAnalytic(p);
    const [d] = a.observe(event(1000));
    expect(d).toMatchObject({
      rule_id: 'sigma:11111111-2222-3333-4444-555555555555', title: 'Whoami', severity: 'high', tactics: ['TA0007'], techniques: ['T1033'],
      entity: { type: 'user', value: 'CORP\\alice' }, count: 1, ruleset_checksum: p.checksum,
      attributes: expect.objectContaining({ 'matched.CommandLine': 'whoami /all', matched_fields: 'CommandLine', sigma_level: 'high' }),
    });
    expect(p.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(a.observe(event(2000, 'dir'))).toEqual([]);
  });

  it('suppresses repeats of the same rule and entity into one detection, with a deterministic id', () => {
    const a = new SigmaAnalytic(packs({ 'w.yml': RULE }), { ...DEFAULT_SIGMA_ANALYTIC_CONFIG, updateIntervalMs: 60_000, maxEvidence: 3 });
    const first = a.observe(event(1000))[0]!;
    for (let t = 2000; t < 12_000; t += 1000) expect(a.observe(event(t))).toEqual([]);
    const update = a.observe(event(70_000))[0]!;
    expect(update.detection_id).toBe(first.detection_id);
    expect(update.count).toBe(12);
    expect(update.evidence).toHaveLength(3);
    expect(update.last_seen).toBe(70_000);
    const other = a.observe(event(71_000, 'whoami', 'CORP\\bob'))[0]!;
    expect(other.detection_id).not.toBe(first.detection_id);
    const closed = a.advance(Number.POSITIVE_INFINITY, 0);
    expect(closed.map((d) => d.count)).toEqual([]); // nothing new since the last reports
    const again = new SigmaAnalytic(packs({ 'w.yml': RULE })).observe(event(1000))[0]!;
    expect(again.detection_id).toBe(first.detection_id);
  });

  it('idle input reports a held-back update but keeps the detection open for later hits within the gap', () => {
    const a = new SigmaAnalytic(packs({ 'w.yml': RULE }));
    const first = a.observe(event(1000))[0]!;
    expect(a.observe(event(5000))).toEqual([]);
    const idle = a.advance(Number.POSITIVE_INFINITY, 0);
    expect(idle).toMatchObject([{ detection_id: first.detection_id, count: 2, attributes: expect.objectContaining({ version: '2' }) }]);
    expect(a.advance(Number.POSITIVE_INFINITY, 0)).toEqual([]);
    expect(a.size()).toBe(1);
    // Later in event time, within the suppression gap: the same detection grows (reported once the update interval passed).
    expect(a.observe(event(40_000))).toEqual([]);
    expect(a.observe(event(70_000))).toMatchObject([{ detection_id: first.detection_id, count: 4 }]);
  });

  it('reports the final count when an episode closes, and opens a new one after the gap', () => {
    const a = new SigmaAnalytic(packs({ 'w.yml': RULE }));
    const first = a.observe(event(1000))[0]!;
    a.observe(event(5000));
    const closed = a.advance(5000 + DEFAULT_SIGMA_ANALYTIC_CONFIG.suppressionMs, 0);
    expect(closed).toMatchObject([{ detection_id: first.detection_id, count: 2 }]);
    const next = a.observe(event(10_000_000))[0]!;
    expect(next.detection_id).not.toBe(first.detection_id);
  });

  it('entity is the most specific of user, host, source address', () => {
    expect(entityOf(event(1))).toEqual({ type: 'user', value: 'CORP\\alice' });
    expect(entityOf({ ...event(1), user: null })).toEqual({ type: 'host', value: 'ws1' });
    expect(entityOf({ ...event(1), user: null, host: null, src_ip: '10.0.0.1' })).toEqual({ type: 'ip', value: '10.0.0.1' });
    expect(attackFromTags(['attack.credential_access', 'attack.t1003.001', 'cve.2021-1'])).toEqual({ tactics: ['TA0006'], techniques: ['T1003.001'] });
  });

  it('hot reload keeps the old rule set when the new one is broken, and swaps a good one', () => {
    const reports: RulePackReport[] = [];
    const p = packs({ 'w.yml': RULE }, (r) => reports.push(r));
    const before = p.checksum;
    writeFileSync(join(dir, 'bad.yml'), 'title: broken\nlogsource: {product: windows}\ndetection:\n  s: {Image: x}\n  condition: s and missing\n');
    expect(p.reload()).toBe(false);
    expect(p.checksum).toBe(before);
    expect(reports.at(-1)).toMatchObject({ ok: false, errors: [{ code: 'SIGMA_CONDITION_INVALID', path: 'bad.yml', line: 5 }] });
    rmSync(join(dir, 'bad.yml'));
    writeFileSync(join(dir, 'w.yml'), RULE.replace('whoami', 'hostname'));
    expect(p.reload()).toBe(true);
    expect(p.checksum).not.toBe(before);
    const a = new SigmaAnalytic(p);
    expect(a.observe(event(1, 'hostname'))).toHaveLength(1);
  });
});
