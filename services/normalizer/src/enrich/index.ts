export { isPublicAddress } from './addresses.ts';
export { communityIdV1, type FlowTuple } from './community-id.ts';
export { flowDirection, type Direction } from './direction.ts';
export { Enricher, type EnricherDeps, type EventHead } from './enricher.ts';
export { GeoLookup, type GeoDatabases } from './geo.ts';
export { SENSOR_ERROR_CODES, resolveSensor, type SensorErrorCode, type SensorPolicy, type SensorResolution } from './sensors.ts';
export { RecordNormalizer, type EncodedOutcome, type RecordOutcome, type RecordSource } from './record-normalizer.ts';
