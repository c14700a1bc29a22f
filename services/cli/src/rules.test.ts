import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runRulesCheck, runRulesExplain, runRulesTest } from './rules.ts';

const RULE = "title: Whoami\nid: w1\nlevel: high\nlogsource: {product: windows, category: process_creation}\ndetection:\n  s:\n    CommandLine|contains: whoami\n  condition: s\n";

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = (s: PassThrough) => () => String(s.read() ?? '');
  return { io: { stdout, stderr }, out: text(stdout), err: text(stderr) };
}

describe('mamori rules', () => {
  it('check: exit 1 with file:line for a broken rule, 0 when all compile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    writeFileSync(join(dir, 'ok.yml'), RULE);
    const a = io();
    expect(runRulesCheck([dir], a.io)).toBe(0);
    writeFileSync(join(dir, 'bad.yml'), 'title: bad\nlogsource: {product: windows}\ndetection:\n  s: {Image: x}\n  condition: s and t\n');
    const b = io();
    expect(runRulesCheck([dir], b.io)).toBe(1);
    expect(b.out()).toContain('bad.yml:5: error SIGMA_CONDITION_INVALID');
  });

  it('test and explain over raw Windows events and a normalized event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    writeFileSync(join(dir, 'r.yml'), RULE);
    writeFileSync(join(dir, 'ev.json'), `${JSON.stringify({ EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', TimeCreated: '2024-01-01T00:00:00Z', Image: 'C:\\w.exe', CommandLine: 'whoami /all' })}\n`);
    const t = io();
    expect(await runRulesTest({ rules: [dir], events: [join(dir, 'ev.json')] }, t.io)).toBe(0);
    expect(JSON.parse(t.out().trim())).toMatchObject({ rule_id: 'w1', matched: [{ field: 'CommandLine', value: 'whoami /all' }] });
    const e = io();
    const event = JSON.stringify({ source_format: 'windows.event', attributes: { EventID: '1', Channel: 'Microsoft-Windows-Sysmon/Operational' }, process: { command_line: 'dir' } });
    expect(runRulesExplain({ rule: join(dir, 'r.yml'), event }, e.io)).toBe(1);
    expect(e.out()).toContain('CommandLine|contains  value="dir"');
  });
});
