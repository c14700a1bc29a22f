export { CodecError, type CodecErrorCode } from './errors.ts';
export { crc64Avro, crc64AvroLE } from './fingerprint.ts';
export { DEFAULT_SCHEMAS_DIR, loadSchemas, schemaVersion, type SchemaSet, type SchemaVersion } from './schemas.ts';
export { RecordCodec, EventCodec, DetectionCodec, type CodecOptions, type SchemaLookup } from './codec.ts';
export {
  SEVERITIES,
  type Severity,
  type MamoriEvent,
  type MamoriDetection,
  type RawRef,
  type EvidenceRef,
} from './model.ts';
