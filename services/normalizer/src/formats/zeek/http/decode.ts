import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { firstString, optCount, optString } from '../fields.ts';
import { MAX_INT } from '../../event-limits.ts';

/** Zeek `http.log` → `http_activity`. */
export const httpSpec: ZeekLogSpec = {
  log: 'http',
  aliases: ['open_http'],
  eventClass: 'http_activity',
  protocol: 'tcp',
  // `password` is consumed and dropped: a credential never travels as an attribute.
  mapped: ['method', 'host', 'uri', 'user_agent', 'referrer', 'status_code', 'request_body_len', 'response_body_len', 'version', 'username', 'password'],
  sniffJson: (rec) => (hasAll(rec, 'trans_depth') && hasAny(rec, 'method', 'uri', 'status_code', 'host') ? 0.9 : 0),
  map(rec, event) {
    const status = optCount(rec, 'status_code', MAX_INT);
    event.user = optString(rec, 'username');
    event.http = {
      method: optString(rec, 'method'),
      host: optString(rec, 'host'),
      uri: optString(rec, 'uri'),
      user_agent: optString(rec, 'user_agent'),
      referrer: optString(rec, 'referrer'),
      status_code: status,
      request_body_bytes: optCount(rec, 'request_body_len'),
      response_body_bytes: optCount(rec, 'response_body_len'),
      content_type: firstString(rec, 'resp_mime_types'),
      version: optString(rec, 'version'),
    };
  },
};
