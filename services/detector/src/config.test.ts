import { describe, expect, it } from 'vitest';
import { loadDetectorConfig } from './config.ts';

describe('loadDetectorConfig: analytics state', () => {
  it('defaults the changelog topic and the restore timeout', () => {
    const config = loadDetectorConfig({});
    expect(config.analyticsState).toEqual({ topic: 'telemetry.detector.analytics', restoreTimeoutMs: 60_000 });
  });

  it('reads both from the environment and refuses a timeout out of range, naming the key', () => {
    const config = loadDetectorConfig({ MAMORI_TOPIC_ANALYTICS_STATE: 'site-b.detector.analytics', DETECTOR_STATE_RESTORE_TIMEOUT_MS: '120000' });
    expect(config.analyticsState).toEqual({ topic: 'site-b.detector.analytics', restoreTimeoutMs: 120_000 });
    expect(() => loadDetectorConfig({ DETECTOR_STATE_RESTORE_TIMEOUT_MS: '10' })).toThrow(/DETECTOR_STATE_RESTORE_TIMEOUT_MS/);
  });
});
