/**
 * `pnpm bench [-- section...] [--write]`: runs the benchmark sections and prints a markdown report;
 * `--write` also replaces the generated blocks of docs/benchmarks.md (prose outside them is kept).
 *
 * Kafka: KAFKA_BROKERS when set, else a local one-broker cluster started through the test harness and
 * stopped at the end (also on error or Ctrl-C). Only the transport and pipeline sections need it.
 * Each section runs in its own Node process (`section.ts`, as each service runs in its own process):
 * run one after another in one process, a section's CPU time carried the previous one's leftovers: the
 * normalizer stage read ~25% slower right after the codec section (149-164k against 196-209k events
 * per CPU-second, back to back), with its CPU time above its wall time (other threads at work, e.g.
 * collecting the codec section's garbage, which `process.cpuUsage` counts).
 * The machine is shared: compare ratios within one run, not absolute numbers across runs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalCluster, waitForKafka, type LocalCluster } from '../harness/index.ts';
import { describeMachine, replaceBlock } from './report.ts';
import { KAFKA_SECTIONS, SECTIONS, type Section } from './sections.ts';

const DOC = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const SECTION_ENTRY = fileURLToPath(new URL('./section.ts', import.meta.url));

/** Runs one section in a child Node process and returns its markdown body. */
async function runInChild(section: Section, env: NodeJS.ProcessEnv): Promise<string> {
  const dir = mkdtempSync(join(os.tmpdir(), 'mamori-bench-'));
  const out = join(dir, 'body.md');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', SECTION_ENTRY, section.name], {
        env: { ...env, BENCH_SECTION_OUT: out },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) throw new Error(`bench: section ${section.name} exited with ${code}`);
    return readFileSync(out, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv: readonly string[]): { write: boolean; sections: Section[] } {
  let write = false;
  const names: string[] = [];
  for (const arg of argv) {
    if (arg === '--') continue;
    else if (arg === '--write') write = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(`usage: pnpm bench [-- ${SECTIONS.map((s) => s.name).join('|')} ...] [--write]`);
      process.exit(0);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}; use --write or --help`);
    else names.push(arg);
  }
  const unknown = names.filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}; choose from ${SECTIONS.map((s) => s.name).join(', ')}`);
  return { write, sections: names.length === 0 ? [...SECTIONS] : SECTIONS.filter((s) => names.includes(s.name)) };
}

async function main(): Promise<number> {
  const { write, sections } = parseArgs(process.argv.slice(2));
  let cluster: LocalCluster | undefined;
  let starting: Promise<LocalCluster> | undefined;
  let external = process.env['KAFKA_BROKERS']?.trim() || undefined;

  const stop = async (): Promise<void> => {
    const c = cluster ?? (starting ? await starting.catch(() => undefined) : undefined);
    cluster = undefined;
    starting = undefined;
    if (c) {
      console.error('bench: stopping the local Kafka broker');
      await c.stop();
    }
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    console.error(`bench: ${signal}, cleaning up`);
    void stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const brokers = async (): Promise<string> => {
    if (external) return external;
    if (!cluster) {
      console.error('bench: KAFKA_BROKERS unset, starting a local one-broker Kafka (test harness)');
      starting ??= startLocalCluster({ brokers: 1 });
      cluster = await starting;
    }
    return cluster.brokers;
  };
  if (external) {
    await waitForKafka(external, 30_000);
    external = external.split(',').map((b) => b.trim()).filter(Boolean).join(',');
  }

  const machine = describeMachine();
  const out: { section: Section; body: string }[] = [];
  try {
    for (const section of sections) {
      console.error(`bench: ${section.name}...`);
      const started = performance.now();
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (KAFKA_SECTIONS.has(section.name)) {
        env['KAFKA_BROKERS'] = await brokers();
        const pid = cluster ? await cluster.brokerPid(0) : undefined;
        if (pid !== undefined) env['BENCH_BROKER_PID'] = String(pid);
      }
      const body = await runInChild(section, env);
      const kafka = KAFKA_SECTIONS.has(section.name) ? `; Kafka ${external ? `at ${external} (KAFKA_BROKERS)` : '4.1.2, one local KRaft broker on this machine (test harness)'}` : '';
      const full = `_Measured ${new Date().toISOString().slice(0, 10)}: ${os.availableParallelism()} CPUs, load average ${os.loadavg()[0]!.toFixed(1)} at the end${kafka}; ${((performance.now() - started) / 1000).toFixed(0)} s._\n\n${body}`;
      out.push({ section, body: full });
      console.error(`bench: ${section.name} done`);
    }
  } finally {
    await stop();
  }

  const report = [`# Mamori benchmarks`, '', `Machine: ${machine}`, '', ...out.flatMap(({ section, body }) => [`## ${section.title}`, '', body, ''])].join('\n');
  console.log(report);

  if (write) {
    let doc = readFileSync(DOC, 'utf8');
    doc = replaceBlock(doc, 'machine', 'Machine', `Last \`pnpm bench -- --write\` (${out.map((o) => o.section.name).join(', ')}): ${machine}.`);
    for (const { section, body } of out) doc = replaceBlock(doc, section.name, section.title, body);
    writeFileSync(DOC, doc);
    console.error(`bench: wrote ${out.length} section(s) to docs/benchmarks.md`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench failed:', error);
    process.exit(1);
  },
);
