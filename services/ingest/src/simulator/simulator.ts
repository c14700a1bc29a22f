import { attackProbes, type AttackKind, type AttackSpec } from './attacks.ts';
import { benignTraffic } from './benign.ts';
import { intToIpv4, parseCidr, type SimulatedNetwork } from './network.ts';
import { createRandom } from './prng.ts';
import { connLine, type ConnRecord } from './zeek-conn-line.ts';

export type SimulatedLabel = 'benign' | `attack:${AttackKind}`;

/** One log line as a sensor would ship it. The label is ground truth for tests; it is never in `line`. */
export interface SimulatedRecord {
  /** A Zeek conn JSON log line (no trailing newline). */
  line: string;
  /** Connection start (Zeek `ts`), epoch milliseconds. */
  sensorTime: number;
  label: SimulatedLabel;
}

export interface SimulatorOptions {
  /** Same seed, same traffic. */
  seed: number | string;
  /** Simulated clock start, epoch milliseconds. @default 1_700_000_000_000 */
  startTime?: number;
  /** The home network. @default '10.20.0.0/16' */
  homeCidr?: string;
  /** Number of client hosts. @default 50 */
  hosts?: number;
  /** Mean benign connections per simulated second across the network. @default 50 */
  ratePerSecond?: number;
  /** Injected attacks, each at an offset from `startTime`. @default [] */
  attacks?: readonly AttackSpec[];
  /** Stop after this much simulated time, in milliseconds. @default unbounded */
  durationMs?: number;
  /** Stop after this many records. @default unbounded */
  count?: number;
}

/** A re-iterable, lazy stream of records: every iteration starts over from the seed. */
export interface Simulator extends Iterable<SimulatedRecord> {
  readonly network: SimulatedNetwork;
  /** The source address each attack (by index in `attacks`) uses. */
  readonly attackSources: readonly string[];
}

/** Server offsets inside the home network; clients start after them. */
const SERVER_OFFSETS = { dns: 2, ldap: 3, kerberos: 3, smb: 4, intranet: 5, ntp: 2 } as const;
const FIRST_CLIENT_OFFSET = 20;

function buildNetwork(seed: number | string, homeCidr: string, hosts: number): SimulatedNetwork {
  const cidr = parseCidr(homeCidr);
  if (FIRST_CLIENT_OFFSET + hosts >= cidr.size - 1) throw new Error(`${homeCidr} cannot hold ${hosts} hosts and the servers`);
  const random = createRandom(`${seed}:network`);
  // Real-looking public addresses (large CDN/cloud ranges), fixed per seed.
  const prefixes = ['13.107', '20.190', '23.215', '34.117', '52.96', '104.18', '142.250', '151.101', '172.217', '185.199'];
  const externalSites = Array.from({ length: 40 }, () => ({
    ip: `${random.pick(prefixes)}.${random.int(0, 255)}.${random.int(1, 254)}`,
    port: random.chance(0.85) ? (443 as const) : (80 as const),
  }));
  return {
    homeCidr,
    clients: Array.from({ length: hosts }, (_, i) => intToIpv4(cidr.base + FIRST_CLIENT_OFFSET + i)),
    servers: Object.fromEntries(Object.entries(SERVER_OFFSETS).map(([name, off]) => [name, intToIpv4(cidr.base + off)])) as unknown as SimulatedNetwork['servers'],
    externalResolvers: ['8.8.8.8', '1.1.1.1', '9.9.9.9'],
    externalSites,
  };
}

/**
 * A deterministic generator of Zeek conn JSON lines: ordinary traffic of a small network plus
 * injected scans, in time order, lazily. Bounded by `durationMs` and/or `count` when given.
 */
export function createSimulator(options: SimulatorOptions): Simulator {
  const startTime = options.startTime ?? 1_700_000_000_000;
  const homeCidr = options.homeCidr ?? '10.20.0.0/16';
  const hosts = options.hosts ?? 50;
  const rate = options.ratePerSecond ?? 50;
  if (!(rate > 0)) throw new Error(`ratePerSecond must be positive, got ${rate}`);
  if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`hosts must be a positive integer, got ${hosts}`);
  const attacks = options.attacks ?? [];
  const network = buildNetwork(options.seed, homeCidr, hosts);
  const cidr = parseCidr(homeCidr);
  const startUs = startTime * 1000;
  const planned = () =>
    attacks.map((spec, i) => ({ spec, ...attackProbes(createRandom(`${options.seed}:attack:${i}`), spec, network, cidr, startUs) }));
  const attackSources = planned().map((a) => a.source);

  function* iterate(): Generator<SimulatedRecord> {
    const endUs = options.durationMs === undefined ? Infinity : startUs + options.durationMs * 1000;
    const limit = options.count ?? Infinity;
    const benign = benignTraffic(createRandom(`${options.seed}:benign`), network, startUs, rate);
    const streams = planned().map((a) => ({ label: `attack:${a.spec.kind}` as SimulatedLabel, probes: a.probes, next: 0 }));
    let nextBenign: ConnRecord = benign.next().value as ConnRecord;
    for (let emitted = 0; emitted < limit; emitted++) {
      let record = nextBenign;
      let label: SimulatedLabel = 'benign';
      let from: (typeof streams)[number] | undefined;
      for (const stream of streams) {
        const probe = stream.probes[stream.next];
        if (probe && probe.tsUs < record.tsUs) {
          record = probe;
          label = stream.label;
          from = stream;
        }
      }
      if (record.tsUs >= endUs) return;
      if (from) from.next++;
      else nextBenign = benign.next().value as ConnRecord;
      yield { line: connLine(record), sensorTime: Math.floor(record.tsUs / 1000), label };
    }
  }

  return { network, attackSources, [Symbol.iterator]: iterate };
}
