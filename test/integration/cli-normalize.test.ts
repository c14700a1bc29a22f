import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

/** `mamori normalize` as a user runs it: a child process on files in a temp directory. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'mamori-cli-normalize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function mamori(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'silent', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const conn = (src: string, dst: string, port: number) =>
  JSON.stringify({ ts: 1517422326.5, uid: `C${port}`, 'id.orig_h': src, 'id.orig_p': 40000 + port, 'id.resp_h': dst, 'id.resp_p': port, proto: 'tcp', conn_state: 'S0' });

const GOOD = [conn('10.0.0.5', '8.8.8.8', 53), conn('203.0.113.7', '10.0.0.5', 22), conn('10.0.0.5', '10.0.0.6', 445)];
const events = (r: Result) => r.stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('mamori normalize', () => {
  it('reads plain and gzip files (by content, not name) and whole directories; reports bad lines with file:line and a summary', async () => {
    const sub = join(dir, 'logs');
    mkdirSync(sub);
    writeFileSync(join(sub, 'plain.txt'), `${GOOD.join('\n')}\nnot json at all\n\n`);
    writeFileSync(join(sub, 'packed.log'), gzipSync(`${GOOD[0]}\n`));
    const r = await mamori(['normalize', sub]);
    expect(r.code).toBe(0);
    const out = events(r);
    expect(out).toHaveLength(4);
    for (const e of out) {
      expect(e['source_format']).toBe('zeek.conn');
      expect(e['org_id']).toBe('default');
      expect(e['community_id']).toMatch(/^1:/);
      expect(e['time']).toBe(1517422326500); // old data keeps its time
    }
    expect(r.stderr).toContain(`${join(sub, 'plain.txt')}:4: PARSE_FAILED`);
    expect(r.stderr).toMatch(/mamori normalize: 2 file\(s\), 5 records, 4 events, 1 dead-lettered \(PARSE_FAILED 1\)/);
    expect(r.stderr).toMatch(/zeek\.conn: 2 file\(s\), 5 records, 4 events, 1 dead-lettered/);
  });

  it('applies the inventory: organization and site from the sensor, direction, assets; unknown sensors dead-lettered', async () => {
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, `organizations: [{ id: acme, name: ACME }]
sensors: [{ id: hq-zeek, org: acme, site: hq }]
home_networks: { acme: [10.0.0.0/8] }
assets: [{ org: acme, network: 10.0.0.5, name: dc01, owner: it, criticality: critical }]
`);
    const file = join(dir, 'conn.json');
    writeFileSync(file, `${GOOD.join('\n')}\n`);
    const env = { MAMORI_INVENTORY_FILE: inv };
    const r = await mamori(['normalize', file, '--sensor', 'hq-zeek'], env);
    expect(r.code).toBe(0);
    const out = events(r);
    expect(out.map((e) => e['direction'])).toEqual(['outbound', 'inbound', 'internal']);
    expect(out[0]).toMatchObject({ org_id: 'acme', site_id: 'hq', sensor_id: 'hq-zeek', src_asset: { name: 'dc01', criticality: 'critical' } });

    const unknown = await mamori(['normalize', file, '--sensor', 'rogue'], env);
    expect(unknown.code).toBe(0);
    expect(events(unknown)).toHaveLength(0);
    expect(unknown.stderr).toContain(`${file}:1: SENSOR_UNREGISTERED`);
    expect(unknown.stderr).toContain('3 dead-lettered (SENSOR_UNREGISTERED 3)');

    const withOrg = await mamori(['normalize', file, '--sensor', 'rogue', '--org', 'lab'], env);
    expect(events(withOrg).map((e) => e['org_id'])).toEqual(['lab', 'lab', 'lab']);
  });

  it('honours --format, and fails with a usage error on an unknown format or a missing file', async () => {
    const file = join(dir, 'forced.json');
    writeFileSync(file, `${GOOD[0]}\n`);
    expect(events(await mamori(['normalize', file, '--format', 'zeek.conn']))).toHaveLength(1);
    const badFormat = await mamori(['normalize', file, '--format', 'nope']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--format "nope" is not a registered format');
    const missing = await mamori(['normalize', join(dir, 'missing.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    expect((await mamori(['normalize'])).code).toBe(2);
  });

  it('accounts for every line: events, dead letters, and lines that are not events (Suricata stats)', async () => {
    const eve = (type: string, extra: Record<string, unknown>) =>
      JSON.stringify({ timestamp: '2024-03-01T10:00:00.000000+0000', event_type: type, ...extra });
    const flow = { flow_id: 1, src_ip: '10.0.0.5', src_port: 40000, dest_ip: '10.0.0.9', dest_port: 443, proto: 'TCP', flow: { pkts_toserver: 1, pkts_toclient: 1, bytes_toserver: 60, bytes_toclient: 60, start: '2024-03-01T10:00:00.000000+0000', end: '2024-03-01T10:00:01.000000+0000' } };
    const file = join(dir, 'eve.json');
    writeFileSync(file, `${[eve('flow', flow), eve('stats', { stats: { uptime: 60 } }), eve('flow', { ...flow, src_port: 40001 }), eve('stats', { stats: { uptime: 120 } }), '{"timestamp":'].join('\n')}\n`);
    const r = await mamori(['normalize', file]);
    expect(r.code).toBe(0);
    expect(events(r)).toHaveLength(2);
    expect(r.stderr).toContain('mamori normalize: 1 file(s), 5 records, 2 events, 1 dead-lettered (PARSE_FAILED 1), 2 not events');
    expect(r.stderr).toMatch(/suricata\.eve: 1 file\(s\), 5 records, 2 events, 1 dead-lettered, 2 not events$/m);
  });

  it('reads what a cut gzip file holds and skips a corrupt one, without failing the run', async () => {
    const sub = join(dir, 'gz');
    mkdirSync(sub);
    const many = Array.from({ length: 2000 }, (_, i) => conn('10.0.0.5', '10.0.0.6', 1 + (i % 60000)));
    const packed = gzipSync(`${many.join('\n')}\n`);
    // Cut mid-stream (a log still being compressed at rotation): the whole lines before the cut are events.
    writeFileSync(join(sub, 'a-cut.log.gz'), packed.subarray(0, Math.floor(packed.length / 2)));
    // Gzip magic, then nothing a gzip reader can use.
    writeFileSync(join(sub, 'b-corrupt.log.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(64, 0xff)]));
    writeFileSync(join(sub, 'c-good.log'), `${GOOD[0]}\n`);
    const r = await mamori(['normalize', sub]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`${join(sub, 'a-cut.log.gz')}: GZIP_TRUNCATED .*read the \\d+ bytes it holds`));
    expect(r.stderr).toContain(`${join(sub, 'b-corrupt.log.gz')}: GZIP_CORRUPT`);
    const out = events(r);
    const counts = r.stderr.match(/mamori normalize: 2 file\(s\), 1 skipped, (\d+) records, (\d+) events, (\d+) dead-lettered/);
    expect(counts).not.toBeNull();
    const [records, evs, dead] = counts!.slice(1).map(Number) as [number, number, number];
    expect(out).toHaveLength(evs);
    expect(records).toBe(evs + dead);
    // The cut gzip held some but not all lines; at most its last line is cut (dead-lettered).
    expect(evs).toBeGreaterThan(100);
    expect(evs).toBeLessThan(many.length + 1);
    expect(dead).toBeLessThanOrEqual(1);
    // The good file after them is read as usual.
    expect((out.at(-1)?.['attributes'] as Record<string, string> | undefined)?.['uid']).toBe('C53');
  });

  it('reads JSON objects written over several lines: a jq-style stream, an exported array, a cut array', async () => {
    const objects = GOOD.map((l) => JSON.parse(l) as Record<string, unknown>);
    const sub = join(dir, 'pretty');
    mkdirSync(sub);
    const stream = objects.map((o) => JSON.stringify(o, null, 2)).join('\n');
    writeFileSync(join(sub, 'stream.json'), `${stream}\n`);
    const array = JSON.stringify(objects, null, 2);
    writeFileSync(join(sub, 'array.json'), array);
    // Cut inside the third object: the first two are events, the cut one a dead letter at its first line.
    writeFileSync(join(sub, 'cut.json'), array.slice(0, array.lastIndexOf('"proto"')));
    const r = await mamori(['normalize', sub]);
    expect(r.code, r.stderr).toBe(0);
    const out = events(r);
    expect(out).toHaveLength(3 + 3 + 2);
    for (const e of out) expect(e['source_format']).toBe('zeek.conn');
    // The line the third object of the array starts on.
    const third = array.slice(0, array.lastIndexOf('\n  {')).split('\n').length + 1;
    expect(r.stderr).toContain(`${join(sub, 'cut.json')}:${third}: PARSE_FAILED`);
    expect(r.stderr).toMatch(/zeek\.conn: 3 file\(s\), 9 records, 8 events, 1 dead-lettered/);
    // A file of one object per line is still read line by line.
    expect(r.stderr).not.toContain('stream.json:');
  }, 60_000);

  it('skips content no format recognizes, without failing the run', async () => {
    const file = join(dir, 'prose.txt');
    writeFileSync(file, 'Dear diary,\ntoday nothing happened.\n');
    const r = await mamori(['normalize', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${file}: FORMAT_UNKNOWN`);
    expect(r.stderr).toContain('0 file(s), 1 skipped');
  });

  const SAMPLE = join(ROOT, '../shared/data/zeek/stratosphere/002-zeek-scenario-port-scanning/conn.log');
  it.skipIf(!existsSync(SAMPLE))('normalizes a real Zeek conn log (stratosphere 002, a port scan) (skipped when ../shared/data is absent)', async () => {
    const r = await mamori(['normalize', SAMPLE]);
    expect(r.code).toBe(0);
    const out = events(r);
    const lines = r.stderr.match(/(\d+) records, (\d+) events, (\d+) dead-lettered/);
    expect(lines).not.toBeNull();
    const [records, evs, dead] = lines!.slice(1).map(Number) as [number, number, number];
    expect(records).toBe(evs + dead);
    expect(out).toHaveLength(evs);
    expect(evs).toBeGreaterThan(4000);
    // One nmap scanner: every event is from a registered-less sensor under the default organization, with a flow id.
    expect(out.every((e) => e['org_id'] === 'default' && typeof e['community_id'] === 'string')).toBe(true);
  }, 120_000);

  const TSV = join(ROOT, '../shared/data/zeek/slips/port-scans/horizontal/conn.log');
  it.skipIf(!existsSync(TSV))('reads a Zeek TSV conn log through the zeek reader, or reports TSV as unsupported', async () => {
    const r = await mamori(['normalize', TSV]);
    expect(r.code).toBe(0);
    if (r.stderr.includes('FORMAT_UNSUPPORTED')) {
      expect(r.stderr).toContain('Zeek TSV');
    } else {
      expect(events(r).length).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/zeek\.conn: 1 file\(s\)/);
    }
  }, 60_000);
});
