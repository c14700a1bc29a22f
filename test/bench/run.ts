/**
 * `pnpm bench [-- section...] [--write]`: runs the benchmark sections and prints a markdown report;
 * `--write` also replaces the generated blocks of docs/benchmarks.md (prose outside them is kept).
 *
 * Kafka: KAFKA_BROKERS when set, else a local one-broker cluster started through the test harness and
 * stopped at the end (also on error or Ctrl-C). Only the transport and pipeline sections need it.
 * The machine is shared: compare ratios within one run, not absolute numbers across runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startLocalCluster, waitForKafka, type LocalCluster } from '../harness/index.ts';
import { benchApi } from './api.ts';
import { benchCodec } from './codec.ts';
import { benchDetector } from './detector.ts';
import { benchIntel } from './intel.ts';
import { benchFormats } from './formats.ts';
import { fmtRate } from './measure.ts';
import { benchNormalizer } from './normalizer.ts';
import { benchPipeline } from './pipeline.ts';
import { benchSigma } from './sigma.ts';
import { describeMachine, replaceBlock } from './report.ts';
import { benchTransportDetailed } from './transport.ts';

const DOC = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));

interface Context {
  brokers(): Promise<string>;
  brokerPid(): Promise<number | undefined>;
}

interface Section {
  readonly name: string;
  readonly title: string;
  run(ctx: Context): Promise<string>;
}

const SECTIONS: readonly Section[] = [
  {
    name: 'codec',
    title: 'Codec',
    run: async () => benchCodec(),
  },
  {
    name: 'normalizer',
    title: 'Normalizer',
    run: async () => benchNormalizer(),
  },
  { name: 'formats', title: 'Formats', run: async () => benchFormats() },
  {
    name: 'detector',
    title: 'Detector',
    run: async () => benchDetector(),
  },
  { name: 'intel', title: 'Threat intel matching', run: async () => benchIntel() },
  {
    name: 'sigma',
    title: 'Sigma rules',
    run: async () => benchSigma(),
  },
  {
    name: 'transport',
    title: 'Transport',
    run: async (ctx) => {
      const brokers = (await ctx.brokers()).split(',');
      const { markdown, medians } = await benchTransportDetailed(brokers, { messages: Number(process.env['BENCH_TRANSPORT_MESSAGES'] ?? 100_000) });
      const [kjs, rd] = medians;
      if (!kjs || !rd) return markdown;
      // The documented choice is kafkajs, chiefly for its consume rate and small sends: say whether this run agrees.
      const consumeAhead = kjs.consume >= rd.consume;
      const smallAhead = kjs.produce100 >= rd.produce100;
      const verdict =
        consumeAhead && smallAhead
          ? 'This run agrees with the rate argument for the kafkajs default: it is ahead on consume and on small sends.'
          : !consumeAhead && !smallAhead
            ? '**This run contradicts the rate argument for the kafkajs default**: node-rdkafka is ahead on consume and on small sends.'
            : `**This run only partly bears out the rate argument for the kafkajs default**: kafkajs is ${consumeAhead ? 'ahead' : 'behind'} on consume and ${smallAhead ? 'ahead' : 'behind'} on 100-per-send produce.`;
      return `${markdown}\n\nMedians: consume ${fmtRate(kjs.consume)} (kafkajs) vs ${fmtRate(rd.consume)} (node-rdkafka) msg/s; 100 per send ${fmtRate(kjs.produce100)} vs ${fmtRate(rd.produce100)}; 1000 per send ${fmtRate(kjs.produce1000)} vs ${fmtRate(rd.produce1000)}. ${verdict}`;
    },
  },
  { name: 'api', title: 'Analyst API', run: async () => benchApi() },
  {
    name: 'pipeline',
    title: 'Pipeline end to end',
    run: async (ctx) => benchPipeline(await ctx.brokers(), { brokerPid: () => ctx.brokerPid() }),
  },
];

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

  const ctx: Context = {
    async brokers() {
      if (external) return external;
      if (!cluster) {
        console.error('bench: KAFKA_BROKERS unset, starting a local one-broker Kafka (test harness)');
        starting ??= startLocalCluster({ brokers: 1 });
        cluster = await starting;
      }
      return cluster.brokers;
    },
    async brokerPid() {
      return cluster ? cluster.brokerPid(0) : undefined;
    },
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
      const body = await section.run(ctx);
      const kafka = section.name === 'transport' || section.name === 'pipeline' ? `; Kafka ${external ? `at ${external} (KAFKA_BROKERS)` : '4.1.2, one local KRaft broker on this machine (test harness)'}` : '';
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
