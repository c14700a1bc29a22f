import type { WriterConfig } from './config.ts';
import { WriterStage, type WriterDeps } from './writer-stage.ts';

export function buildWriter(config: WriterConfig, deps: WriterDeps): WriterStage {
  return new WriterStage(config, deps);
}
