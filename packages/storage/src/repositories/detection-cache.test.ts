import { describe, expect, it } from 'vitest';
import { toDetectionRow, type DetectionRow } from '../rows/detection-row.ts';
import { DetectionRowCache, TriageStateCache } from './detection-cache.ts';
import type { DetectionState } from './detection-state.ts';

const row = (id: string, overrides: Record<string, unknown> = {}): DetectionRow =>
  toDetectionRow({
    detectionId: id,
    orgId: 'org-a',
    ruleId: 'rule',
    title: `title ${id}`,
    severity: 'high',
    entityType: 'ip',
    entityValue: '10.0.0.1',
    firstSeen: 1_000,
    lastSeen: 2_000,
    detectedAt: 2_000,
    evidenceJson: 'x'.repeat(1000),
    version: 1,
    ...overrides,
  });

describe('DetectionRowCache', () => {
  it('finds a row only by its organization, id and version', () => {
    const cache = new DetectionRowCache(1 << 20);
    const r = row('d1');
    cache.set(r);
    expect(cache.get('org-a', 'd1', 1)).toBe(r);
    expect(cache.get('org-b', 'd1', 1)).toBeUndefined();
    expect(cache.get('org-a', 'd1', 2)).toBeUndefined();
    expect(cache.get('org-a', 'd2', 1)).toBeUndefined();
    expect(cache.stats).toEqual({ hits: 1, misses: 3 });
  });

  it('keeps its rows under the byte bound, least recently used out first', () => {
    // Each row is ~4.6 KB (2,000-character evidence at two bytes a character, plus the rest): ten fit in 50,000.
    const cache = new DetectionRowCache(50_000);
    const big = (id: string) => row(id, { evidenceJson: 'x'.repeat(2000) });
    for (let i = 0; i < 6; i++) cache.set(big(`d${i}`));
    expect(cache.get('org-a', 'd0', 1)).toBeDefined(); // d0 is now the most recently used
    for (let i = 6; i < 12; i++) cache.set(big(`d${i}`));
    expect(cache.bytes).toBeLessThanOrEqual(50_000);
    expect(cache.size).toBe(10);
    expect(cache.get('org-a', 'd1', 1)).toBeUndefined();
    expect(cache.get('org-a', 'd2', 1)).toBeUndefined();
    for (const id of ['d0', 'd3', 'd11']) expect(cache.get('org-a', id, 1), id).toBeDefined();
  });

  it('does not keep a row larger than a tenth of the bound', () => {
    const cache = new DetectionRowCache(20_000);
    cache.set(row('big', { evidenceJson: 'y'.repeat(5_000) }));
    expect(cache.size).toBe(0);
    expect(cache.get('org-a', 'big', 1)).toBeUndefined();
  });

  it('freezes what it hands out, so one reader cannot change another reader\'s row', () => {
    const cache = new DetectionRowCache(1 << 20);
    cache.set(row('d1', { techniques: ['T1046'], attributes: { k: 'v' } }));
    const r = cache.get('org-a', 'd1', 1)!;
    expect(() => {
      (r as { title: string }).title = 'changed';
    }).toThrow(TypeError);
    expect(() => (r.techniques as string[]).push('T1')).toThrow(TypeError);
    expect(() => {
      (r.attributes as Record<string, string>)['k'] = 'w';
    }).toThrow(TypeError);
    expect(cache.get('org-a', 'd1', 1)?.title).toBe('title d1');
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new DetectionRowCache(0)).toThrow(RangeError);
    expect(() => new DetectionRowCache(1.5)).toThrow(RangeError);
  });
});

describe('TriageStateCache', () => {
  const state = (version: number, status: DetectionState['status'] = 'acknowledged'): DetectionState => ({
    detectionId: 'det-1', orgId: 'org-a', status, assignee: 'alice', note: '', changedBy: 'key:alice', changedAt: 1000 + version, version,
  });

  it('answers unknown, none, or the state', () => {
    const c = new TriageStateCache(1 << 20);
    expect(c.get('org-a', 'det-1')).toBeUndefined();
    c.read('org-a', 'det-1', null);
    expect(c.get('org-a', 'det-1')).toBeNull();
    c.wrote(state(1));
    expect(c.get('org-a', 'det-1')).toMatchObject({ version: 1, status: 'acknowledged' });
    expect(c.get('org-b', 'det-1')).toBeUndefined();
    expect(c.stats).toEqual({ hits: 2, misses: 2 });
  });

  it('never goes back: a read that started before a change cannot put the older state or "none" back', () => {
    const c = new TriageStateCache(1 << 20);
    c.wrote(state(2, 'in_progress'));
    c.read('org-a', 'det-1', state(1));
    c.read('org-a', 'det-1', null);
    expect(c.get('org-a', 'det-1')).toMatchObject({ version: 2, status: 'in_progress' });
    c.read('org-a', 'det-1', state(3, 'resolved'));
    expect(c.get('org-a', 'det-1')).toMatchObject({ version: 3, status: 'resolved' });
    c.wrote(state(2, 'false_positive'));
    expect(c.get('org-a', 'det-1')).toMatchObject({ version: 3 });
  });

  it('drops a state two writers stored with the same version, and forgets on request', () => {
    const c = new TriageStateCache(1 << 20);
    c.wrote(state(1, 'acknowledged'));
    c.wrote(state(1, 'false_positive'));
    expect(c.get('org-a', 'det-1')).toBeUndefined();
    c.wrote(state(2));
    c.forget('org-a', 'det-1');
    expect(c.get('org-a', 'det-1')).toBeUndefined();
  });

  it('keeps a copy: changing the caller\'s object later does not change the cache', () => {
    const c = new TriageStateCache(1 << 20);
    const s = state(1);
    c.wrote(s);
    s.status = 'resolved';
    expect(c.get('org-a', 'det-1')).toMatchObject({ status: 'acknowledged' });
  });

  it('is bounded by size, least recently used out', () => {
    const c = new TriageStateCache(10_000);
    for (let i = 0; i < 500; i++) c.read('org-a', `det-${i}`, { ...state(1), detectionId: `det-${i}`, note: 'x'.repeat(100) });
    expect(c.size).toBeLessThan(100);
    expect(c.get('org-a', 'det-499')).toBeDefined();
    expect(c.get('org-a', 'det-0')).toBeUndefined();
  });
});
