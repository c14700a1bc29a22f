/**
 * The benchmark sections. `run.ts` runs each in its own Node process (`section.ts`), so one section's
 * heap, JIT state and leftover garbage do not weigh on the next one's CPU time.
 */
import { benchApi } from './api.ts';
import { benchCodec } from './codec.ts';
import { benchDetector } from './detector.ts';
import { benchIntel } from './intel.ts';
import { benchFormats } from './formats.ts';
import { fmtRate } from './measure.ts';
import { benchNormalizer } from './normalizer.ts';
import { benchPipeline } from './pipeline.ts';
import { benchSigma } from './sigma.ts';
import { benchTransportDetailed } from './transport.ts';

export interface Context {
  brokers(): Promise<string>;
  brokerPid(): Promise<number | undefined>;
}

export interface Section {
  readonly name: string;
  readonly title: string;
  run(ctx: Context): Promise<string>;
}

export const SECTIONS: readonly Section[] = [
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

/** Sections that need a Kafka broker (`KAFKA_BROKERS`). */
export const KAFKA_SECTIONS: ReadonlySet<string> = new Set(['transport', 'pipeline']);
