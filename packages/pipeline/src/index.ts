export {
  DEAD_LETTER_MAX_MESSAGE_BYTES,
  DEAD_LETTER_TOPIC,
  DLQ_HEADERS,
  deadLetterMessage,
  deadLetterTopicSpec,
  isCutDeadLetter,
  readDeadLetter,
  type DeadLetter,
  type DeadLetterInfo,
} from './dead-letter.ts';
export { emptyResult, mapRecords, type Output, type Stage, type StageResult } from './stage.ts';
export { StageRunner, type StageRunnerOptions } from './runner.ts';
export { ThrottledErrorLog } from './error-log.ts';
export { TOPICS } from './topics.ts';
export { LagMonitor, type LagMonitorOptions, type LagSubject } from './lag-monitor.ts';
