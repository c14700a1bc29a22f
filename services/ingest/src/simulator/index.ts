export { createSimulator, type Simulator, type SimulatorOptions, type SimulatedRecord, type SimulatedLabel } from './simulator.ts';
export type { AttackSpec, AttackKind, HorizontalScanSpec, VerticalScanSpec } from './attacks.ts';
export type { SimulatedNetwork, ExternalSite } from './network.ts';
