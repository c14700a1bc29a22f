export { buildWriter } from './app.ts';
export { loadWriterConfig, type WriterConfig } from './config.ts';
export { STAGE_ERROR_CODES, WriterStage, type WriterDeps } from './writer-stage.ts';
export { detectionRow, eventRow } from './rows.ts';
