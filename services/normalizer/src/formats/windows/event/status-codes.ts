/**
 * Why a Windows logon failed: NTSTATUS codes of 4625/4776 (`Status`/`SubStatus`) and Kerberos result
 * codes of 4768/4769/4771 (`Status`, `FailureCode`). Data, not code; unknown codes pass through as is.
 */
const NTSTATUS: Readonly<Record<string, string>> = {
  '0xc0000064': 'no such user',
  '0xc000006a': 'bad password',
  '0xc000006d': 'bad user name or authentication information',
  '0xc000006e': 'account restriction',
  '0xc000006f': 'logon outside allowed hours',
  '0xc0000070': 'workstation restriction',
  '0xc0000071': 'password expired',
  '0xc0000072': 'account disabled',
  '0xc000005e': 'no logon servers available',
  '0xc0000133': 'clock skew with the domain controller',
  '0xc000015b': 'logon type not granted',
  '0xc000018c': 'trust relationship failed',
  '0xc0000192': 'netlogon service not started',
  '0xc0000193': 'account expired',
  '0xc0000224': 'password must change',
  '0xc0000225': 'windows bug (not a risk)',
  '0xc0000234': 'account locked out',
  '0xc00002ee': 'error during logon',
  '0xc0000413': 'authentication firewall: machine not allowed',
  '0xc0000371': 'local account store lacks the secret',
};

const KERBEROS: Readonly<Record<string, string>> = {
  '0x6': 'client not found in Kerberos database',
  '0x7': 'server not found in Kerberos database',
  '0xc': 'policy rejects the request (workstation or time restriction)',
  '0xe': 'encryption type not supported',
  '0x12': 'client credentials revoked (disabled, expired or locked out)',
  '0x17': 'password expired',
  '0x18': 'pre-authentication failed (bad password)',
  '0x19': 'pre-authentication required',
  '0x1b': 'server requires user-to-user',
  '0x1f': 'integrity check failed',
  '0x20': 'ticket expired',
  '0x25': 'clock skew too great',
  '0x29': 'message modified',
  '0x3c': 'generic error',
};

/** `bad password (0xC000006A)`; the bare code when unknown. */
export function failureReason(code: string, kerberos: boolean): string {
  const key = code.toLowerCase();
  const text = kerberos ? KERBEROS[key] : NTSTATUS[key];
  return text === undefined ? code : `${text} (${code})`;
}
