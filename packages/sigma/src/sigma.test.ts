import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AhoCorasick } from './aho-corasick.ts';
import { compileCidr } from './cidr.ts';
import { parseCondition } from './condition.ts';
import { compileDocuments } from './load.ts';
import { base64Offsets, transform } from './modifiers.ts';
import { parseSigmaFile } from './parse.ts';
import { sysmonProcess, testEvent } from './test-events.ts';
import { compilePattern, parseWildcards, renderTokens } from './wildcard.ts';

function ruleSet(yaml: string, opts: Parameters<typeof compileDocuments>[1] = {}) {
  const parsed = parseSigmaFile(yaml, 'test.yml');
  expect(parsed.errors.map((e) => e.message)).toEqual([]);
  return compileDocuments(parsed.documents, opts);
}

function proc(detection: string, extra = ''): string {
  return `title: t\nid: r1\nstatus: test\nlevel: high\ntags: [attack.execution, attack.t1059.001]\nlogsource: {product: windows, category: process_creation}\n${extra}detection:\n${detection}\n`;
}

describe('parser', () => {
  it('reads a rule into the typed AST', () => {
    const { documents } = parseSigmaFile(proc('  sel:\n    Image|endswith: \\cmd.exe\n    CommandLine|contains|all: [a, b]\n  condition: sel'), 'r.yml');
    const rule = documents[0]!;
    expect(rule.kind).toBe('rule');
    if (rule.kind !== 'rule') return;
    expect(rule.level).toBe('high');
    expect(rule.tags).toContain('attack.t1059.001');
    const sel = rule.detection.searches.get('sel')!;
    expect(sel).toMatchObject({ kind: 'fields', items: [{ field: 'Image', modifiers: ['endswith'], values: ['\\cmd.exe'], line: 9 }, { field: 'CommandLine', modifiers: ['contains', 'all'], values: ['a', 'b'], line: 10 }] });
  });

  it('reports errors with path, line and a stable code', () => {
    const bad = parseSigmaFile(proc('  sel:\n    Image: x\n  condition: sel and nope'), 'rules/x.yml');
    expect(bad.errors[0]).toMatchObject({ code: 'SIGMA_CONDITION_INVALID', path: 'rules/x.yml', line: 10 });
    const yaml = parseSigmaFile('title: [unclosed\n', 'y.yml');
    expect(yaml.errors[0]).toMatchObject({ code: 'SIGMA_YAML_INVALID', path: 'y.yml' });
    expect(yaml.errors[0]!.line).toBeGreaterThan(0);
    const agg = parseSigmaFile(proc('  sel:\n    Image: x\n  condition: sel | count() by Image > 5'), 'a.yml');
    expect(agg.errors[0]).toMatchObject({ code: 'SIGMA_DEPRECATED_SYNTAX', line: 10 });
    const nul = parseSigmaFile(proc("  sel:\n    Image: ['', null]\n  condition: sel"), 'n.yml');
    expect(nul.errors[0]).toMatchObject({ code: 'SIGMA_VALUE_INVALID', line: 9 });
  });

  it('keeps correlation documents parsed but uncompiled', () => {
    const loaded = ruleSet(`${proc('  sel:\n    Image: x\n  condition: sel')}---\ntitle: many\nid: c1\ncorrelation:\n  type: event_count\n  rules: [r1]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 10}\n`);
    expect(loaded.correlations).toHaveLength(1);
    expect(loaded.correlations[0]).toMatchObject({ kind: 'correlation', id: 'c1', path: 'test.yml', line: 12 });
    expect(loaded.rules).toHaveLength(1);
  });
});

describe('conditions', () => {
  it('binds not > and > or, with x of patterns', () => {
    expect(parseCondition('a or b and not c')).toEqual({ op: 'or', args: [{ op: 'ref', name: 'a' }, { op: 'and', args: [{ op: 'ref', name: 'b' }, { op: 'not', arg: { op: 'ref', name: 'c' } }] }] });
    expect(parseCondition('(a or b) and 1 of sel_* and not all of them')).toEqual({
      op: 'and',
      args: [{ op: 'or', args: [{ op: 'ref', name: 'a' }, { op: 'ref', name: 'b' }] }, { op: 'of', quantifier: 'one', pattern: 'sel_*' }, { op: 'not', arg: { op: 'of', quantifier: 'all', pattern: 'them' } }],
    });
  });

  it('evaluates 1 of / all of over matching identifiers (them skips _x)', () => {
    const det = `  sel_a:\n    Image|endswith: \\a.exe\n  sel_b:\n    CommandLine|contains: evil\n  _skip:\n    Image: nothing\n  condition: all of them`;
    const { ruleSet: rs } = ruleSet(proc(det));
    expect(rs.match(sysmonProcess('C:\\a.exe', 'run evil'))).toHaveLength(1);
    expect(rs.match(sysmonProcess('C:\\a.exe', 'run good'))).toHaveLength(0);
  });
});

describe('values and modifiers', () => {
  const fires = (detection: string, event = sysmonProcess('C:\\Windows\\System32\\cmd.exe', 'cmd.exe /c whoami')): boolean =>
    ruleSet(proc(detection)).ruleSet.match(event).length === 1;

  it('matches case-insensitively by default, case-sensitively with cased', () => {
    expect(fires('  s:\n    Image: c:\\windows\\system32\\CMD.EXE\n  condition: s')).toBe(true);
    expect(fires('  s:\n    Image|cased: c:\\windows\\system32\\CMD.EXE\n  condition: s')).toBe(false);
    expect(fires('  s:\n    Image|cased|endswith: \\cmd.exe\n  condition: s')).toBe(true);
  });

  it('handles wildcards and escapes', () => {
    expect(renderTokens(parseWildcards('a\\*b\\\\*c\\d?'))).toBe('a\\*b\\\\*c\\\\d?');
    expect(compilePattern(parseWildcards('c:\\\\*\\cmd.ex?'))('c:\\windows\\cmd.exe')).toBe(true);
    expect(compilePattern(parseWildcards('a*b*c'))('axxbyyc')).toBe(true);
    expect(compilePattern(parseWildcards('a*b*c'))('axxcyyb')).toBe(false);
    expect(compilePattern(parseWildcards('lit\\*'))('lit*')).toBe(true);
    expect(compilePattern(parseWildcards('lit\\*'))('litx')).toBe(false);
    expect(fires("  s:\n    CommandLine: '*/c who*'\n  condition: s")).toBe(true);
  });

  it('contains|all, startswith, lists as OR, null, exists', () => {
    expect(fires('  s:\n    CommandLine|contains|all: [whoami, /c]\n  condition: s')).toBe(true);
    expect(fires('  s:\n    CommandLine|contains|all: [whoami, /k]\n  condition: s')).toBe(false);
    expect(fires('  s:\n    CommandLine|startswith: [x, cmd.exe]\n  condition: s')).toBe(true);
    expect(fires('  s:\n    OriginalFileName: null\n  condition: s')).toBe(true);
    expect(fires('  s:\n    OriginalFileName|exists: true\n  condition: s')).toBe(false);
    expect(fires('  s:\n    CommandLine|exists: true\n  condition: s')).toBe(true);
  });

  it('windash covers -, /, en dash, em dash and horizontal bar', () => {
    expect(transform(' -enc', ['windash']).map(renderTokens)).toEqual([' -enc', ' /enc', ' \u2013enc', ' \u2014enc', ' \u2015enc']);
    for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) {
      expect(fires('  s:\n    CommandLine|windash|contains: " -c "\n  condition: s', sysmonProcess('C:\\p.exe', `p.exe ${dash}c whoami`))).toBe(true);
    }
  });

  it('base64, base64offset, utf16le/be and wide, chained', () => {
    expect(transform('abc', ['base64']).map(renderTokens)).toEqual(['YWJj']);
    expect(base64Offsets(Buffer.from('http://'))).toEqual(['aHR0cDovL', 'h0dHA6Ly', 'odHRwOi8v']);
    expect(transform('cmd', ['wide', 'base64']).map(renderTokens)).toEqual(['YwBtAGQA']);
    expect(transform('cmd', ['utf16be', 'base64']).map(renderTokens)).toEqual(['AGMAbQBk']);
    const encoded = Buffer.from('IEX (New-Object Net.WebClient)', 'utf16le').toString('base64');
    expect(fires('  s:\n    CommandLine|wide|base64offset|contains: New-Object\n  condition: s', sysmonProcess('C:\\p.exe', `powershell -enc ${encoded}`))).toBe(true);
    expect(fires('  s:\n    CommandLine|base64offset|contains: New-Object\n  condition: s', sysmonProcess('C:\\p.exe', `powershell -enc ${encoded}`))).toBe(false);
  });

  it('re with i/m/s flags through RE2, and rejects backreferences and lookaround as unsupported', () => {
    expect(fires("  s:\n    CommandLine|re: 'who(am)?i$'\n  condition: s")).toBe(true);
    expect(fires("  s:\n    CommandLine|re: 'WHOAMI'\n  condition: s")).toBe(false);
    expect(fires("  s:\n    CommandLine|re|i: 'WHOAMI'\n  condition: s")).toBe(true);
    expect(fires("  s:\n    CommandLine|re|m: '^b$'\n  condition: s", sysmonProcess('C:\\p.exe', 'a\nb\nc'))).toBe(true);
    expect(fires("  s:\n    CommandLine|re|s: 'a.b'\n  condition: s", sysmonProcess('C:\\p.exe', 'a\nb'))).toBe(true);
    expect(fires("  s:\n    CommandLine|re: 'a.b'\n  condition: s", sysmonProcess('C:\\p.exe', 'a\nb'))).toBe(false);
    for (const re of ['(a)\\1', '(?=x)a', '(?<!x)a']) {
      const loaded = compileDocuments(parseSigmaFile(proc(`  s:\n    CommandLine|re: '${re}'\n  condition: s`), 'r.yml').documents);
      expect(loaded.unsupported[0]).toMatchObject({ code: 'SIGMA_REGEX_UNSUPPORTED', path: 'r.yml', line: 9 });
      expect(loaded.unsupported[0]!.reason).toContain('RE2');
    }
  });

  it('cidr (IPv4 and IPv6), numeric comparisons, neq, fieldref', () => {
    const net = (ip: string) => testEvent({ dst_ip: ip, dst_port: 4444, attributes: { EventID: '3', Channel: 'Microsoft-Windows-Sysmon/Operational' } });
    const rule = (d: string) => `title: n\nid: n1\nlogsource: {product: windows, category: network_connection}\ndetection:\n${d}\n`;
    const rs = (d: string) => ruleSet(rule(d)).ruleSet;
    expect(rs('  s:\n    DestinationIp|cidr: [10.0.0.0/8, "fe80::/10"]\n  condition: s').match(net('10.1.2.3'))).toHaveLength(1);
    expect(rs('  s:\n    DestinationIp|cidr: [10.0.0.0/8, "fe80::/10"]\n  condition: s').match(net('fe80::1'))).toHaveLength(1);
    expect(rs('  s:\n    DestinationIp|cidr: [10.0.0.0/8, "fe80::/10"]\n  condition: s').match(net('11.0.0.1'))).toHaveLength(0);
    expect(compileCidr('192.168.1.0/23')!('192.168.0.255')).toBe(true);
    expect(compileCidr('2001:db8::/32')!('2001:db9::1')).toBe(false);
    expect(rs('  s:\n    DestinationPort|gte: 4444\n  condition: s').match(net('1.1.1.1'))).toHaveLength(1);
    expect(rs('  s:\n    DestinationPort|lt: 4444\n  condition: s').match(net('1.1.1.1'))).toHaveLength(0);
    expect(rs('  s:\n    DestinationPort|neq: 80\n  condition: s').match(net('1.1.1.1'))).toHaveLength(1);
    expect(rs('  s:\n    DestinationPort|neq: 4444\n  condition: s').match(net('1.1.1.1'))).toHaveLength(0);
    expect(fires('  s:\n    ParentImage|fieldref: Image\n  condition: s', sysmonProcess('C:\\Windows\\System32\\cmd.exe', 'x'))).toBe(true);
    expect(fires('  s:\n    ParentImage|fieldref: Image\n  condition: s', sysmonProcess('C:\\a.exe', 'x'))).toBe(false);
  });

  it('expand resolves placeholders from configuration; unresolved ones are unsupported', () => {
    const yaml = proc('  s:\n    User|expand: "%Admins%"\n  condition: s');
    const none = compileDocuments(parseSigmaFile(yaml, 'p.yml').documents);
    expect(none.unsupported[0]).toMatchObject({ code: 'SIGMA_PLACEHOLDER_UNRESOLVED', line: 9 });
    const withValues = ruleSet(yaml, { placeholders: { Admins: ['corp\\root', 'CORP\\alice'] } });
    expect(withValues.ruleSet.match(sysmonProcess('C:\\a.exe', 'x'))).toHaveLength(1);
  });

  it('keywords search every text of the event', () => {
    const rs = ruleSet(`title: k\nid: k1\nlogsource: {product: linux, service: sshd}\ndetection:\n  keywords:\n    - 'Corrupted MAC'\n    - 'bad client'\n  condition: keywords\n`).ruleSet;
    const e = testEvent({ source_format: 'syslog', attributes: { app: 'sshd', msg: 'Disconnected: corrupted MAC on input.' } });
    expect(rs.match(e)).toEqual([{ rule: expect.objectContaining({ id: 'k1' }), matched: [{ field: 'keywords', value: 'Disconnected: corrupted MAC on input.' }] }]);
  });
});

describe('filters, routing and the rule set', () => {
  it('applies global filters to the named rules', () => {
    const filter = `---\ntitle: admins\nid: f1\nlogsource: {product: windows, category: process_creation}\nfilter:\n  rules: [r1]\n  selection:\n    User|startswith: 'CORP\\adm_'\n  condition: selection\n`;
    const { ruleSet: rs, filters } = ruleSet(proc('  s:\n    CommandLine|contains: whoami\n  condition: s') + filter);
    expect(filters).toHaveLength(1);
    expect(rs.match(sysmonProcess('C:\\a.exe', 'whoami'))).toHaveLength(1);
    expect(rs.match(sysmonProcess('C:\\a.exe', 'whoami', {}, { process: { ...sysmonProcess('x', 'whoami').process!, user: 'CORP\\adm_bob' } }))).toHaveLength(0);
  });

  it('routes by log source: a process rule never sees a network or Security event', () => {
    const { ruleSet: rs } = ruleSet(proc('  s:\n    CommandLine|contains: whoami\n  condition: s'));
    expect(rs.match(sysmonProcess('C:\\a.exe', 'whoami', { EventID: '3' }))).toHaveLength(0);
    expect(rs.match(sysmonProcess('C:\\a.exe', 'whoami', { EventID: '4688', Channel: 'Security' }))).toHaveLength(1);
    expect(rs.match(testEvent({ source_format: 'zeek.conn', attributes: { EventID: '1', Channel: 'Microsoft-Windows-Sysmon/Operational' } }))).toHaveLength(0);
  });

  it('reports unmapped log sources with the reason, and the share of rules evaluated', () => {
    const loaded = ruleSet(`title: a\nid: a1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s:\n    eventName: x\n  condition: s\n`);
    expect(loaded.unsupported[0]).toMatchObject({ code: 'SIGMA_LOGSOURCE_UNMAPPED', path: 'test.yml', id: 'a1' });
    const many = Array.from({ length: 50 }, (_, i) => proc(`  s:\n    CommandLine|contains: needle${i}x\n  condition: s`).replace('id: r1', `id: r${i}`)).join('---\n');
    const { ruleSet: rs } = ruleSet(many);
    rs.match(sysmonProcess('C:\\a.exe', 'run needle7x now'));
    expect(rs.stats()).toMatchObject({ events: 1, evaluated: 1, matches: 1, rules: 50 });
    expect(rs.stats().evaluatedShare).toBeCloseTo(0.02);
  });

  it('the checksum covers correlation rules too', () => {
    const base = 'title: a\nid: 00000000-0000-4000-8000-00000000000a\nname: a\nlogsource:\n  product: zeek\n  service: conn\ndetection:\n  s:\n    conn_state: REJ\n  condition: s\n';
    const corr = (n: number) => `title: c\nid: 00000000-0000-4000-8000-00000000000c\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [src_ip]\n  timespan: 5m\n  condition:\n    gte: ${n}\n`;
    const one = compileDocuments(parseSigmaFile(`${base}---\n${corr(10)}`, 'p.yml').documents).checksum;
    expect(compileDocuments(parseSigmaFile(`${base}---\n${corr(3)}`, 'p.yml').documents).checksum).not.toBe(one);
    expect(compileDocuments(parseSigmaFile(base, 'p.yml').documents).checksum).not.toBe(one);
  });

  it('the checksum changes with any rule text and not with file order', () => {
    const a = proc('  s:\n    Image: a\n  condition: s');
    const b = proc('  s:\n    Image: b\n  condition: s').replace('id: r1', 'id: r2');
    const one = ruleSet(`${a}---\n${b}`).checksum;
    expect(ruleSet(`${b}---\n${a}`).checksum).toBe(one);
    expect(ruleSet(`${a}---\n${b.replace('Image: b', 'Image: c')}`).checksum).not.toBe(one);
  });

  it('explains per search and field which values were compared', () => {
    const { ruleSet: rs } = ruleSet(proc('  s:\n    Image|endswith: \\cmd.exe\n    CommandLine|contains: mimikatz\n  condition: s'));
    const ex = rs.explain(sysmonProcess('C:\\Windows\\cmd.exe', 'whoami'), 'r1')!;
    expect(ex.routed).toBe(true);
    expect(ex.matched).toBe(false);
    const fields = ex.detection.children![0]!.children!;
    expect(fields[0]).toMatchObject({ field: 'Image', value: 'C:\\Windows\\cmd.exe', matched: true, paths: ['process.path', 'attributes.Image'] });
    expect(fields[1]).toMatchObject({ field: 'CommandLine', value: 'whoami', matched: false, compared: [{ expected: '*mimikatz*', matched: false }] });
  });
});

describe('Aho-Corasick and the literal index', () => {
  it('finds every occurrence of every pattern', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', 'b', 'c') }), { minLength: 1, maxLength: 12 }), fc.string({ maxLength: 40, unit: fc.constantFrom('a', 'b', 'c') }), (patterns, text) => {
        const found = new Set<number>();
        new AhoCorasick(patterns).scan(text, (p) => found.add(p));
        const expected = new Set(patterns.map((p, i) => (text.includes(p) ? i : -1)).filter((i) => i >= 0));
        expect(found).toEqual(expected);
      }),
    );
  });

  it('the indexed rule set fires exactly like evaluating every routed rule', () => {
    const words = ['whoami', 'net user', 'mimikatz', '-enc', 'rundll32', 'vssadmin', 'delete', 'shadows', 'http://', 'bypass'];
    const rules = words.map((w, i) => proc(`  s${i}:\n    CommandLine|contains|all: ['${w}', '${words[(i + 3) % words.length]}']\n  n:\n    Image|endswith: '\\x${i}.exe'\n  condition: s${i} or n`).replace('id: r1', `id: w${i}`)).join('---\n');
    const { ruleSet: rs } = ruleSet(rules);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words, 'x', ' '), { maxLength: 8 }), fc.integer({ min: 0, max: 12 }), (parts, img) => {
        const e = sysmonProcess(`C:\\x${img}.exe`, parts.join(' ').toUpperCase());
        const a = rs.match(e).map((m) => m.rule.id).sort();
        const b = rs.matchUnindexed(e).map((r) => r.id).sort();
        expect(a).toEqual(b);
      }),
    );
  });
});

describe('safe regular expressions', () => {
  it('hostile inputs against patterns that backtrack in JS RegExp stay linear', () => {
    const { ruleSet: rs } = ruleSet(proc("  s:\n    CommandLine|re: '^(a+)+$'\n  t:\n    CommandLine|re: '(a|aa)*c'\n  condition: s or t"));
    fc.assert(
      fc.property(fc.integer({ min: 5_000, max: 20_000 }), fc.constantFrom('!', 'b', '\n'), (n, tail) => {
        const start = performance.now();
        const hits = rs.match(sysmonProcess('C:\\a.exe', `${'a'.repeat(n)}${tail}`));
        expect(hits).toHaveLength(0);
        // A backtracking engine takes astronomically long on these; RE2 stays near-linear (generous bound).
        expect(performance.now() - start).toBeLessThan(5_000);
      }),
      { numRuns: 10 },
    );
  });

  it('glob matching of long hostile values stays linear too', () => {
    const p = compilePattern(parseWildcards('*a*a*a*a*a*b'));
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 5_000 }), (n) => {
        const start = performance.now();
        expect(p('a'.repeat(n))).toBe(false);
        expect(performance.now() - start).toBeLessThan(5_000);
      }),
      { numRuns: 5 },
    );
  });
});
