export { buildWriter } from './app.ts';
export { loadWriterConfig, type WriterConfig } from './config.ts';
export { STAGE_ERROR_CODES, WriterStage, type FlowControl, type WriterDeps } from './writer-stage.ts';
export { InsertBuffer, deduplicationToken, isDataError, type BufferedRow, type InsertBufferHooks, type InsertBufferOptions, type RejectedRow } from './insert-buffer.ts';
export { detectionRow, eventRow } from './rows.ts';
