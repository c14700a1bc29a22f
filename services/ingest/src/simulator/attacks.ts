import { inCidr, intToIpv4, type Cidr, type SimulatedNetwork } from './network.ts';
import type { Random } from './prng.ts';
import { zeekUid, type ConnRecord } from './zeek-conn-line.ts';

/** One probe sweep of many hosts on one or a few ports (nmap -sS -p445 10.20.0.0/16). */
export interface HorizontalScanSpec {
  kind: 'horizontal_scan';
  /** Start, milliseconds after the simulation start. */
  at: number;
  /** Scanning address. @default a client of the home network (a compromised host) */
  source?: string;
  /** Hosts probed: a count of consecutive home addresses, or explicit addresses. @default 200 */
  targets?: number | readonly string[];
  /** Ports probed on every target. @default [445] */
  ports?: readonly number[];
  /** Time the sweep takes, in milliseconds. @default 20000 */
  durationMs?: number;
}

/** Many ports of one host (nmap -sS target). */
export interface VerticalScanSpec {
  kind: 'vertical_scan';
  /** Start, milliseconds after the simulation start. */
  at: number;
  /** Scanning address. @default a client of the home network (a compromised host) */
  source?: string;
  /** The host probed. @default the SMB/file server */
  target?: string;
  /** Ports probed: a count (ports 1..n, in random order) or explicit ports. @default 500 */
  ports?: number | readonly number[];
  /** Time the scan takes, in milliseconds. @default 15000 */
  durationMs?: number;
}

export type AttackSpec = HorizontalScanSpec | VerticalScanSpec;
export type AttackKind = AttackSpec['kind'];

/** Ports a scan finds open on live hosts, answered by a completed handshake then a reset. */
const COMMONLY_OPEN = new Set([22, 53, 80, 88, 135, 139, 389, 443, 445, 3389]);

function shuffle<T>(random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * The probes of one attack, time-ordered. A probe to an address with no host goes unanswered (S0,
 * a single SYN: Zeek leaves duration and bytes unset); a live host refuses closed ports (REJ) and
 * answers open ones, which the scanner then resets (RSTO).
 */
export function attackProbes(
  random: Random,
  spec: AttackSpec,
  network: SimulatedNetwork,
  cidr: Cidr,
  startUs: number,
): { source: string; probes: ConnRecord[] } {
  const source = spec.source ?? random.pick(network.clients);
  const live = new Set<string>([...network.clients, ...Object.values(network.servers)]);
  const pairs: { host: string; port: number }[] = [];
  let durationMs: number;
  if (spec.kind === 'horizontal_scan') {
    durationMs = spec.durationMs ?? 20_000;
    const ports = spec.ports ?? [445];
    let hosts: string[];
    if (typeof spec.targets === 'object') {
      hosts = [...spec.targets];
    } else {
      const count = spec.targets ?? 200;
      if (count > cidr.size - 2) throw new Error(`horizontal_scan targets=${count} exceeds the home network`);
      const first = random.int(0, Math.max(0, cidr.size - 2 - count));
      hosts = [];
      for (let i = 0; hosts.length < count; i++) {
        const ip = intToIpv4(cidr.base + 1 + ((first + i) % (cidr.size - 2)));
        if (ip !== source) hosts.push(ip);
      }
    }
    for (const host of hosts) for (const port of ports) pairs.push({ host, port });
  } else {
    durationMs = spec.durationMs ?? 15_000;
    const host = spec.target ?? network.servers.smb;
    const ports = typeof spec.ports === 'object' ? [...spec.ports] : shuffle(random, Array.from({ length: spec.ports ?? 500 }, (_, i) => i + 1));
    for (const port of ports) pairs.push({ host, port });
  }
  const gapUs = (durationMs * 1000) / Math.max(1, pairs.length);
  let tsUs = startUs + spec.at * 1000;
  const probes: ConnRecord[] = [];
  for (const { host, port } of pairs) {
    tsUs += Math.max(1, Math.round(gapUs * (0.5 + random.next())));
    const probe: ConnRecord = {
      tsUs,
      uid: zeekUid(random),
      origH: source,
      origP: random.int(40000, 65535),
      respH: host,
      respP: port,
      proto: 'tcp',
      connState: 'S0',
      localOrig: inCidr(cidr, source),
      localResp: inCidr(cidr, host),
      history: 'S',
      origPkts: 1,
      respPkts: 0,
    };
    if (live.has(host) && !random.chance(0.05)) {
      probe.durationS = random.logNormal(0.0004, 0.6);
      probe.origBytes = 0;
      probe.respBytes = 0;
      probe.respPkts = 1;
      if (COMMONLY_OPEN.has(port) && random.chance(0.5)) {
        probe.connState = 'RSTO';
        probe.history = 'ShR';
        probe.origPkts = 2;
      } else {
        probe.connState = 'REJ';
        probe.history = 'Sr';
      }
    }
    probes.push(probe);
  }
  return { source, probes };
}
