export { buildDetector, type DetectorDeps } from './app.ts';
export { loadDetectorConfig, type DetectorConfig } from './config.ts';
export { DetectorStage, STAGE_ERROR_CODES, type DetectorCodecs, type DetectorStageOptions } from './detector-stage.ts';
export { DEFAULT_PORT_SCAN_CONFIG, PORT_SCAN_RULE_ID, PortScanAnalytic, detectionId, isProbe, type PortScanConfig } from './analytics/port-scan.ts';
export type { Analytic } from './analytics/types.ts';
