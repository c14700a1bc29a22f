import type { NormalizerConfig } from './config.ts';
import { NormalizerStage, type NormalizerDeps } from './normalizer-stage.ts';

export function buildNormalizer(config: NormalizerConfig, deps: NormalizerDeps): NormalizerStage {
  return new NormalizerStage(config, deps);
}
