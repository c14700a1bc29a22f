import type { AuthInfo, SmbInfo, TlsInfo } from '@mamori/events';

/** Empty class records, spread and then filled by the log mappings. */
export function emptyTls(): TlsInfo {
  return {
    version: null,
    cipher: null,
    sni: null,
    ja3: null,
    ja3s: null,
    established: null,
    subject: null,
    issuer: null,
    serial: null,
    not_before: null,
    not_after: null,
    fingerprint_sha1: null,
    san_dns: [],
  };
}

export function emptySmb(): SmbInfo {
  return { action: null, path: null, name: null, share_type: null, service: null, rpc_endpoint: null, rpc_operation: null, named_pipe: null };
}

export function emptyAuth(): AuthInfo {
  return {
    user: null,
    domain: null,
    result: null,
    protocol: null,
    logon_type: null,
    service: null,
    failure_reason: null,
    workstation: null,
    logon_id: null,
  };
}

/** Zeek's `success` bool as the auth record's result. */
export function authResult(success: boolean | null): string {
  return success === null ? 'unknown' : success ? 'success' : 'failure';
}

/** `user@realm` or `DOMAIN\user` style principal for `MamoriEvent.user`. */
export function principal(user: string | null, domain: string | null, style: 'realm' | 'windows'): string | null {
  if (user === null || user === '') return null;
  if (domain === null || domain === '') return user;
  return style === 'realm' ? `${user}@${domain}` : `${domain}\\${user}`;
}
