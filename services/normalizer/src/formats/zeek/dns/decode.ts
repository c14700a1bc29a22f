import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optBool, optCount, optString, stringList } from '../fields.ts';

/** Zeek `dns.log` → `dns_activity`. */
export const dnsSpec: ZeekLogSpec = {
  log: 'dns',
  eventClass: 'dns_activity',
  protocol: 'udp',
  mapped: ['query', 'qtype', 'qtype_name', 'rcode', 'rcode_name', 'answers', 'trans_id', 'rejected'],
  sniffJson: (rec) => (hasAll(rec, 'query') && hasAny(rec, 'qtype_name', 'qtype', 'rcode_name', 'trans_id') ? 0.9 : 0),
  map(rec, event) {
    const query = optString(rec, 'query');
    const qtype = optString(rec, 'qtype_name') ?? optString(rec, 'qtype');
    const rcode = optString(rec, 'rcode_name') ?? optString(rec, 'rcode');
    event.dns = {
      query: query === null ? null : query.toLowerCase().replace(/\.$/, ''),
      qtype,
      rcode,
      answers: stringList(rec, 'answers'),
      trans_id: optCount(rec, 'trans_id'),
      rejected: optBool(rec, 'rejected'),
    };
  },
};
