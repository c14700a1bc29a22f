import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MamoriEvent } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { readLog, sniffFormat, testCtx, ZEEK_DATA } from './testing/samples.ts';
import { zeekTsvRecords } from './tsv.ts';

/**
 * WRCCDC 2018: the same traffic written by Zeek as JSON (`zeek-json/`, ISO 8601 times) and as TSV
 * (`zeek-default/`). Both forms of every supported log must give identical events, line for line.
 */
const WRCCDC = join(ZEEK_DATA, 'wrccdc-2018');
const LOGS = ['dns', 'ssl', 'x509', 'ssh', 'smb_files', 'smb_mapping', 'dce_rpc', 'rdp', 'kerberos', 'ntlm', 'notice', 'weird'];

/** Everything but the position-derived fields (event id, raw offset). */
function content(event: MamoriEvent): Omit<MamoriEvent, 'event_id' | 'raw'> {
  const { event_id: _id, raw: _raw, ...rest } = event;
  return rest;
}

describe.skipIf(!existsSync(WRCCDC))('Zeek JSON and TSV are equivalent on WRCCDC 2018', () => {
  for (const log of LOGS) {
    it(`${log}: the same events from both forms`, () => {
      const json = readLog(join(WRCCDC, `zeek-json/${log}.json.gz`));
      const tsv = readLog(join(WRCCDC, `zeek-default/${log}.log.gz`));
      const format = sniffFormat(json).format;
      expect(format?.id).toBe(`zeek.${log}`);
      expect(sniffFormat(tsv).format?.id).toBe(`zeek.${log}`);
      const a = format!.decode(Buffer.from(json), testCtx(log));
      const b = format!.decode(Buffer.from(tsv), testCtx(log));
      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
      expect(a.events.length).toBeGreaterThan(0);
      expect(b.events.length).toBe(a.events.length);
      // Both files list entries in the same order; compare line for line, not sorted.
      for (let i = 0; i < a.events.length; i++) {
        const x = content(a.events[i]!);
        const y = content(b.events[i]!);
        if (JSON.stringify(x) !== JSON.stringify(y)) expect(y, `${log} entry ${i}`).toEqual(x);
      }
    }, 120_000);
  }

  it('differs at the source only in the ways the decoders normalize (documented in README.md)', () => {
    const kinds = new Set<string>();
    for (const log of LOGS) {
      const json = readLog(join(WRCCDC, `zeek-json/${log}.json.gz`)).split('\n').filter((l) => l !== '');
      const tsv = [...zeekTsvRecords(readLog(join(WRCCDC, `zeek-default/${log}.log.gz`)))];
      expect(tsv).toHaveLength(json.length);
      json.forEach((line, i) => {
        const j = JSON.parse(line) as Record<string, unknown>;
        const row = tsv[i]!;
        if (row.kind !== 'record') throw new Error(row.message);
        const t = row.record;
        for (const key of new Set([...Object.keys(j), ...Object.keys(t)])) {
          const a = j[key];
          const b = t[key];
          if (JSON.stringify(a) === JSON.stringify(b)) continue;
          if (b === undefined && (key === '_path' || key === '_write_ts')) kinds.add('writer keys only in JSON');
          else if (typeof a === 'string' && typeof b === 'number' && Date.parse(a) === Math.floor(Math.round(b * 1e6) / 1000)) kinds.add('time: ISO vs epoch, same ms');
          else if (typeof a === 'number' && typeof b === 'number' && Number(a.toFixed(6)) === b) kinds.add('double: full precision vs 6 decimals');
          else kinds.add(`UNEXPLAINED ${log}.${key}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        }
      });
    }
    expect([...kinds].sort()).toEqual(['double: full precision vs 6 decimals', 'time: ISO vs epoch, same ms', 'writer keys only in JSON']);
  }, 120_000);
});
