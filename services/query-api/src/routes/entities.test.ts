import { toDetectionRow, type Severity } from '@mamori/storage';
import { describe, expect, it } from 'vitest';
import { riskScore } from './entities.ts';

const NOW = Date.UTC(2026, 0, 10);
const det = (severity: Severity, ageHours = 0, count = 1) =>
  toDetectionRow({ detectionId: `d-${severity}-${ageHours}-${count}`, orgId: 'o', ruleId: 'r', severity, firstSeen: NOW - ageHours * 3_600_000, lastSeen: NOW - ageHours * 3_600_000, count });

describe('riskScore', () => {
  it('follows the documented formula', () => {
    expect(riskScore([], NOW).score).toBe(0);
    expect(riskScore([{ row: det('critical') }], NOW).score).toBe(55);
    expect(riskScore([{ row: det('high') }], NOW).score).toBe(33);
    expect(riskScore(Array.from({ length: 5 }, (_, i) => ({ row: { ...det('high'), detectionId: `h${i}` } })), NOW).score).toBe(86);
    // Half-life of 72 hours, and volume via log10(count).
    expect(riskScore([{ row: det('high', 72) }], NOW).sum).toBeCloseTo(20, 6);
    expect(riskScore([{ row: det('high', 0, 10) }], NOW).sum).toBeCloseTo(80, 6);
  });

  it('ignores false positives and discounts resolved detections', () => {
    const state = (status: 'false_positive' | 'resolved') => ({ detectionId: 'x', orgId: 'o', status, assignee: '', note: '', changedBy: 'a', changedAt: NOW, version: 1 });
    expect(riskScore([{ row: det('critical'), state: state('false_positive') }], NOW).score).toBe(0);
    expect(riskScore([{ row: det('critical'), state: state('resolved') }], NOW).sum).toBeCloseTo(20, 6);
  });
});
