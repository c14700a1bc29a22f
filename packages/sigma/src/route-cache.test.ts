import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileDocuments } from './load.ts';
import { parseSigmaFile } from './parse.ts';
import { RuleSet } from './ruleset.ts';
import { testEvent } from './test-events.ts';

const rule = (id: string, logsource: string, detection: string) =>
  `title: ${id}\nid: ${id}\nstatus: test\nlogsource:\n${logsource}\ndetection:\n${detection}\n  condition: s\nlevel: high\n`;

describe('the route cache', () => {
  it('routes every event as routing it from scratch does, whatever came before (branches per format)', () => {
    const yaml = [
      rule('proc', '  product: windows\n  category: process_creation', "  s:\n    CommandLine|contains: 'x'"),
      rule('sec', '  product: windows\n  service: security', "  s:\n    EventID: 4624"),
      rule('win', '  product: windows', "  s:\n    - 'mimikatz'"),
      rule('sshd', '  product: linux\n  service: sshd', "  s:\n    - 'failed'"),
      rule('dns', '  product: zeek\n  service: dns', "  s:\n    query|endswith: '.x'"),
      rule('fw', '  category: firewall', "  s:\n    dst_port: 22"),
      // Routed by event class alone: no format in its route.
      rule('anydns', '  category: dns', "  s:\n    query|endswith: '.x'"),
    ].join('---\n');
    const rs = compileDocuments(parseSigmaFile(yaml, 'r.yml').documents).ruleSet;
    const routed = (set: RuleSet, e: ReturnType<typeof testEvent>) => set.route(e).map((m) => JSON.stringify(m.logsource)).sort();
    let nonEmpty = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            format: fc.constantFrom('windows.event', 'WINDOWS.EVENT', 'syslog', 'zeek.dns', 'zeek.conn', 'cef', 'suricata.eve', 'other'),
            eventClass: fc.constantFrom('process_activity', 'network_activity', 'dns_activity', 'authentication'),
            attrs: fc.dictionary(fc.constantFrom('Channel', 'EventID', 'app', 'Event ID', 'a pp'), fc.constantFrom('Security', 'security', 'Microsoft-Windows-Sysmon/Operational', '1', '4688', '4624', 'sshd', 'SSHD', 'cron', '')),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (events) => {
          for (const { format, eventClass, attrs } of events) {
            const e = testEvent({ source_format: format, event_class: eventClass as never, attributes: attrs });
            // A fresh rule set over the same rules has an empty cache: it routes from scratch.
            const expected = routed(new RuleSet(rs.rules, rs.slots, rs.checksum), e);
            if (expected.length > 0) nonEmpty++;
            expect(routed(rs, e), JSON.stringify({ format, attrs })).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(nonEmpty).toBeGreaterThan(100);
  });
});
