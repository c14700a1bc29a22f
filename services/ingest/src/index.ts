export { INGEST_ERROR_CODES, buildIngest, recurringAttacks, type IngestDeps, type IngestService } from './app.ts';
export { loadIngestConfig, type IngestConfig } from './config.ts';
export { SENSOR_HEADERS } from './sensor-headers.ts';
export { produceSimulation, type ProduceSimulationOptions, type SimulationStats } from './simulation-producer.ts';
export {
  createSimulator,
  type AttackSpec,
  type Simulator,
  type SimulatorOptions,
  type SimulatedLabel,
  type SimulatedRecord,
} from './simulator/index.ts';
