import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CORE_ERROR_CODES } from '@mamori/core';
import { STAGE_ERROR_CODES as DETECTOR_STAGE_ERROR_CODES } from '@mamori/detector';
import { CODEC_ERROR_CODES } from '@mamori/events';
import { INGEST_ERROR_CODES } from '@mamori/ingest';
import { Registry, stageMetrics } from '@mamori/metrics';
import { NORMALIZE_ERROR_CODES, STAGE_ERROR_CODES as NORMALIZER_STAGE_ERROR_CODES } from '@mamori/normalizer';
import { DEAD_LETTER_TOPIC, DLQ_HEADERS } from '@mamori/pipeline';
import { STORAGE_ERROR_CODES } from '@mamori/storage';
import { TRANSPORT_ERROR_CODES } from '@mamori/transport';
import { STAGE_ERROR_CODES as WRITER_STAGE_ERROR_CODES } from '@mamori/writer';
import { describe, expect, it } from 'vitest';

/**
 * Keeps docs/errors.md and the code base in step: every stable code is documented exactly once,
 * and the catalog lists no code the code base no longer defines.
 */
const DOC = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));
const CATALOG_HEADER = '| Code | Meaning | How to fix |';

/** Every code list the code base exports, named by where it lives. */
const CODE_LISTS: Readonly<Record<string, readonly string[]>> = {
  '@mamori/core CORE_ERROR_CODES': CORE_ERROR_CODES,
  '@mamori/transport TRANSPORT_ERROR_CODES': TRANSPORT_ERROR_CODES,
  '@mamori/events CODEC_ERROR_CODES': CODEC_ERROR_CODES,
  '@mamori/storage STORAGE_ERROR_CODES': STORAGE_ERROR_CODES,
  '@mamori/normalizer NORMALIZE_ERROR_CODES': NORMALIZE_ERROR_CODES,
  '@mamori/normalizer STAGE_ERROR_CODES': NORMALIZER_STAGE_ERROR_CODES,
  '@mamori/detector STAGE_ERROR_CODES': DETECTOR_STAGE_ERROR_CODES,
  '@mamori/writer STAGE_ERROR_CODES': WRITER_STAGE_ERROR_CODES,
  '@mamori/ingest INGEST_ERROR_CODES': INGEST_ERROR_CODES,
};

interface CatalogRow {
  code: string;
  meaning: string;
  fix: string;
  line: number;
}

/** Rows of every `Code | Meaning | How to fix` table in the markdown. */
function catalogRows(markdown: string): CatalogRow[] {
  const rows: CatalogRow[] = [];
  const lines = markdown.split('\n');
  let inCatalog = false;
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line.startsWith('|')) {
      inCatalog = false;
      return;
    }
    if (line === CATALOG_HEADER) {
      inCatalog = true;
      return;
    }
    if (!inCatalog || /^\|[\s|:-]+\|$/.test(line)) return;
    // Cells are split on pipes outside backticks, so a `a|b` code span cannot break a row.
    const cells = line
      .slice(1, -1)
      .split(/\|(?=(?:[^`]*`[^`]*`)*[^`]*$)/)
      .map((c) => c.trim());
    const [code = '', meaning = '', fix = ''] = cells;
    rows.push({ code, meaning, fix, line: index + 1 });
  });
  return rows;
}

const markdown = readFileSync(DOC, 'utf8');
const rows = catalogRows(markdown);
const defined = new Set(Object.values(CODE_LISTS).flat());

describe('docs/errors.md', () => {
  it('has catalog tables', () => {
    expect(rows.length).toBeGreaterThan(0);
  });

  it('writes every row as `CODE` | meaning | fix', () => {
    const malformed = rows.filter((r) => !/^`[A-Z][A-Z0-9_]*`$/.test(r.code) || r.meaning === '' || r.fix === '');
    expect(malformed.map((r) => `line ${r.line}: ${r.code}`)).toEqual([]);
  });

  it('documents every code the code base defines exactly once', () => {
    const documented = rows.map((r) => r.code.replaceAll('`', ''));
    const problems: string[] = [];
    for (const [where, codes] of Object.entries(CODE_LISTS)) {
      for (const code of codes) {
        const count = documented.filter((c) => c === code).length;
        if (count !== 1) problems.push(`${code} (${where}) is documented ${count} times`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('lists no code the code base lacks', () => {
    const unknown = rows.map((r) => r.code.replaceAll('`', '')).filter((code) => !defined.has(code));
    expect(unknown).toEqual([]);
  });

  it('names the dead-letter topic and every dead-letter header', () => {
    expect(markdown).toContain(`\`${DEAD_LETTER_TOPIC}\``);
    for (const header of Object.values(DLQ_HEADERS)) expect(markdown).toContain(`\`${header}\``);
  });

  it('names the dead-letter metric with its labels', async () => {
    const registry = new Registry();
    stageMetrics(registry).deadLettered.inc({ stage: 's', topic: 't', error_code: 'c' });
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name.includes('dead_lettered'));
    const labels = Object.keys(metric?.values[0]?.labels ?? {});
    expect(labels.length).toBeGreaterThan(0);
    expect(markdown).toContain(`${metric?.name}{${labels.join(',')}}`);
  });
});
