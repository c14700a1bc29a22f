import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ConfigError } from '@mamori/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from './inventory.ts';
import { parseCidr, parseIp, parseIpInto, formatIp } from './ip.ts';
import { PrefixTrie } from './prefix-trie.ts';
import { InventoryStore } from './store.ts';

const GOOD = `
version: 1
organizations:
  - { id: acme, name: ACME Corp }
  - { id: globex, name: Globex }
sensors:
  - id: zeek-hq-1
    org: acme
    site: hq
    ingest_token_sha256: ${createHash('sha256').update('s3cret').digest('hex')}
    formats: [zeek.conn]
  - { id: zeek-globex-1, org: globex, site: dc1 }
home_networks:
  acme: [10.0.0.0/8, 2001:db8:ac::/48]
  globex: [10.0.0.0/8]
assets:
  - { org: acme, network: 10.1.0.0/16, name: office-lan, owner: it, criticality: low }
  - { org: acme, network: 10.1.2.3, name: dc01, owner: it-ops, criticality: critical }
  - { org: acme, network: "2001:db8:ac:1::/64", name: v6-servers, owner: infra, criticality: high }
  - { org: globex, network: 10.1.2.3, name: globex-printer }
`;

function problems(text: string): string {
  try {
    parseInventory(text, 'inv.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseInventory', () => {
  const inv = parseInventory(GOOD);

  it('indexes sensors by id with their organization and site', () => {
    expect(inv.sensor('zeek-hq-1')).toMatchObject({ org: 'acme', site: 'hq', formats: ['zeek.conn'] });
    expect(inv.sensor('zeek-globex-1')?.formats).toBeUndefined();
    expect(inv.sensor('nope')).toBeUndefined();
    expect(inv.organization('acme')?.name).toBe('ACME Corp');
  });

  it('verifies ingest tokens against the stored hash only', () => {
    expect(inv.verifyIngestToken('zeek-hq-1', 's3cret')).toBe(true);
    expect(inv.verifyIngestToken('zeek-hq-1', 'wrong')).toBe(false);
    expect(inv.verifyIngestToken('zeek-globex-1', 's3cret')).toBe(false);
    expect(inv.verifyIngestToken('unknown', 's3cret')).toBe(false);
  });

  it('finds the most specific asset per organization, IPv4 and IPv6', () => {
    expect(inv.asset('acme', '10.1.2.3')).toMatchObject({ name: 'dc01', criticality: 'critical', network: '10.1.2.3/32' });
    expect(inv.asset('acme', '10.1.9.9')).toMatchObject({ name: 'office-lan', network: '10.1.0.0/16' });
    expect(inv.asset('acme', '10.2.0.1')).toBeUndefined();
    expect(inv.asset('globex', '10.1.2.3')?.name).toBe('globex-printer');
    expect(inv.asset('globex', '10.1.2.4')).toBeUndefined();
    expect(inv.asset('acme', '2001:db8:ac:1::42')).toMatchObject({ name: 'v6-servers', network: '2001:db8:ac:1::/64' });
    expect(inv.asset('acme', '::ffff:10.1.2.3')?.name).toBe('dc01');
    expect(inv.asset('acme', 'not-an-ip')).toBeUndefined();
  });

  it('knows home networks per organization', () => {
    expect(inv.isHome('acme', '10.200.0.1')).toBe(true);
    expect(inv.isHome('acme', '2001:db8:ac:ffff::1')).toBe(true);
    expect(inv.isHome('acme', '2001:db8:ad::1')).toBe(false);
    expect(inv.isHome('acme', '8.8.8.8')).toBe(false);
    expect(inv.hasHomeNetworks('globex')).toBe(true);
    expect(inv.hasHomeNetworks('nobody')).toBe(false);
  });

  it('accepts JSON and an empty file', () => {
    expect(parseInventory(JSON.stringify({ organizations: [{ id: 'a', name: 'A' }], sensors: [{ id: 's', org: 'a', site: 'x' }] })).sensor('s')?.org).toBe('a');
    expect(parseInventory('').sensorCount).toBe(0);
  });

  it('reports every problem at once, each with its path in the file', () => {
    const message = problems(`
organizations:
  - { id: acme, name: ACME }
  - { id: acme, name: again }
sensors:
  - { id: s1, org: nobody, site: hq }
  - { id: "bad id", org: acme }
  - { id: s2, org: acme, site: hq, ingest_token_sha256: plaintext-token, formats: [] }
  - { id: s1, org: acme, site: hq }
home_networks:
  acme: [10.0.0.0/33, 10.0.0.1/8, banana]
  ghost: [10.0.0.0/8]
assets:
  - { org: acme, network: 300.1.1.1, name: x }
  - { org: acme, network: 10.0.0.0/8, criticality: extreme }
  - { org: acme, network: 10.0.0.0/8, name: dup, colour: red }
  - { org: acme, network: 10.0.0.0/8, name: dup2 }
extra: true
`);
    expect(message).toContain('inv.yaml: invalid inventory');
    for (const expected of [
      'organizations[1].id: duplicate organization "acme"',
      'sensors[0].org: organization "nobody" is not listed under organizations',
      'sensors[1].id: "bad id" must be 1-128 letters',
      'sensors[1].site: is required',
      'sensors[2].ingest_token_sha256: "plaintext-token" must be 64 lower-case hex digits',
      'sensors[2].formats: must be a non-empty list',
      'sensors[3].id: duplicate sensor "s1"',
      'home_networks.acme[0]: prefix length "33" must be 0-32',
      'home_networks.acme[1]: 10.0.0.1/8 has host bits set beyond /8',
      'home_networks.acme[2]: "banana" is not an IP address',
      'home_networks.ghost: organization "ghost" is not listed under organizations',
      'assets[0].network: "300.1.1.1" is not an IP address',
      'assets[1].name: is required',
      'assets[1].criticality: "extreme" must be one of: low, medium, high, critical',
      'assets[2].colour: unknown field',
      'assets[3].network: 10.0.0.0/8 is listed twice for organization acme',
      'extra: unknown section',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('names the line of a YAML syntax error', () => {
    expect(problems('organizations:\n  - id: [unclosed\n')).toMatch(/inv\.yaml: not valid YAML \(line \d+\)/);
  });
});

describe('PrefixTrie', () => {
  it('returns the longest matching prefix with overlapping networks', () => {
    const trie = new PrefixTrie<string>();
    for (const cidr of ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.128/25', '::/0', '2001:db8::/32', '2001:db8:1::/48', '2001:db8:1::1/128']) trie.insert(cidr, cidr);
    expect(trie.size).toBe(9);
    const at = (ip: string) => trie.lookup(ip)?.value;
    expect(at('10.1.2.200')).toBe('10.1.2.128/25');
    expect(at('10.1.2.5')).toBe('10.1.2.0/24');
    expect(at('10.1.3.5')).toBe('10.1.0.0/16');
    expect(at('10.9.9.9')).toBe('10.0.0.0/8');
    expect(at('11.0.0.1')).toBe('0.0.0.0/0');
    expect(at('2001:db8:1::1')).toBe('2001:db8:1::1/128');
    expect(at('2001:db8:1::2')).toBe('2001:db8:1::/48');
    expect(at('2001:db8:2::1')).toBe('2001:db8::/32');
    expect(at('fe80::1')).toBe('::/0');
    expect(at('garbage')).toBeUndefined();
  });

  it('keeps IPv4 and IPv6 apart and replaces a value on re-insert', () => {
    const trie = new PrefixTrie<number>();
    trie.insert('10.0.0.0/8', 1);
    trie.insert('10.0.0.0/8', 2);
    expect(trie.size).toBe(1);
    expect(trie.lookup('10.0.0.1')?.value).toBe(2);
    expect(trie.lookup('a00::1')).toBeUndefined();
  });

  it('agrees with a linear scan on random prefixes and addresses', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const trie = new PrefixTrie<string>();
    const nets: { bytes: Uint8Array; len: number; text: string }[] = [];
    for (let i = 0; i < 300; i++) {
      const len = rnd() % 33;
      const n = rnd() >>> 0;
      const masked = len === 0 ? 0 : (n & (0xffffffff << (32 - len))) >>> 0;
      const text = `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`;
      trie.insert(text, text);
      nets.push({ bytes: new Uint8Array([masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255]), len, text });
    }
    for (let i = 0; i < 2000; i++) {
      const a = (rnd() ^ (rnd() << 16)) >>> 0;
      const ip = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
      let best: string | undefined;
      let bestLen = -1;
      for (const net of nets) {
        const mask = net.len === 0 ? 0 : (0xffffffff << (32 - net.len)) >>> 0;
        const netInt = ((net.bytes[0]! << 24) | (net.bytes[1]! << 16) | (net.bytes[2]! << 8) | net.bytes[3]!) >>> 0;
        if (((a & mask) >>> 0) === netInt && net.len > bestLen) {
          best = net.text;
          bestLen = net.len;
        }
      }
      expect(trie.lookup(ip)?.prefix.prefixLength ?? -1).toBe(bestLen);
      if (best) expect(trie.lookup(ip)?.value.split('/')[1]).toBe(String(bestLen));
    }
  });
});

describe('ip parsing', () => {
  it('parses and prints IPv6 forms', () => {
    expect(formatIp(parseIp('2001:0db8:0000:0000:0000:ff00:0042:8329')!)).toBe('2001:db8::ff00:42:8329');
    expect(formatIp(parseIp('::1')!)).toBe('::1');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('64:ff9b::192.0.2.33')!)).toBe('64:ff9b::c000:221');
    expect(parseIp('::ffff:192.0.2.1')).toMatchObject({ version: 4 });
    expect(parseIp('fe80::1%eth0')).toMatchObject({ version: 6 });
    for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '010.0.0.1', '1.2.3', '1.2.3.256', '']) expect(parseIp(bad)).toBeUndefined();
    expect(parseCidr('10.0.0.0/8')).toMatchObject({ version: 4, prefixLength: 8 });
  });

  it('parseIpInto gives what parseIp gives, IPv4 written into the caller\'s object', () => {
    const v4 = { version: 4, bytes: new Uint8Array(4) } as const;
    // In sequence on one object: a failed parse after a good one must not hand back the stale bytes.
    const texts = ['10.0.0.5', '010.0.0.1', '255.255.255.255', '1.2.3', '', 'x', '::ffff:192.0.2.1', '2001:db8::1', '1.2.3.4 ', '0.0.0.0', '1:2:3:4:5:6:7:8:9'];
    for (const text of texts) {
      const want = parseIp(text);
      const got = parseIpInto(text, v4);
      expect(got === undefined ? undefined : { version: got.version, bytes: [...got.bytes] }, text).toEqual(want === undefined ? undefined : { version: want.version, bytes: [...want.bytes] });
      // Dotted quads land in the given object; IPv6 (mapped or not) comes back as a new one.
      if (got !== undefined) expect(got === v4, text).toBe(!text.includes(':'));
    }
  });

  it('reads IPv4 exactly as four parts of 0..255 without leading zeros, on generated text', () => {
    // The rule as first written (split, a regex per part): the one-pass parser must agree with it.
    const reference = (text: string): number[] | undefined => {
      const parts = text.split('.');
      if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
      return parts.map(Number);
    };
    // Parts of digits (sometimes odd characters), three to five of them joined by dots.
    const pieces = ['0', '1', '2', '5', '9', '25', '255', '256', '00', '1000', '', 'a', ' ', '-', '+', '.', '\u0661'];
    let seed = 12345;
    const next = (k: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    let valid = 0;
    for (let i = 0; i < 50_000; i++) {
      const parts: string[] = [];
      const count = [3, 4, 4, 4, 4, 5][next(6)]!;
      for (let j = 0; j < count; j++) {
        let part = pieces[next(10)]!;
        if (next(4) === 0) part += pieces[next(pieces.length)]!;
        parts.push(part);
      }
      const text = parts.join('.');
      const want = reference(text);
      const got = parseIp(text);
      expect(got === undefined ? undefined : [...got.bytes], text).toEqual(want);
      if (want) valid++;
    }
    for (const text of ['0.0.0.0', '255.255.255.255', '1.22.133.4', '10.0.0.01', '1.2.3.4.', '.1.2.3', '1..2.3', '1.2.3.4 ', '1.2.3.1000', '1.2.3.-1']) {
      const want = reference(text);
      expect(parseIp(text) === undefined ? undefined : [...parseIp(text)!.bytes], text).toEqual(want);
    }
    // The generator reaches valid addresses too (else the comparison proves little).
    expect(valid).toBeGreaterThan(1000);
  });
});

describe('InventoryStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-inventory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reloads a good new file and keeps the old inventory when the new one is bad', () => {
    const file = join(dir, 'inv.yaml');
    writeFileSync(file, GOOD);
    const store = InventoryStore.open(file);
    expect(store.current.sensor('zeek-hq-1')).toBeDefined();
    writeFileSync(file, 'sensors:\n  - { id: new-1, org: nobody, site: x }\n');
    const errors: unknown[] = [];
    expect(store.reload({ onError: (e) => errors.push(e) })).toBe(false);
    expect(store.failures).toBe(1);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect(store.current.sensor('zeek-hq-1')).toBeDefined();
    writeFileSync(file, 'organizations: [{ id: o, name: O }]\nsensors:\n  - { id: new-1, org: o, site: x }\n');
    expect(store.reload()).toBe(true);
    expect(store.current.sensor('new-1')?.org).toBe('o');
    expect(store.current.sensor('zeek-hq-1')).toBeUndefined();
  });

  it('watches the file (also when replaced by rename) with a debounce', async () => {
    const file = join(dir, 'watched.yaml');
    writeFileSync(file, GOOD);
    const store = InventoryStore.open(file);
    const reloaded = new Promise<void>((resolve, reject) => {
      store.watch({ debounceMs: 50, onReload: () => resolve(), onError: reject });
    });
    const tmp = join(dir, 'watched.yaml.tmp');
    writeFileSync(tmp, 'organizations: [{ id: o, name: O }]\nsensors: [{ id: renamed, org: o, site: x }]\n');
    renameSync(tmp, file);
    await reloaded;
    expect(store.current.sensor('renamed')).toBeDefined();
    store.close();
  });

  it('refuses a missing file at open with the path', () => {
    expect(() => InventoryStore.open(join(dir, 'missing.yaml'))).toThrow(/cannot read inventory file .*missing\.yaml/);
  });
});
