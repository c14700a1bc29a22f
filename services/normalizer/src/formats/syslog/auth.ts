import { isIP } from 'node:net';
import type { AuthInfo } from '@mamori/events';

/**
 * Authentication messages of OpenSSH sshd, PAM (pam_unix) and sudo, as they appear in the MSG part
 * of a syslog line. The patterns are data: one entry per message shape, tried in order.
 */

/** What one authentication message says. */
export interface AuthFinding {
  auth: AuthInfo;
  srcIp: string;
  srcPort: number;
  /** logon, logoff, preauth_close or attempt (a try whose outcome the line tells). */
  activity: 'logon' | 'logoff' | 'preauth_close' | 'attempt';
  extra: Record<string, string>;
}

const MAX_USER_CHARS = 256;
const NONE: Record<string, string> = {};
const INVALID: Record<string, string> = { invalid_user: 'true' };

const IP = '([0-9A-Fa-f.:]{2,45})';
const PORT = '(\\d{1,5})';

interface Pattern {
  re: RegExp;
  build(m: RegExpExecArray, service: string): Omit<AuthFinding, 'srcIp' | 'srcPort'> & { ip?: string | undefined; port?: string | undefined };
}

function auth(partial: Partial<AuthInfo>): AuthInfo {
  return {
    user: null, domain: null, result: null, protocol: null, logon_type: null, service: null, failure_reason: null, workstation: null, logon_id: null,
    ...partial,
  };
}

function user(name: string | undefined): string | null {
  if (name === undefined) return null;
  return name.length <= MAX_USER_CHARS ? name : name.slice(0, MAX_USER_CHARS);
}

/** sshd method names to the protocol column: password, publickey, keyboard-interactive, ... */
function method(name: string): string {
  return name === 'keyboard-interactive/pam' ? 'keyboard-interactive' : name;
}

const SSHD: Pattern[] = [
  {
    re: new RegExp(`^Accepted (\\S+) for (.*?) from ${IP} port ${PORT}(?: ssh2)?(?:: (.*))?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[2]), result: 'success', protocol: method(m[1]!), service }),
      activity: 'logon', ip: m[3], port: m[4], extra: m[5] ? { key: m[5].slice(0, 256) } : NONE,
    }),
  },
  {
    re: new RegExp(`^Failed (\\S+) for (invalid user )?(.*?) from ${IP} port ${PORT}(?: ssh2)?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[3]), result: 'failure', protocol: method(m[1]!), service, failure_reason: m[2] ? 'invalid user' : 'wrong credentials' }),
      activity: 'attempt', ip: m[4], port: m[5], extra: m[2] ? INVALID : NONE,
    }),
  },
  {
    re: new RegExp(`^Invalid user (.*?) from ${IP}(?: port ${PORT})?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[1]), result: 'failure', service, failure_reason: 'invalid user' }),
      activity: 'attempt', ip: m[2], port: m[3], extra: { invalid_user: 'true' },
    }),
  },
  {
    re: new RegExp(`^(?:error: )?maximum authentication attempts exceeded for (invalid user )?(.*?) from ${IP} port ${PORT}(?: ssh2)?(?: \\[preauth\\])?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[2]), result: 'failure', service, failure_reason: 'maximum authentication attempts exceeded' }),
      activity: 'attempt', ip: m[3], port: m[4], extra: m[1] ? INVALID : NONE,
    }),
  },
  {
    re: new RegExp(`^Disconnecting (authenticating|invalid) user (.*?) ${IP} port ${PORT}: (.*?)(?: \\[preauth\\])?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[2]), result: 'failure', service, failure_reason: m[5]!.slice(0, 256) }),
      activity: 'preauth_close', ip: m[3], port: m[4], extra: m[1] === 'invalid' ? INVALID : NONE,
    }),
  },
  {
    re: new RegExp(`^Connection closed by (authenticating|invalid) user (.*?) ${IP} port ${PORT}(?: \\[preauth\\])?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[2]), result: 'failure', service, failure_reason: 'connection closed during authentication' }),
      activity: 'preauth_close', ip: m[3], port: m[4], extra: m[1] === 'invalid' ? INVALID : NONE,
    }),
  },
  {
    re: new RegExp(`^Disconnected from (authenticating|invalid) user (.*?) ${IP} port ${PORT}(?: \\[preauth\\])?$`),
    build: (m, service) => ({
      auth: auth({ user: user(m[2]), result: 'failure', service, failure_reason: 'disconnected during authentication' }),
      activity: 'preauth_close', ip: m[3], port: m[4], extra: m[1] === 'invalid' ? INVALID : NONE,
    }),
  },
  {
    re: new RegExp(`^Disconnected from user (.*?) ${IP} port ${PORT}$`),
    build: (m, service) => ({ auth: auth({ user: user(m[1]), result: 'success', service }), activity: 'logoff', ip: m[2], port: m[3], extra: {} }),
  },
  {
    re: new RegExp(`^(?:Disconnected from|Connection closed by) ${IP} port ${PORT}(?: \\[preauth\\])?$`),
    build: (m, service) => ({
      auth: auth({ result: 'unknown', service, failure_reason: 'connection closed before a user was named' }),
      activity: 'preauth_close', ip: m[1], port: m[2], extra: {},
    }),
  },
];

/** `pam_unix(<service>:<type>): ...`; also pam_sss, pam_ldap and friends with the same shape. */
const PAM = /^(pam_[a-z0-9_]+)\(([^:)\s]{1,48}):([a-z]{1,16})\): (.*)$/;

function pamKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/\b(logname|uid|euid|tty|ruser|rhost|user)=(\S*)/g)) out[m[1]!] = m[2]!;
  return out;
}

function pamFinding(msg: string): AuthFinding | undefined {
  const m = PAM.exec(msg);
  if (!m) return undefined;
  const [, module, service, type, text] = m as unknown as [string, string, string, string, string];
  const extra: Record<string, string> = { pam_module: module, pam_type: type };
  if (type === 'auth' && text.startsWith('authentication failure;')) {
    const kv = pamKeyValues(text);
    const rhost = kv['rhost'] ?? '';
    if (rhost !== '' && isIP(rhost) === 0) extra['rhost'] = rhost.slice(0, 255);
    if (kv['ruser']) extra['ruser'] = kv['ruser'].slice(0, MAX_USER_CHARS);
    if (kv['tty']) extra['tty'] = kv['tty'].slice(0, 64);
    return {
      auth: auth({ user: user(kv['user'] || undefined), result: 'failure', protocol: 'password', service, failure_reason: 'authentication failure' }),
      srcIp: isIP(rhost) !== 0 ? rhost : '', srcPort: 0, activity: 'attempt', extra,
    };
  }
  if (type === 'auth' && /^check pass; user unknown$/.test(text)) {
    return { auth: auth({ result: 'failure', protocol: 'password', service, failure_reason: 'user unknown' }), srcIp: '', srcPort: 0, activity: 'attempt', extra };
  }
  const session = /^session (opened|closed) for user (\S+?)(?:\(uid=\d+\))?(?: by (\S*?)(?:\(uid=(\d+)\))?)?$/.exec(text);
  if (type === 'session' && session) {
    if (session[3]) extra['by'] = session[3].slice(0, MAX_USER_CHARS);
    return {
      auth: auth({ user: user(session[2]), result: 'success', service }),
      srcIp: '', srcPort: 0, activity: session[1] === 'opened' ? 'logon' : 'logoff', extra,
    };
  }
  return undefined;
}

/** sudo's own line: `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls` (with an optional reason first). */
function sudoFinding(msg: string): AuthFinding | undefined {
  const m = /^\s*(\S{1,256}) : (.*)$/.exec(msg);
  if (!m) return undefined;
  const parts = m[2]!.split(' ; ');
  const fields: Record<string, string> = {};
  let reason: string | undefined;
  for (const part of parts) {
    const kv = /^([A-Z]{2,10})=(.*)$/s.exec(part);
    if (kv) fields[kv[1]!] = kv[2]!;
    else if (reason === undefined) reason = part;
  }
  if (fields['COMMAND'] === undefined && fields['USER'] === undefined) return undefined;
  const extra: Record<string, string> = {};
  if (fields['USER'] !== undefined) extra['target_user'] = fields['USER'].slice(0, MAX_USER_CHARS);
  if (fields['COMMAND'] !== undefined) extra['command'] = fields['COMMAND'].slice(0, 4096);
  if (fields['TTY'] !== undefined) extra['tty'] = fields['TTY'].slice(0, 64);
  if (fields['PWD'] !== undefined) extra['pwd'] = fields['PWD'].slice(0, 1024);
  return {
    auth: auth({ user: user(m[1]), result: reason === undefined ? 'success' : 'failure', service: 'sudo', failure_reason: reason?.slice(0, 256) ?? null }),
    srcIp: '', srcPort: 0, activity: 'attempt', extra,
  };
}

function portNumber(text: string | undefined): number {
  const n = text === undefined ? 0 : Number(text);
  return Number.isInteger(n) && n <= 65535 ? n : 0;
}

/**
 * The authentication a message reports, or undefined when it is not one we know. `app` is the
 * syslog APP-NAME/TAG: sshd (also `sshd-session`, OpenSSH 9.8+) and sudo lines are read by their
 * own patterns; PAM lines are recognized by their `pam_x(service:type)` prefix under any app.
 */
export function parseAuthMessage(app: string | null, msg: string): AuthFinding | undefined {
  const text = msg.trim();
  const pam = pamFinding(text);
  if (pam) return pam;
  if (app === 'sshd' || app === 'sshd-session') {
    for (const pattern of SSHD) {
      const m = pattern.re.exec(text);
      if (!m) continue;
      const b = pattern.build(m, 'sshd');
      // The IP group is permissive; a non-address there means the line is not the shape we think.
      if (b.ip === undefined || isIP(b.ip) === 0) return undefined;
      // Written out: a rest/spread copy costs microseconds a line on Node 20.
      return { auth: b.auth, activity: b.activity, extra: b.extra, srcIp: b.ip, srcPort: portNumber(b.port) };
    }
    return undefined;
  }
  if (app === 'sudo') return sudoFinding(text);
  return undefined;
}
