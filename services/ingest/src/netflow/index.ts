export { NetflowCollector, NETFLOW_FORMAT, NETFLOW_TOPIC, type NetflowCollectorDeps, type NetflowCollectorOptions } from './collector.ts';
export { NetflowDecoder, type DecodeOutcome, type ExpiredPacket, type NetflowDecoderOptions } from './decoder.ts';
export { NETFLOW_COLLECTOR_ERROR_CODES, NETFLOW_ERROR_CODES, NetflowError, type NetflowErrorCode } from './errors.ts';
export type { FlowRecord } from './flow-record.ts';
export { informationElement, type IeType, type InformationElement } from './information-elements.ts';
