import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS } from '@mamori/storage';
import { afterAll, describe, expect, it } from 'vitest';

/** `mamori db status` and `mamori db migrate` as an operator runs them, on embedded ClickHouse (chDB). */
const MAIN = fileURLToPath(new URL('../../services/cli/src/main.ts', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'mamori-cli-db-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function mamori(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', LOG_LEVEL: 'warn', MAMORI_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: 'mamori_cli_db' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const states = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: number; name: string; state: string; appliedAt?: number });

describe('mamori db', () => {
  it('status lists every migration as pending on a new database, migrate applies them once, status then shows them applied', () => {
    const before = mamori('db', 'status');
    expect(before.code, before.stderr).toBe(0);
    expect(states(before.stdout).map((s) => [s.id, s.name, s.state])).toEqual(MIGRATIONS.map((m) => [m.id, m.name, 'pending']));

    const first = mamori('db', 'migrate');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout + first.stderr).toContain(`applied ${MIGRATIONS.length} migration(s)`);

    const again = mamori('db', 'migrate');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toContain('applied 0 migration(s)');

    const after = states(mamori('db', 'status').stdout);
    expect(after.map((s) => [s.id, s.state])).toEqual(MIGRATIONS.map((m) => [m.id, 'applied']));
    expect(after.every((s) => typeof s.appliedAt === 'number' && s.appliedAt > 0)).toBe(true);
  });

  it('refuses an unknown sub-command with the usage and a non-zero exit', () => {
    const res = mamori('db', 'drop');
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('mamori db migrate | mamori db status');
  });
});
