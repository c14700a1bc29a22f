import type { Random } from './prng.ts';

/** One Zeek conn entry before it is written as a JSON log line. Absent optionals are omitted, as Zeek does. */
export interface ConnRecord {
  /** Connection start, microseconds since the epoch (Zeek `ts` has microsecond precision). */
  tsUs: number;
  uid: string;
  origH: string;
  origP: number;
  respH: string;
  respP: number;
  proto: 'tcp' | 'udp' | 'icmp';
  service?: string | undefined;
  durationS?: number | undefined;
  origBytes?: number | undefined;
  respBytes?: number | undefined;
  connState: string;
  localOrig: boolean;
  localResp: boolean;
  history?: string | undefined;
  origPkts: number;
  respPkts: number;
}

const UID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Zeek connection uids: `C` followed by 17 base62 characters. */
export function zeekUid(random: Random): string {
  let uid = 'C';
  for (let i = 0; i < 17; i++) uid += UID_ALPHABET[Math.floor(random.next() * 62)];
  return uid;
}

/** Header bytes per packet Zeek counts in *_ip_bytes beyond the payload (IPv4 + TCP with options, or UDP). */
function headerBytes(proto: ConnRecord['proto']): number {
  return proto === 'tcp' ? 52 : 28;
}

/** The record as a line of Zeek's JSON conn log (field names and order as Zeek writes them). */
export function connLine(r: ConnRecord): string {
  const header = headerBytes(r.proto);
  const entry: Record<string, unknown> = {
    ts: r.tsUs / 1e6,
    uid: r.uid,
    'id.orig_h': r.origH,
    'id.orig_p': r.origP,
    'id.resp_h': r.respH,
    'id.resp_p': r.respP,
    proto: r.proto,
  };
  if (r.service !== undefined) entry['service'] = r.service;
  if (r.durationS !== undefined) entry['duration'] = r.durationS;
  if (r.origBytes !== undefined) entry['orig_bytes'] = r.origBytes;
  if (r.respBytes !== undefined) entry['resp_bytes'] = r.respBytes;
  entry['conn_state'] = r.connState;
  entry['local_orig'] = r.localOrig;
  entry['local_resp'] = r.localResp;
  entry['missed_bytes'] = 0;
  if (r.history !== undefined) entry['history'] = r.history;
  entry['orig_pkts'] = r.origPkts;
  entry['orig_ip_bytes'] = (r.origBytes ?? 0) + r.origPkts * header;
  entry['resp_pkts'] = r.respPkts;
  entry['resp_ip_bytes'] = (r.respBytes ?? 0) + r.respPkts * (r.connState === 'REJ' ? 40 : header);
  return JSON.stringify(entry);
}
