import { spawnSync } from 'node:child_process';

/** promtool from Debian's `prometheus` package (deploy/local/run.sh installs it when it can). */
export function promtoolPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** In CI a missing promtool is a failure, elsewhere a clearly reported skip. */
export const PROMTOOL = promtoolPath();
export const SKIP_PROMTOOL = PROMTOOL === undefined && process.env['CI'] !== 'true';
if (SKIP_PROMTOOL) console.warn('[ops tests] promtool not found: install Debian package "prometheus" to run the Prometheus rule tests');

export function promtool(args: string[], cwd?: string): { status: number | null; output: string } {
  if (!PROMTOOL) throw new Error('promtool is not installed (Debian package "prometheus"); deploy/local/run.sh installs it when run as root');
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', cwd, timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
