import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { AhoCorasick, SKIP_MIN_LENGTH, WASM_MIN_TEXT } from './aho-corasick.ts';
import { caseInsensitivePrefix, regexClauses, requiredLiterals } from './compile.ts';
import { compileDocuments } from './load.ts';
import { parseSigmaFile } from './parse.ts';
import { SPLIT_MIN, WASM_MAX_TEXT } from './wasm-dfa.ts';
import { sysmonProcess, testEvent } from './test-events.ts';

/** Characters that exercise case folding: ASCII letters of both cases, the two code points whose lower case is ASCII, Σ, others. */
const UNITS = ['a', 'b', 'k', 'i', 's', 'A', 'B', 'K', 'I', 'S', ' ', ':', '\u0130', '\u212a', '\u017f', '\u03a3', '\u00e9', '\u00c9', 'x'];

function occurring(patterns: readonly string[], text: string): Set<number> {
  return new Set(patterns.map((p, i) => (text.includes(p) ? i : -1)).filter((i) => i >= 0));
}

describe('scanning with case folding', () => {
  it('scanLower reports exactly the patterns of text.toLowerCase(), short patterns (automaton)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', 'b', 'k', 'i', 's', ':', 'i\u0307', '\u00e9') }), { minLength: 1, maxLength: 10 }),
        fc.string({ maxLength: 60, unit: fc.constantFrom(...UNITS) }),
        (raw, text) => {
          const patterns = raw.map((p) => p.toLowerCase());
          const found = new Set<number>();
          new AhoCorasick(patterns).scanLower(text, (p) => found.add(p));
          expect(found).toEqual(occurring(patterns, text.toLowerCase()));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('scanLower reports exactly the patterns of text.toLowerCase(), long ASCII patterns (skipping)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: SKIP_MIN_LENGTH, maxLength: 9, unit: fc.constantFrom('a', 'b', 'k', 'i', 's', ':') }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.string({ maxLength: 30, unit: fc.constantFrom(...UNITS) }), { maxLength: 4 }),
        fc.array(fc.nat(7), { maxLength: 4 }),
        (patterns, noise, planted) => {
          // Plant some patterns (upper-cased, so folding matters) between noise.
          const text = noise.map((n, i) => n + (planted[i] !== undefined ? (patterns[planted[i]! % patterns.length] ?? '').toUpperCase() : '')).join('');
          const found = new Set<number>();
          new AhoCorasick(patterns).scanLower(text, (p) => found.add(p));
          expect(found).toEqual(occurring(patterns, text.toLowerCase()));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('skipping reads U+212A as k anywhere and U+0130 as i only at the end of an occurrence, as toLowerCase does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: SKIP_MIN_LENGTH, maxLength: 8, unit: fc.constantFrom('a', 'k', 'i', 's', ':') }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(5), fc.string({ maxLength: 6, unit: fc.constantFrom('a', 'K', 'I', '\u0130', '\u212a', '\u00e9', 'x') })), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        (patterns, plants, swap) => {
          // Planted patterns with some k and i written as U+212A and U+0130 (whose lower cases are k and i + U+0307).
          const text = plants
            .map(([which, noise]) => noise + [...(patterns[which % patterns.length] ?? '')].map((ch, i) => (swap[i] ? (ch === 'k' ? '\u212a' : ch === 'i' ? '\u0130' : ch) : ch)).join(''))
            .join('');
          const ac = new AhoCorasick(patterns);
          const found = new Set<number>();
          ac.scanLower(text, (p) => found.add(p));
          expect(found, JSON.stringify(text)).toEqual(occurring(patterns, text.toLowerCase()));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a text shorter than every pattern is skipped only where its lower case cannot be longer', () => {
    const found = (patterns: string[], text: string, lower: boolean) => {
      const out = new Set<number>();
      const ac = new AhoCorasick(patterns);
      if (lower) ac.scanLower(text, (p) => out.add(p));
      else ac.scan(text, (p) => out.add(p));
      return out;
    };
    // U+0130 lower-cases to i + U+0307: one code unit holds a two-unit pattern.
    expect(found(['i\u0307', 'xyz'], '\u0130', true)).toEqual(new Set([0]));
    expect(found(['i\u0307', 'xyz'], '\u0130', false)).toEqual(new Set());
    expect(found(['abc', 'xyz'], 'AB', true)).toEqual(new Set());
    expect(found(['abc', 'xyz'], 'XYZ', true)).toEqual(new Set([1]));
  });

  it('U+212A and U+0130 count as the k and i of their lower case', () => {
    for (const patterns of [['ok', 'xi'], ['kerberos::golden', 'mimikatz']]) {
      const ac = new AhoCorasick(patterns);
      for (const text of ['O\u212a', 'X\u0130', 'KERBEROS::GOLDEN', 'MIMI\u212aATZ', 'mimikat']) {
        const found = new Set<number>();
        ac.scanLower(text, (p) => found.add(p));
        expect(found, text).toEqual(occurring(patterns, text.toLowerCase()));
      }
    }
  });
});

describe('literals required by regular expressions', () => {
  it('come from RE2 prefilters for case-sensitive expressions and are needed by every match', () => {
    expect(requiredLiterals(RE2JS.compile('cmd.{0,5}(?:/c|/r)'))).toEqual(['cmd']);
    expect(requiredLiterals(RE2JS.compile('(?:Invoke-Expression|iex) '))?.sort()).toEqual(['iex', 'invoke-expression']);
    expect(requiredLiterals(RE2JS.compile('(?i)cmd'))).toBeUndefined();
    expect(requiredLiterals(RE2JS.compile('a*b*'))).toBeUndefined();
  });

  it('case-insensitive prefixes stop at meaning, drop a quantified last character and cut at s', () => {
    expect(caseInsensitivePrefix('(?i)echo.*clip', false)).toEqual(['echo']);
    expect(caseInsensitivePrefix('(?i)cmdx?foo', false)).toEqual(['cmd']);
    expect(caseInsensitivePrefix('(?i)abc|def', false)).toBeUndefined();
    expect(caseInsensitivePrefix('(?i)(set).*', false)).toBeUndefined();
    expect(caseInsensitivePrefix('(?i)powershell', false)).toEqual(['power']);
    expect(caseInsensitivePrefix('Echo.*', true)).toEqual(['echo']);
    expect(caseInsensitivePrefix('Echo.*', false)).toBeUndefined();
  });

  it('a case-insensitive prefix occurs in the lower case of every text the expression matches', () => {
    fc.assert(
      fc.property(fc.constantFrom('(?i)kiss.*x', '(?i)echo.?clip', '(?i)abc[d|e]f', '(?i)ks:x+'), fc.string({ maxLength: 12, unit: fc.constantFrom(...UNITS, 'c', 'l', 'p', 'e', 'h', 'o', 'd', 'f') }), (src, text) => {
        const re = RE2JS.compile(src);
        const lits = caseInsensitivePrefix(src, false);
        if (lits && re.test(text)) expect(lits.some((l) => text.toLowerCase().includes(l)), `${src} on ${text}`).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('clauses required by regular expressions', () => {
  const STDIN = '(?i)(set).*&&\\s?set.*(environment|invoke|\\$?\\{?input).*&&.*"';

  it('case-insensitive expressions name the lower case of their literals, cut at s, as a conjunction', () => {
    expect(regexClauses(STDIN, 0)).toEqual([['et'], ['&&'], ['environment', 'invoke', 'input']]);
    expect(regexClauses('werfaultsecure\\.exe', RE2JS.CASE_INSENSITIVE)).toEqual([['werfault'], ['ecure.exe']]);
    expect(regexClauses('Cmd.{0,5}(?:/c|/r)', 0)).toEqual([['cmd']]);
    expect(regexClauses('(?i)a|bc', 0)).toBeUndefined();
    expect(regexClauses('.{1000,}', 0)).toBeUndefined();
  });

  it('every clause has a literal in the lower case of every text the expression matches', () => {
    const sources: [string, number][] = [
      [STDIN, 0],
      ['(?i)kiss.*x(ab|cd)', 0],
      ['SeT.+[a-z]K', RE2JS.CASE_INSENSITIVE],
      ['(?i)ask(?-i)Ask', 0],
    ];
    const words = ['set', 'SET', '\u017fet', '&&', ' ', 'Invoke', 'INPUT', 'enviro', 'nment', '"', 'x', 'AB', 'cD', 'kiss', 'KI\u017fS', '\u212aiss', 'k', 'K', '\u212a', 'ask', 'Ask', 'A\u017f\u212a', '\u0130'];
    let matched = 0;
    fc.assert(
      fc.property(fc.constantFrom(...sources), fc.array(fc.constantFrom(...words), { maxLength: 14 }), ([src, flags], parts) => {
        const text = parts.join('');
        if (!RE2JS.compile(src, flags).test(text)) return;
        matched++;
        const lower = text.toLowerCase();
        for (const clause of regexClauses(src, flags) ?? []) expect(clause.some((l) => lower.includes(l)), `${src} on ${JSON.stringify(text)}: ${clause.join('|')}`).toBe(true);
      }),
      { numRuns: 4000 },
    );
    expect(matched).toBeGreaterThan(100);
  });
});

describe('the literal index on rules', () => {
  function rules(yaml: string) {
    return compileDocuments(parseSigmaFile(yaml, 'r.yml').documents).ruleSet;
  }
  const rule = (id: string, detection: string) =>
    `title: ${id}\nid: ${id}\nstatus: test\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n${detection}\nlevel: high\n`;

  it('fires exactly like brute force for conjunctions, keywords, case-insensitive regexes and cased Σ', () => {
    const rs = rules(
      [
        rule('conj', "  s:\n    CommandLine|contains|all: ['-nop', 'hidden', 'frombase64string']\n  condition: s"),
        rule('kw', "  k:\n    - 'sekurlsa::logonpasswords'\n    - 'lsadump::'\n  condition: k"),
        rule('re', "  s:\n    CommandLine|re: '(?i)echo.*clip'\n  condition: s"),
        rule('sigma', "  s:\n    CommandLine|contains|cased: 'ΑΣ'\n  condition: s"),
        rule('or', "  a:\n    Image|endswith: '\\\\x.exe'\n  b:\n    CommandLine|contains|all: ['alpha', 'beta']\n  condition: a or b"),
      ].join('---\n'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('-NOP', 'Hidden', 'FromBase64String', 'SEKURLSA::LogonPasswords', 'LSADUMP::', 'Echo', 'CLIP', 'ΑΣ', 'ας', 'alpha', 'BETA', ' ', '\u212a', '\u0130'), { maxLength: 8 }),
        fc.constantFrom('C:\\x.exe', 'C:\\X.EXE', 'C:\\y.exe'),
        (parts, image) => {
          const e = sysmonProcess(image, parts.join(''));
          expect(rs.match(e).map((m) => m.rule.id)).toEqual(rs.matchUnindexed(e).map((r) => r.id));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rules without a literal but with vetoes (filters whose contains literals make them false) fire exactly like brute force', () => {
    const filter = `title: allow\nid: f1\nlogsource:\n  product: windows\n  category: process_creation\nfilter:\n  rules: [global]\n  selection:\n    ParentImage|contains: 'trusted'\n  condition: selection\n`;
    const rs = rules(
      [
        rule(
          'veto',
          [
            '  selection:',
            "    CommandLine|contains: '*'",
            '  filter_a:',
            '    CommandLine|contains:',
            "      - '= powershell'",
            "      - 'sdiagnhost'",
            '  filter_b:',
            "    Image|contains: 'allowed'",
            '  filter_c:',
            "    CommandLine|contains|cased: 'CasedX'",
            '  filter_d:',
            "    CommandLine|contains|all: ['alpha', 'omega']",
            '  filter_e:',
            "    CommandLine|endswith: 'tail-x'",
            '  condition: selection and not 1 of filter_*',
          ].join('\n'),
        ),
        rule('negated', "  s:\n    Image|endswith: '.exe'\n  f:\n    CommandLine|contains: 'harmless'\n  condition: not f and not s"),
        rule('global', "  s:\n    Image|endswith: '.com'\n  condition: not s"),
        // The fields are scanned anyway (vetoes only join automata a log source runs).
        rule('idx1', "  s:\n    CommandLine|contains: 'zzzzz'\n  condition: s"),
        rule('idx2', "  s:\n    Image|contains: 'yyyyy'\n  condition: s"),
        rule('idx3', "  s:\n    ParentImage|contains: 'xxxxx'\n  condition: s"),
      ].join('---\n') + `---\n${filter}`,
    );
    const vetoable = (rs as unknown as { buckets: { vetoable: number[] }[] }).buckets.flatMap((b) => b.vetoable).map((r) => rs.rules[r]!.rule.id);
    expect(vetoable.sort()).toEqual(['global', 'negated', 'veto']);
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('= PowerShell', 'SDIAGNHOST', 'sdiag', 'CasedX', 'casedx', 'alpha', 'OMEGA', 'tail-x', 'harmless', 'HARMLESS', ' ', 'zzzzz', '\u0130', '\u212a'), { maxLength: 6 }),
        fc.constantFrom('C:\\x.exe', 'C:\\ALLOWED\\y.exe', 'C:\\allowed.com', 'C:\\z.com', 'C:\\z.dll'),
        fc.constantFrom('C:\\Trusted\\p.exe', 'C:\\p.exe'),
        (parts, image, parent) => {
          const e = sysmonProcess(image, parts.join(''));
          e.process!.parent_path = parent;
          const fired = rs.match(e).map((m) => m.rule.id);
          for (const id of fired) seen.add(id);
          expect(fired).toEqual(rs.matchUnindexed(e).map((r) => r.id));
        },
      ),
      { numRuns: 2000 },
    );
    // Each vetoable rule fired somewhere (and, the vetoes being sound, only where brute force agrees).
    for (const id of ['veto', 'negated', 'global']) expect(seen.has(id), id).toBe(true);
  });

  it('walking the attributes of a Security event fires exactly like looking every field up, spaced keys included', () => {
    // 18 fields read from one attribute each: the Security plan walks the event's attributes.
    const names = Array.from({ length: 18 }, (_, i) => `Field${i}`);
    const security = (id: string, detection: string) =>
      `title: ${id}\nid: ${id}\nstatus: test\nlogsource:\n  product: windows\n  service: security\ndetection:\n${detection}\nlevel: high\n`;
    const rs = rules(
      [
        ...names.map((f, i) => security(`r${i}`, `  s:\n    ${f}|contains: 'hit${i % 4}'\n  condition: s`)),
        security('pair', "  s:\n    Field1|contains: 'hit1'\n    Field2|endswith: 'hit2'\n  condition: s"),
        security('spaced', "  s:\n    SourceName|contains: 'hit3'\n  condition: s"),
        security('class', "  s:\n    TargetUserName|contains: 'hit0'\n  condition: s"),
      ].join('---\n'),
    );
    const keys = [...names.slice(0, 6), 'Field 1', 'Field 2', 'Source Name', 'SourceName', 'Sour ce Name', 'TargetUserName', 'Other'];
    const event = (attrs: [string, string][]) =>
      testEvent({ attributes: { Channel: 'Security', EventID: '4688', ...Object.fromEntries(attrs) }, auth: { user: 'HIT0' } as never });
    const walks = (rs as unknown as { planFor(e: unknown): { byAttribute?: Map<string, unknown> } }).planFor(event([])).byAttribute;
    expect(walks?.size).toBeGreaterThanOrEqual(16);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.constantFrom('HIT0', 'xhit1', 'hit2', 'a hit3 b', 'HIT2x', 'none', '')), { maxLength: 10 }),
        (attrs) => {
          const e = event(attrs);
          expect(rs.match(e).map((m) => m.rule.id)).toEqual(rs.matchUnindexed(e).map((r) => r.id));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the attribute walk also sees keys an attributes object inherits, as the field lookups do', () => {
    const names = Array.from({ length: 18 }, (_, i) => `Field${i}`);
    const security = (id: string, detection: string) =>
      `title: ${id}\nid: ${id}\nstatus: test\nlogsource:\n  product: windows\n  service: security\ndetection:\n${detection}\nlevel: high\n`;
    const rs = rules(names.map((f, i) => security(`r${i}`, `  s:\n    ${f}|contains: 'hit'\n  condition: s`)).join('---\n'));
    for (const inherited of [{ Field3: 'a HIT' }, { 'Field 4': 'hit' }, {}]) {
      const attributes = Object.assign(Object.create(inherited) as Record<string, string>, { Channel: 'Security', EventID: '4688', Field1: 'hit', Other: 'x' });
      const e = testEvent({ attributes });
      const indexed = rs.match(e).map((m) => m.rule.id);
      expect(indexed, JSON.stringify(inherited)).toEqual(rs.matchUnindexed(e).map((r) => r.id));
      expect(indexed.length).toBe(1 + Object.keys(inherited).length);
    }
  });
});

describe('keyword literals scanned with the attribute automata', () => {
  const security = (id: string, detection: string) =>
    `title: ${id}\nid: ${id}\nstatus: test\nlogsource:\n  product: windows\n  service: security\ndetection:\n${detection}\nlevel: high\n`;

  it('fires exactly like brute force whichever attribute, class field or nested value holds the keyword', () => {
    const rs = compileDocuments(
      parseSigmaFile(
        [
          // Short literal: a DFA, which also takes the keyword literals; long ones: a skipping scanner, which does not.
          security('short', "  s:\n    Short|contains: 'ab'\n  condition: s"),
          security('long', "  s:\n    Long|contains: 'longliteral'\n  condition: s"),
          security('kw', "  k:\n    - 'sekurlsa::'\n    - 'ab::cd'\n  condition: k"),
          security('kwand', "  k:\n    - 'mimikatz'\n  s:\n    Short|contains: 'zz'\n  condition: k and s"),
        ].join('---\n'),
        'r.yml',
      ).documents,
    ).ruleSet;
    const event = (attrs: [string, string][], user: string, nested: string) =>
      testEvent({ attributes: { Channel: 'Security', EventID: '4688', ...Object.fromEntries(attrs) }, user, process: { hashes: { x: nested } } as never });
    const plan = (rs as unknown as { planFor(e: unknown): { byAttribute?: Map<string, { keywords: boolean }[]> } }).planFor(event([], '', ''));
    // Both kinds of attribute index are exercised: one holding the keyword literals, one not.
    expect(plan.byAttribute?.get('Short')?.[0]?.keywords).toBe(true);
    expect(plan.byAttribute?.get('Long')?.[0]?.keywords).toBe(false);
    const texts = ['SEKURLSA::x', 'AB::CD', 'mimikatz zz', 'xx ab', 'longliteral', 'none', ''];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('Short', 'Long', 'Other', 'Sho rt'), fc.constantFrom(...texts)), { maxLength: 6 }),
        fc.constantFrom(...texts),
        fc.constantFrom(...texts),
        (attrs, user, nested) => {
          const e = event(attrs, user, nested);
          expect(rs.match(e).map((m) => m.rule.id)).toEqual(rs.matchUnindexed(e).map((r) => r.id));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('the WebAssembly step loop for long texts', () => {
  const occurringLower = (patterns: readonly string[], text: string) => occurring(patterns, text.toLowerCase());

  it('reports exactly the patterns of text.toLowerCase() on long texts, ASCII or not, and stops when asked', () => {
    fc.assert(
      fc.property(
        // Patterns from U+0080 too (é, σ, ς, ı, i̇'s U+0307): such automata take the WebAssembly loop on ASCII texts.
        fc.array(fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', 'b', 'k', 'i', 's', ':', '-', 'a', 'b', 'k', '\u00e9', '\u03c3', '\u03c2', '\u0131', '\u0307') }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.string({ minLength: 0, maxLength: 40, unit: fc.constantFrom(...UNITS, 'A', 'b', '-', ':') }), { minLength: 2, maxLength: 12 }),
        fc.nat(3),
        fc.boolean(),
        (patterns, pieces, repeat, ascii) => {
          // At least WASM_MIN_TEXT long: the WebAssembly loop takes it when it is all ASCII (half the runs).
          let text = pieces.join('').repeat(repeat + 1);
          if (ascii) text = text.replace(/[^\x00-\x7f]/g, 'Q');
          while (text.length < WASM_MIN_TEXT) text += `${pieces[0]}x`;
          const ac = new AhoCorasick(patterns, { wasm: true });
          const found = new Set<number>();
          ac.scanLower(text, (p) => found.add(p));
          expect(found, JSON.stringify(text)).toEqual(occurringLower(patterns, text));
          // Stopping at the first hit reports exactly one pattern (or none when nothing occurs).
          let calls = 0;
          const stopped = ac.scanLower(text, () => ++calls > 0);
          expect(stopped).toBe(found.size > 0);
          expect(calls).toBe(found.size > 0 ? 1 : 0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('automata with patterns from U+0080 run long ASCII texts in WebAssembly, with the same hits', () => {
    const patterns = ['ab', 'b\u00e9', 'k:', '\u03c3x', 'zq'];
    const ac = new AhoCorasick(patterns, { wasm: true });
    const text = `${'xAB-K:-'.repeat(20)}zQ`;
    const found = new Set<number>();
    ac.scanLower(text, (p) => found.add(p));
    expect(found).toEqual(new Set([0, 2, 4]));
    expect((ac as unknown as { wasm: unknown }).wasm).toBeTruthy();
    // A non-ASCII text (É: b + é) still takes the JS loop over its lower case.
    const wide = new Set<number>();
    ac.scanLower(`${text}B\u00c9`, (p) => wide.add(p));
    expect(wide).toEqual(new Set([0, 1, 2, 4]));
  });

  it('texts run as two or four parts at once report every occurrence, the longest pattern across their bounds included', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: SPLIT_MIN, maxLength: 1500, unit: fc.constantFrom('a', 'b', 'A', 'B', 'k', ':', ' ') }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: -70, max: 4 }), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.string({ minLength: 1, maxLength: 3, unit: fc.constantFrom('a', 'b', 'k', 'z') }), { maxLength: 4 }),
        (text, cuts, extra) => {
          // Patterns cut from the text around its quarters (where parts meet) and at its ends, plus short random ones.
          const lower = text.toLowerCase();
          const patterns = [...cuts.map(([len, delta, quarter]) => {
            const at = Math.max(0, Math.min(text.length - len, Math.floor((quarter * (text.length - len + 1)) / 4) + delta));
            return lower.slice(at, at + len);
          }), ...extra, lower.slice(-cuts[0]![0]), lower.slice(0, cuts[0]![0])];
          const ac = new AhoCorasick(patterns, { wasm: true });
          const found = new Set<number>();
          ac.scanLower(text, (p) => found.add(p));
          expect(found).toEqual(occurringLower(patterns, text));
          let calls = 0;
          expect(ac.scanLower(text, () => ++calls > 0)).toBe(found.size > 0);
          expect(calls).toBe(found.size > 0 ? 1 : 0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('more hits than one call collects, and texts too long for its buffer, are all reported', () => {
    const ac = new AhoCorasick(['ab', 'zq'], { wasm: true });
    // 'ab' at every other position: thousands of output states, several calls' worth.
    const many = `${'ab'.repeat(5000)}zq`;
    let hits = 0;
    const found = new Set<number>();
    ac.scanLower(many, (p) => {
      hits++;
      found.add(p);
    });
    expect(found).toEqual(new Set([0, 1]));
    expect(hits).toBe(5001);
    // Longer than WASM_MAX_TEXT: the JS loop, same answer.
    const long = `${'x'.repeat(WASM_MAX_TEXT)}AB`;
    const longFound = new Set<number>();
    ac.scanLower(long, (p) => longFound.add(p));
    expect(longFound).toEqual(new Set([0]));
  });
});
