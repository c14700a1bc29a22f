export { CODEC_ERROR_CODES, CodecError, type CodecErrorCode } from './errors.ts';
export { crc64Avro, crc64AvroLE } from './fingerprint.ts';
export { DEFAULT_SCHEMAS_DIR, loadSchemas, schemaVersion, type SchemaSet, type SchemaVersion } from './schemas.ts';
export { RecordCodec, EventCodec, DetectionCodec, type CodecOptions, type FieldWriter, type SchemaLookup } from './codec.ts';
export { MAX_SAFE_LONG, writeLong as writeAvroLong, writeString as writeAvroString } from './avro-writer.ts';
export { withEventDefaults } from './defaults.ts';
export { eventKey } from './event-key.ts';
export { ConfluentSchemaRegistry, type SchemaRegistryOptions } from './schema-registry.ts';
export {
  SEVERITIES,
  type Severity,
  type MamoriEvent,
  type MamoriDetection,
  type RawRef,
  type EvidenceRef,
  type Asset,
  type Geo,
  type ProcessInfo,
  type DnsInfo,
  type HttpInfo,
  type TlsInfo,
  type SshInfo,
  type SmbInfo,
  type AuthInfo,
  type FileInfo,
  type RegistryInfo,
  type AlertInfo,
} from './model.ts';
