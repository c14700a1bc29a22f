import type { ExternalSite, InternalService, SimulatedNetwork } from './network.ts';
import type { Random } from './prng.ts';
import { zeekUid, type ConnRecord } from './zeek-conn-line.ts';

interface Client {
  ip: string;
  /** Relative share of the network's connections. */
  weight: number;
  /** The few external sites this host talks to: keeps its fan-out small, like a real user. */
  favorites: ExternalSite[];
}

interface Workload {
  weight: number;
  make(client: Client, tsUs: number): ConnRecord;
}

/**
 * Ordinary traffic of a small office network as an endless, time-ordered stream: each client uses
 * internal DNS, LDAP/Kerberos, SMB and the intranet, and a handful of favourite external sites; the
 * DNS server forwards to external resolvers. Mostly SF, a few S0/REJ/RSTO as real networks have.
 */
export function* benignTraffic(random: Random, network: SimulatedNetwork, startUs: number, ratePerSecond: number): Generator<ConnRecord> {
  const clients: Client[] = network.clients.map((ip) => ({
    ip,
    weight: random.logNormal(1, 0.8),
    favorites: Array.from({ length: random.int(3, 7) }, () => random.pick(network.externalSites)),
  }));
  const cumulative: number[] = [];
  let total = 0;
  for (const c of clients) cumulative.push((total += c.weight));
  const pickClient = (): Client => {
    const x = random.next() * total;
    let lo = 0;
    let hi = clients.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return clients[lo] as Client;
  };

  const s = network.servers;
  const internal = (name: string, ip: string, port: number, proto: 'tcp' | 'udp', service: string | undefined): InternalService => ({ name, ip, port, proto, service });
  const dns = internal('dns', s.dns, 53, 'udp', 'dns');
  const ldap = internal('ldap', s.ldap, 389, 'tcp', 'ldap');
  const kerberos = internal('kerberos', s.kerberos, 88, 'udp', 'krb');
  const smb = internal('smb', s.smb, 445, 'tcp', 'smb');
  const intranet = internal('intranet', s.intranet, 443, 'tcp', 'ssl');
  const ntp = internal('ntp', s.ntp, 123, 'udp', 'ntp');

  const ephemeral = (): number => random.int(49152, 65535);
  const base = (client: Client, tsUs: number, respH: string, respP: number, proto: 'tcp' | 'udp'): ConnRecord => ({
    tsUs,
    uid: zeekUid(random),
    origH: client.ip,
    origP: ephemeral(),
    respH,
    respP,
    proto,
    connState: 'SF',
    localOrig: true,
    localResp: !network.externalSites.some((site) => site.ip === respH) && !network.externalResolvers.includes(respH),
    origPkts: 1,
    respPkts: 1,
  });

  /** A request/response datagram pair (DNS, Kerberos, NTP); sometimes unanswered. */
  const udpExchange = (r: ConnRecord, service: string | undefined, reqBytes: [number, number], respBytes: [number, number]): ConnRecord => {
    r.service = service;
    r.origBytes = random.int(reqBytes[0], reqBytes[1]);
    if (random.chance(0.02)) {
      r.connState = 'S0';
      r.history = 'D';
      r.respBytes = 0;
      r.respPkts = 0;
      r.durationS = undefined;
      r.origBytes = r.origBytes;
      return r;
    }
    r.respBytes = random.int(respBytes[0], respBytes[1]);
    r.durationS = random.logNormal(0.004, 1);
    r.history = 'Dd';
    return r;
  };

  /** A TCP session of the given size; a small share fail the way real ones do. */
  const tcpSession = (r: ConnRecord, service: string | undefined, medianOut: number, medianIn: number, medianDurationS: number): ConnRecord => {
    const roll = random.next();
    if (roll < 0.02) {
      // SYN with no answer: Zeek leaves duration and byte counts unset for a single packet.
      r.connState = 'S0';
      r.history = 'S';
      r.origPkts = random.chance(0.7) ? 1 : 2;
      r.respPkts = 0;
      if (r.origPkts > 1) {
        r.durationS = random.logNormal(1, 0.3);
        r.origBytes = 0;
        r.respBytes = 0;
      }
      return r;
    }
    if (roll < 0.03) {
      r.connState = 'REJ';
      r.history = 'Sr';
      r.durationS = random.logNormal(0.0005, 0.8);
      r.origBytes = 0;
      r.respBytes = 0;
      return r;
    }
    r.service = service;
    r.origBytes = Math.round(random.logNormal(medianOut, 1));
    r.respBytes = Math.round(random.logNormal(medianIn, 1.3));
    r.durationS = random.logNormal(medianDurationS, 1.2);
    r.origPkts = 3 + Math.ceil(r.origBytes / 1200);
    r.respPkts = 2 + Math.ceil(r.respBytes / 1400);
    if (roll < 0.045) {
      r.connState = 'RSTO';
      r.history = 'ShADadR';
    } else {
      r.history = 'ShADadFf';
    }
    return r;
  };

  const workloads: Workload[] = [
    { weight: 34, make: (c, ts) => udpExchange(base(c, ts, dns.ip, dns.port, 'udp'), dns.service, [28, 70], [44, 320]) },
    { weight: 25, make: (c, ts) => { const site = random.pick(c.favorites); return tcpSession(base(c, ts, site.ip, site.port, 'tcp'), site.port === 443 ? 'ssl' : 'http', 900, 12_000, 2); } },
    { weight: 8, make: (c, ts) => tcpSession(base(c, ts, ldap.ip, ldap.port, 'tcp'), ldap.service, 400, 1800, 0.05) },
    { weight: 4, make: (c, ts) => udpExchange(base(c, ts, kerberos.ip, kerberos.port, 'udp'), kerberos.service, [180, 1400], [200, 1500]) },
    { weight: 9, make: (c, ts) => tcpSession(base(c, ts, smb.ip, smb.port, 'tcp'), smb.service, 2000, 30_000, 3) },
    { weight: 7, make: (c, ts) => tcpSession(base(c, ts, intranet.ip, random.chance(0.8) ? 443 : 80, 'tcp'), undefined, 700, 8000, 0.6) },
    { weight: 1, make: (c, ts) => udpExchange(base(c, ts, ntp.ip, ntp.port, 'udp'), ntp.service, [48, 48], [48, 48]) },
    {
      // The DNS server forwards what it cannot answer.
      weight: 6,
      make: (_c, ts) => {
        const r = udpExchange(base({ ip: dns.ip, weight: 0, favorites: [] }, ts, random.pick(network.externalResolvers), 53, 'udp'), 'dns', [30, 70], [60, 500]);
        r.localResp = false;
        return r;
      },
    },
  ];
  const workloadTotal = workloads.reduce((sum, w) => sum + w.weight, 0);
  const pickWorkload = (): Workload => {
    let x = random.next() * workloadTotal;
    for (const w of workloads) if ((x -= w.weight) < 0) return w;
    return workloads[0] as Workload;
  };

  const meanGapUs = 1e6 / ratePerSecond;
  let tsUs = startUs;
  for (;;) {
    tsUs += Math.max(1, Math.round(random.exponential(meanGapUs)));
    yield pickWorkload().make(pickClient(), tsUs);
  }
}
