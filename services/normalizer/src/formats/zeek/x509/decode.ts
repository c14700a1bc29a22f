import { hasAny, type ZeekLogSpec } from '../format.ts';
import { optString, optTime, stringList } from '../fields.ts';
import { emptyTls } from '../records.ts';

/**
 * Zeek `x509.log` → `tls_activity` with the certificate in the `tls` record. OCSF has no certificate
 * class; an x509 entry is a certificate seen in a TLS handshake. It has no connection fields.
 */
export const x509Spec: ZeekLogSpec = {
  log: 'x509',
  eventClass: 'tls_activity',
  protocol: '',
  mapped: ['certificate.subject', 'certificate.issuer', 'certificate.serial', 'certificate.not_valid_before', 'certificate.not_valid_after', 'san.dns'],
  sniffJson: (rec) => (hasAny(rec, 'certificate.serial', 'certificate.subject', 'certificate.issuer') ? 0.95 : 0),
  map(rec, event) {
    // `fingerprint` is SHA-1 in old Zeek and SHA-256 since 4.0; only a SHA-1 fits the record's field.
    const fingerprint = optString(rec, 'fingerprint');
    event.tls = {
      ...emptyTls(),
      subject: optString(rec, 'certificate.subject'),
      issuer: optString(rec, 'certificate.issuer'),
      serial: optString(rec, 'certificate.serial'),
      not_before: optTime(rec, 'certificate.not_valid_before'),
      not_after: optTime(rec, 'certificate.not_valid_after'),
      fingerprint_sha1: fingerprint !== null && /^[0-9a-fA-F]{40}$/.test(fingerprint) ? fingerprint.toLowerCase() : null,
      san_dns: stringList(rec, 'san.dns'),
    };
  },
};
