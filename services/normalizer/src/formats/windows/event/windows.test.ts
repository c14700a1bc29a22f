import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EventCodec, withEventDefaults } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import type { DecodeContext } from '../../types.ts';
import { parseHashes, parseQueryResults, parseWindowsTime, SCRIPT_TEXT_MAX_CHARS, windowsEventFormat } from './index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const OTRF = fileURLToPath(new URL('../../../../../../../shared/data/windows/otrf/', import.meta.url));

const ctx: DecodeContext = {
  topic: 'telemetry.raw.windows.event',
  partition: 0,
  offset: 7,
  sensorId: 'wec-1',
  orgId: 'org-test',
  ingestTime: 1_710_000_000_000,
};

const inputs = readdirSync(FIXTURES).filter((f) => f.endsWith('.input'));
const decodeFixture = (name: string) => windowsEventFormat.decode(readFileSync(join(FIXTURES, name)), ctx);

describe('windows.event golden fixtures', () => {
  it('has a fixture per event family', () => expect(inputs.length).toBeGreaterThanOrEqual(9));

  for (const input of inputs) {
    it(input, () => {
      const result = decodeFixture(input);
      const actual = {
        events: result.events,
        errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })),
      };
      const expectedPath = join(FIXTURES, input.replace(/\.input$/, '.expected.json'));
      // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }

  it('produces events the Avro codec accepts', () => {
    const codec = new EventCodec();
    for (const input of inputs) {
      for (const event of decodeFixture(input).events) {
        expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
      }
    }
  });
});

describe('windows.event details', () => {
  it('parses ISO, Sysmon UtcTime and NXLog EventTime', () => {
    expect(parseWindowsTime('2020-10-21T11:28:11.220Z')).toBe(Date.UTC(2020, 9, 21, 11, 28, 11, 220));
    expect(parseWindowsTime('2020-10-22 03:28:10.213')).toBe(Date.UTC(2020, 9, 22, 3, 28, 10, 213));
    expect(parseWindowsTime({ SystemTime: '2020-10-22T03:28:10.2130000Z' })).toBe(Date.UTC(2020, 9, 22, 3, 28, 10, 213));
    expect(parseWindowsTime('yesterday')).toBeNaN();
  });

  it('parses Sysmon Hashes and QueryResults', () => {
    expect(parseHashes('SHA1=AB,MD5=CD,SHA256=EF,IMPHASH=01')).toEqual({ sha1: 'ab', md5: 'cd', sha256: 'ef', imphash: '01' });
    expect(parseQueryResults('type:  5 a.example;::ffff:10.0.0.1;fe80::1;')).toEqual(['a.example', '10.0.0.1', 'fe80::1']);
    expect(parseQueryResults('-')).toEqual([]);
  });

  it('bounds PowerShell script text and records the original length', () => {
    const long = decodeFixture('powershell.input').events.find((e) => e.attributes['ScriptBlockText.length'] !== undefined);
    expect(long?.attributes['ScriptBlockText']).toHaveLength(SCRIPT_TEXT_MAX_CHARS);
    expect(Number(long?.attributes['ScriptBlockText.length'])).toBeGreaterThan(SCRIPT_TEXT_MAX_CHARS);
  });

  it('reads the Winlogbeat shape, ECS fallbacks included', () => {
    const [logon, proc, dns] = decodeFixture('winlogbeat.input').events;
    expect(logon).toMatchObject({ event_class: 'authentication', host: 'WKS02.corp.example', user: 'CORP\\svc_backup', src_ip: '10.0.0.77' });
    expect(logon?.auth).toMatchObject({ result: 'failure', protocol: 'negotiate', failure_reason: 'account locked out (0xc0000234)' });
    expect(proc?.process).toMatchObject({ pid: 5120, path: 'C:\\Windows\\System32\\cmd.exe', parent_pid: 4100, user: 'CORP\\jdoe' });
    expect(proc?.process?.hashes['sha256']).toBe('b99d61d874728edc0918ca0eb10eab93d381e7367e377406e65963366c874450');
    expect(dns?.dns).toMatchObject({ query: 'update.example.com', answers: ['cdn.example.net', '198.51.100.20'], rcode: 'NOERROR' });
  });

  it('sniffs both shapes and nothing else', () => {
    const sniff = windowsEventFormat.sniff as (head: string) => number;
    expect(sniff(readFileSync(join(FIXTURES, 'sysmon-process.input'), 'utf8'))).toBeGreaterThan(0.9);
    expect(sniff(readFileSync(join(FIXTURES, 'winlogbeat.input'), 'utf8'))).toBeGreaterThan(0.9);
    expect(sniff('{"timestamp":"2021-06-06T15:59:46.457984+0200","event_type":"flow","src_ip":"10.0.0.1"}\n')).toBe(0);
    expect(sniff('not json\n')).toBe(0);
  });
});

/** The class each event must get, written apart from the decoder's own tables. */
function expectedClass(channel: string, id: number, objectType: unknown): string {
  const c = channel.toLowerCase();
  if (c === 'security') {
    if ([4624, 4625, 4634, 4647, 4648, 4672, 4768, 4769, 4771, 4776].includes(id)) return 'authentication';
    if (id === 4688 || id === 4689) return 'process_activity';
    if (id === 4656 || id === 4663) return objectType === 'Key' ? 'registry_activity' : 'file_activity';
  }
  if (c === 'microsoft-windows-sysmon/operational') {
    if ([1, 5, 7, 8, 10].includes(id)) return 'process_activity';
    if (id === 3) return 'network_activity';
    if ([2, 11, 15, 23, 26].includes(id)) return 'file_activity';
    if ([12, 13, 14].includes(id)) return 'registry_activity';
    if (id === 22) return 'dns_activity';
  }
  if (c === 'microsoft-windows-powershell/operational' && (id === 4103 || id === 4104)) return 'process_activity';
  return 'base_event';
}

function otrfFiles(): string[] {
  if (!existsSync(OTRF)) return [];
  return ['discovery', 'execution', 'persistence']
    .filter((d) => existsSync(join(OTRF, d)))
    .flatMap((d) => readdirSync(join(OTRF, d)).filter((f) => f.endsWith('.ndjson.gz')).map((f) => join(OTRF, d, f)));
}

const FILES = otrfFiles();
const classCounts = (events: { event_class: string }[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const e of events) out[e.event_class] = (out[e.event_class] ?? 0) + 1;
  return out;
};

describe.skipIf(FILES.length === 0)('windows.event real OTRF samples (need ../shared/data/windows/otrf; skipped when absent)', () => {
  for (const path of FILES) {
    it(`${path.slice(OTRF.length)}: every record decodes to its expected class`, () => {
      const bytes = gunzipSync(readFileSync(path));
      const records = bytes.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      const result = windowsEventFormat.decode(bytes, ctx);
      expect(result.errors.map((e) => e.message)).toEqual([]);
      expect(result.events).toHaveLength(records.length);
      // Collected, then asserted once: an expect per event costs seconds on the 40k-record file.
      const wrong: string[] = [];
      result.events.forEach((event, i) => {
        const r = records[i] as Record<string, unknown>;
        const want = expectedClass(String(r['Channel']), Number(r['EventID']), r['ObjectType']);
        if (event.event_class !== want) wrong.push(`line ${i}: ${String(r['Channel'])} ${String(r['EventID'])} is ${event.event_class}, want ${want}`);
        if (!event.host) wrong.push(`line ${i}: no host`);
        if (event.event_class === 'process_activity' && !event.process) wrong.push(`line ${i}: no process`);
        if (event.event_class === 'authentication' && !/^(success|failure)$/.test(event.auth?.result ?? '')) wrong.push(`line ${i}: no auth result`);
      });
      expect(wrong.slice(0, 20)).toEqual([]);
    });
  }

  it('cmd_discover_iexplorer_version_registry: class counts per EventID', () => {
    const path = FILES.find((f) => f.endsWith('cmd_discover_iexplorer_version_registry.ndjson.gz'));
    if (path === undefined) return;
    const events = windowsEventFormat.decode(gunzipSync(readFileSync(path)), ctx).events;
    // Sysmon 1+5+7(10)+10(33) and Security 4688+4689 | Sysmon 12+13(9), 4656/4663 on Keys | Sysmon 11 |
    // Sysmon 9(3), 1102, 4658(2), 4690, System 104.
    expect(classCounts(events)).toEqual({ process_activity: 47, registry_activity: 12, file_activity: 1, base_event: 8 });
    const create = events.find((e) => e.attributes['EventID'] === '1');
    expect(create?.process).toMatchObject({ name: 'reg.exe', pid: 2200, parent_pid: 10308, integrity_level: 'High', user: 'WORKSTATION5\\wardog' });
    expect(create?.process?.hashes).toMatchObject({ md5: '601bddf7691c5af626a5719f1d7e35f1', imphash: 'be482be427fe212cfef2cda0e61f19ac' });
    const secCreate = events.find((e) => e.attributes['EventID'] === '4688');
    expect(secCreate?.process).toMatchObject({ pid: 0x898, parent_pid: 0x2844, integrity_level: 'High', path: 'C:\\Windows\\System32\\reg.exe' });
  });

  it('covenant_getdomaingroup_ldap_searchrequest_domain_admins: class counts per EventID', () => {
    const path = FILES.find((f) => f.endsWith('covenant_getdomaingroup_ldap_searchrequest_domain_admins.ndjson.gz'));
    if (path === undefined) return;
    const events = windowsEventFormat.decode(gunzipSync(readFileSync(path)), ctx).events;
    // 4624(3)+4634(2)+4672(3)+4769(1) | Sysmon 5(2)+7(18)+10(270), 4689(2) | Sysmon 3(4) | Sysmon 12(37)+13(19),
    // 4656/4663 on Keys (32+32) | Sysmon 11(4)+23(1) | Sysmon 22 | 4627, 4658, 4690, 5156, 5158.
    expect(classCounts(events)).toEqual({
      authentication: 9, process_activity: 292, network_activity: 4, registry_activity: 120, file_activity: 5, dns_activity: 1, base_event: 188,
    });
    const kerberos = events.find((e) => e.attributes['EventID'] === '4769');
    expect(kerberos?.auth).toMatchObject({ protocol: 'kerberos', result: 'success', service: 'MORDORDC$' });
    expect(kerberos?.src_ip).toBe('172.18.39.5');
    const connect = events.find((e) => e.event_class === 'network_activity');
    expect(connect).toMatchObject({ protocol: 'tcp', src_ip: '172.18.39.5', dst_ip: '172.18.38.5', dst_port: 389 });
    expect(connect?.process?.name).toBe('GruntHTTP.exe');
  });
});
