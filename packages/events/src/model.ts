/**
 * TypeScript view of the wire records in schemas/. Timestamps are epoch milliseconds (numbers), the
 * same values that travel as Avro `long` with logical type `timestamp-millis`.
 */

/** Where a raw record lives in Kafka. */
export interface RawRef {
  topic: string;
  partition: number;
  offset: number;
}

/** `mamori.Event` (schemas/mamori.event.v2.avsc; v1 data reads with the v2 fields at their defaults). */
export interface MamoriEvent {
  /** Deterministic: FNV-1a 64 (hex) of `<topic>:<partition>:<offset>:<line index>`. */
  event_id: string;
  /** e.g. `network_activity`. */
  event_class: string;
  /** Event time, epoch ms. */
  time: number;
  /** Pipeline ingest time, epoch ms. */
  ingest_time: number;
  org_id: string;
  sensor_id: string;
  /** e.g. `zeek.conn`. */
  source_format: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  /** Lower case: tcp, udp, icmp, ... */
  protocol: string;
  bytes_out: number;
  bytes_in: number;
  packets_out: number;
  packets_in: number;
  duration_ms: number;
  conn_state: string | null;
  community_id: string | null;
  raw: RawRef;
  attributes: Record<string, string>;
  // ---- v2: every field below is optional on the wire (defaults) and in TypeScript ----
  /** Site of the sensor (sensor registry). */
  site_id?: string;
  /** inbound, outbound, internal, external, or '' when unknown. */
  direction?: string;
  /** Host the event was observed on. */
  host?: string | null;
  /** Principal user of the event. */
  user?: string | null;
  src_asset?: Asset | null;
  dst_asset?: Asset | null;
  src_geo?: Geo | null;
  dst_geo?: Geo | null;
  process?: ProcessInfo | null;
  dns?: DnsInfo | null;
  http?: HttpInfo | null;
  tls?: TlsInfo | null;
  ssh?: SshInfo | null;
  smb?: SmbInfo | null;
  auth?: AuthInfo | null;
  file?: FileInfo | null;
  registry?: RegistryInfo | null;
  alert?: AlertInfo | null;
}

type Opt<T> = T | null;

/** `mamori.Asset`: asset inventory context. */
export interface Asset {
  name: string;
  owner: string;
  criticality: string;
  network: string;
}

/** `mamori.Geo`: GeoIP/ASN context. */
export interface Geo {
  country_code: Opt<string>;
  city: Opt<string>;
  asn: Opt<number>;
  as_org: Opt<string>;
}

/** `mamori.Process`. */
export interface ProcessInfo {
  pid: Opt<number>;
  name: Opt<string>;
  path: Opt<string>;
  command_line: Opt<string>;
  guid: Opt<string>;
  user: Opt<string>;
  integrity_level: Opt<string>;
  hashes: Record<string, string>;
  parent_pid: Opt<number>;
  parent_name: Opt<string>;
  parent_path: Opt<string>;
  parent_command_line: Opt<string>;
  parent_guid: Opt<string>;
}

/** `mamori.Dns`. */
export interface DnsInfo {
  query: Opt<string>;
  qtype: Opt<string>;
  rcode: Opt<string>;
  answers: string[];
  trans_id: Opt<number>;
  rejected: Opt<boolean>;
}

/** `mamori.Http`. */
export interface HttpInfo {
  method: Opt<string>;
  host: Opt<string>;
  uri: Opt<string>;
  user_agent: Opt<string>;
  referrer: Opt<string>;
  status_code: Opt<number>;
  request_body_bytes: Opt<number>;
  response_body_bytes: Opt<number>;
  content_type: Opt<string>;
  version: Opt<string>;
}

/** `mamori.Tls`. */
export interface TlsInfo {
  version: Opt<string>;
  cipher: Opt<string>;
  sni: Opt<string>;
  ja3: Opt<string>;
  ja3s: Opt<string>;
  established: Opt<boolean>;
  subject: Opt<string>;
  issuer: Opt<string>;
  serial: Opt<string>;
  not_before: Opt<number>;
  not_after: Opt<number>;
  fingerprint_sha1: Opt<string>;
  san_dns: string[];
}

/** `mamori.Ssh`. */
export interface SshInfo {
  client: Opt<string>;
  server: Opt<string>;
  auth_success: Opt<boolean>;
  auth_attempts: Opt<number>;
  hassh: Opt<string>;
  hassh_server: Opt<string>;
  direction: Opt<string>;
}

/** `mamori.Smb`. */
export interface SmbInfo {
  action: Opt<string>;
  path: Opt<string>;
  name: Opt<string>;
  share_type: Opt<string>;
  service: Opt<string>;
  rpc_endpoint: Opt<string>;
  rpc_operation: Opt<string>;
  named_pipe: Opt<string>;
}

/** `mamori.Auth`. */
export interface AuthInfo {
  user: Opt<string>;
  domain: Opt<string>;
  result: Opt<string>;
  protocol: Opt<string>;
  logon_type: Opt<string>;
  service: Opt<string>;
  failure_reason: Opt<string>;
  workstation: Opt<string>;
  logon_id: Opt<string>;
}

/** `mamori.File`. */
export interface FileInfo {
  action: Opt<string>;
  path: Opt<string>;
  name: Opt<string>;
  size: Opt<number>;
  mime_type: Opt<string>;
  hashes: Record<string, string>;
}

/** `mamori.Registry`. */
export interface RegistryInfo {
  action: Opt<string>;
  key: Opt<string>;
  value_name: Opt<string>;
  value_data: Opt<string>;
}

/** `mamori.Alert`. */
export interface AlertInfo {
  signature: Opt<string>;
  signature_id: Opt<number>;
  rev: Opt<number>;
  gid: Opt<number>;
  category: Opt<string>;
  severity: Opt<number>;
  action: Opt<string>;
}

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A reference from a detection to one matching event. */
export interface EvidenceRef {
  event_id: string;
  topic: string;
  partition: number;
  offset: number;
}

/** `mamori.Detection` v1 (schemas/mamori.detection.v1.avsc). */
export interface MamoriDetection {
  detection_id: string;
  rule_id: string;
  rule_version: number;
  title: string;
  /** Travels as a string; one of {@link SEVERITIES}. */
  severity: Severity;
  /** 0..1 (Avro float: ~7 significant digits). */
  confidence: number;
  tactics: string[];
  techniques: string[];
  org_id: string;
  entity: { type: string; value: string };
  src_ip: string | null;
  /** Epoch ms. */
  first_seen: number;
  /** Epoch ms. */
  last_seen: number;
  /** Epoch ms. */
  detected_at: number;
  /** Evidence count (may exceed `evidence.length`, which is capped). */
  count: number;
  summary: string;
  evidence: EvidenceRef[];
  attributes: Record<string, string>;
  ruleset_checksum: string;
}
