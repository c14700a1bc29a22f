/**
 * One benchmark section in its own process: `node --import tsx test/bench/section.ts <name>`, started
 * by `run.ts`. Writes the section's markdown body to `BENCH_SECTION_OUT`; Kafka sections take the
 * brokers from `KAFKA_BROKERS` and the local broker's pid (for its CPU time) from `BENCH_BROKER_PID`.
 */
import { writeFileSync } from 'node:fs';
import { SECTIONS, type Context } from './sections.ts';

async function main(): Promise<void> {
  const name = process.argv[2];
  const out = process.env['BENCH_SECTION_OUT'];
  const section = SECTIONS.find((s) => s.name === name);
  if (!section || !out) throw new Error(`usage: BENCH_SECTION_OUT=<file> section.ts <${SECTIONS.map((s) => s.name).join('|')}>`);
  const ctx: Context = {
    async brokers() {
      const brokers = process.env['KAFKA_BROKERS']?.trim();
      if (!brokers) throw new Error(`bench: section ${name} needs KAFKA_BROKERS`);
      return brokers;
    },
    async brokerPid() {
      const pid = Number(process.env['BENCH_BROKER_PID']);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    },
  };
  writeFileSync(out, await section.run(ctx));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench section ${process.argv[2]} failed:`, error);
    process.exit(1);
  },
);
