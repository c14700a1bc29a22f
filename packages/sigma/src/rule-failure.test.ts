import { describe, expect, it } from 'vitest';
import { compileDocuments } from './load.ts';
import { parseSigmaFile } from './parse.ts';
import { RuleSet } from './ruleset.ts';
import { testEvent } from './test-events.ts';

/** Two rules on Zeek conn: one by a literal (indexed), one without a literal need (evaluated on every routed event). */
const YAML = `title: Rejected
id: 11111111-0000-4000-8000-000000000001
logsource: {product: zeek, service: conn}
detection:
  sel: {conn_state: REJ}
  condition: sel
---
title: Any conn
id: 11111111-0000-4000-8000-000000000002
logsource: {product: zeek, service: conn}
detection:
  sel: {conn_state|exists: true}
  condition: sel
---
title: Port 22
id: 11111111-0000-4000-8000-000000000003
logsource: {product: zeek, service: conn}
detection:
  sel: {id.resp_p: 22}
  condition: sel
`;

describe('a rule whose evaluation throws', () => {
  const loaded = compileDocuments(parseSigmaFile(YAML, 'r.yml').documents);
  const broken = (id: string) =>
    new RuleSet(
      loaded.ruleSet.rules.map((r) =>
        r.rule.id === id
          ? {
              ...r,
              test: () => {
                throw new Error('planted rule defect');
              },
            }
          : r,
      ),
      loaded.ruleSet.slots,
      loaded.ruleSet.checksum,
    );
  const event = testEvent({ source_format: 'zeek.conn', event_class: 'network_activity', conn_state: 'REJ', dst_port: 22 });

  it('costs that rule only: the event\'s other rules match as before, and the failure is reported once', () => {
    const all = loaded.ruleSet.match(event).map((m) => m.rule.id);
    expect(all).toHaveLength(3);
    for (const id of all) {
      const rs = broken(id);
      expect(rs.match(event).map((m) => m.rule.id)).toEqual(all.filter((x) => x !== id));
      expect(rs.takeFailures()).toEqual([`rule ${id}: planted rule defect`]);
      expect(rs.takeFailures()).toEqual([]);
    }
    expect(loaded.ruleSet.takeFailures()).toEqual([]);
  });

  it('keeps at most 100 failures for a caller that never takes them', () => {
    const rs = broken(loaded.ruleSet.rules[1]!.rule.id);
    for (let i = 0; i < 500; i++) rs.match(event);
    expect(rs.takeFailures()).toHaveLength(100);
  });
});
