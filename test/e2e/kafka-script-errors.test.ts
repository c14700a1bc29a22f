import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KAFKA_SCRIPT } from '../harness/index.ts';

/** deploy/local/kafka.sh on a machine that lacks something: one line naming the fix, non-zero exit. */
const scratch = mkdtempSync(join(tmpdir(), 'mamori-kafka-sh-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function kafkaSh(args: string[], env: Record<string, string>) {
  const r = spawnSync('bash', [KAFKA_SCRIPT, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('kafka.sh set-up errors', () => {
  it('no Java', () => {
    const r = kafkaSh(['start', '--data', join(scratch, 'a'), '--port', '45092'], { JAVA: join(scratch, 'no-such-java') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/java/i);
    expect(r.stderr).toMatch(/17/);
  });

  it('no Maven and nothing cached', () => {
    const r = kafkaSh(['fetch'], { MVN: join(scratch, 'no-such-mvn'), MAMORI_KAFKA_CACHE: join(scratch, 'empty-cache') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/mvn/);
  });

  it('port already in use', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    try {
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        // Asynchronous: the listening server must keep answering while the script checks the port.
        import('node:child_process').then(({ execFile }) => {
          execFile('bash', [KAFKA_SCRIPT, 'start', '--port', String(port), '--data', join(scratch, 'b')], { timeout: 60_000 }, (error, _stdout, stderr) => {
            resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
          });
        });
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(String(port));
      expect(r.stderr).toMatch(/in use/i);
    } finally {
      server.close();
    }
  }, 60_000);
});
