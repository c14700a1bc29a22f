import { parseArgs } from 'node:util';
import { ConfigError, MamoriError, createLogger, errorMessage } from '@mamori/core';
import { migrate, migrationStatus } from '@mamori/storage';
import { createStorage } from './adapters.ts';
import { loadRuntimeConfig } from './config.ts';
import { runDemo } from './demo.ts';
import { createApiKey } from './keys.ts';
import { parseServiceNames, startServices } from './runtime.ts';
import { onShutdownSignal } from './signals.ts';
import { runImport } from './import.ts';
import { runNormalize } from './normalize.ts';
import { runSimulate } from './simulate.ts';

const HELP = `mamori: active cyber defense telemetry pipeline

Usage:
  mamori run <service...|all>     run services in this process: ingest normalizer detector writer query-api
                                  (all = normalizer detector writer query-api)
  mamori demo [--rate N] [--duration SECONDS] [--exit]
                                  local Kafka, all services, simulated traffic with attacks; prints detections
  mamori simulate [--rate N] [--duration SECONDS] [--seed N] [--no-attacks]
                                  produce simulated Zeek conn logs to Kafka
  mamori normalize <files|dirs...> [--format ID] [--sensor ID] [--org ID]
                                  normalize files offline (gzip and format detected by content): events as
                                  JSON lines on stdout, dead-letter reasons and a summary on stderr
  mamori import <files|dirs...> [--format ID] [--sensor ID]
                                  replay files through the running pipeline: produce their records to the
                                  format's raw topic in Kafka (old data keeps its event times)
  mamori hunt <files|dirs...> [--rules DIR] [--format ID] [--sensor ID] [--org ID]
                                  run every detector (analytics, Sigma rules and correlations, intel) over
                                  archived logs on event time, as the stream would: detections as JSON lines
                                  on stdout, a summary on stderr
  mamori db migrate | db status   apply or list ClickHouse migrations
  mamori keys create --id ID --role viewer|analyst|approver|admin --orgs ORG[,ORG]|*
                                  make an API key: prints the MAMORI_API_KEYS entry and the bearer token
  mamori rules check <dir...>      lint and compile Sigma rules: problems with file:line and code (exit 1 on errors)
  mamori rules test --rules DIR --events FILE... [--format ID|mamori]
                                  run Sigma rules over log files of any supported format: matches as JSON lines
  mamori rules explain --rule FILE --event JSON|FILE [--json]
                                  why a rule does or does not fire on a normalized event, per search and field
  mamori help

Configuration is read from the environment; see docs/configuration.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const say = (line: string) => process.stderr.write(`mamori: ${line}\n`);
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`);
      return 0;
    case 'run': {
      const names = parseServiceNames(rest);
      const config = loadRuntimeConfig(process.env);
      const logger = createLogger({ name: 'mamori' });
      const running = await startServices(names, config, process.env, { logger, progress: say });
      say(`running ${names.join(', ')}; metrics on http://${config.metricsHost}:${running.metricsPort}/metrics`);
      onShutdownSignal(() => running.close(), config.shutdownTimeoutMs, say);
      await new Promise<never>(() => undefined);
      return 0;
    }
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { rate: { type: 'string' }, duration: { type: 'string' }, exit: { type: 'boolean' } } });
      return runDemo({
        rate: positiveInt('--rate', values.rate, 400),
        durationS: positiveInt('--duration', values.duration, 60),
        exitWhenDone: values.exit ?? false,
        say,
      });
    }
    case 'simulate': {
      const { values } = parseArgs({
        args: rest,
        options: { rate: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' }, 'no-attacks': { type: 'boolean' } },
      });
      const config = loadRuntimeConfig(process.env);
      return runSimulate(config, {
        rate: positiveInt('--rate', values.rate, 200),
        durationS: positiveInt('--duration', values.duration, 60),
        seed: positiveInt('--seed', values.seed, 1),
        attacks: !(values['no-attacks'] ?? false),
        say,
      });
    }
    case 'normalize':
    case 'import': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { format: { type: 'string' }, sensor: { type: 'string' }, ...(command === 'normalize' ? { org: { type: 'string' } } : {}) },
      });
      if (positionals.length === 0) throw new ConfigError(`usage: mamori ${command} <files or directories...> [--format ID] [--sensor ID]${command === 'normalize' ? ' [--org ID]' : ''}`);
      const config = loadRuntimeConfig(process.env);
      const common = { paths: positionals, format: values.format as string | undefined, sensor: values.sensor as string | undefined, stderr: process.stderr };
      if (command === 'import') await runImport(config, process.env, common);
      else await runNormalize(config, process.env, { ...common, org: values['org'] as string | undefined, stdout: process.stdout });
      return 0;
    }
    case 'hunt': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { rules: { type: 'string', multiple: true }, format: { type: 'string' }, sensor: { type: 'string' }, org: { type: 'string' } },
      });
      if (positionals.length === 0) throw new ConfigError('usage: mamori hunt <files or directories...> [--rules DIR] [--format ID] [--sensor ID] [--org ID]');
      const { runHunt } = await import('./hunt.ts');
      await runHunt(loadRuntimeConfig(process.env), process.env, { paths: positionals, rules: values.rules, format: values.format, sensor: values.sensor, org: values.org, stdout: process.stdout, stderr: process.stderr });
      return 0;
    }
    case 'rules': {
      const rules = await import('./rules.ts');
      const [sub, ...args] = rest;
      const io = { stdout: process.stdout, stderr: process.stderr };
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { rules: { type: 'string', multiple: true }, events: { type: 'string', multiple: true }, format: { type: 'string' }, rule: { type: 'string' }, event: { type: 'string' }, json: { type: 'boolean' } } });
      if (sub === 'check') return rules.runRulesCheck(positionals, io);
      if (sub === 'test') return rules.runRulesTest({ rules: values.rules ?? [], events: [...(values.events ?? []), ...positionals], format: values.format }, io);
      if (sub === 'explain') return rules.runRulesExplain({ rule: values.rule ?? '', event: values.event ?? '', json: values.json ?? false }, io);
      throw new ConfigError('usage: mamori rules check|test|explain ... (mamori help)');
    }
    case 'db': {
      const sub = rest[0];
      if (sub !== 'migrate' && sub !== 'status') throw new ConfigError('usage: mamori db migrate | mamori db status');
      const config = loadRuntimeConfig(process.env);
      const storage = await createStorage(config);
      await storage.connect();
      try {
        if (sub === 'migrate') {
          const result = await migrate(storage, { database: config.storage.database });
          say(`applied ${result.applied.length} migration(s)${result.applied.length ? `: ${result.applied.join(', ')}` : ''}`);
        } else {
          for (const m of await migrationStatus(storage, { database: config.storage.database })) {
            process.stdout.write(`${JSON.stringify(m)}\n`);
          }
        }
      } finally {
        await storage.close();
      }
      return 0;
    }
    case 'keys': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { id: { type: 'string' }, role: { type: 'string' }, orgs: { type: 'string' } },
      });
      if (positionals[0] !== 'create') throw new ConfigError('usage: mamori keys create --id ID --role ROLE --orgs ORGS');
      const key = createApiKey(values.id ?? 'analyst', values.role ?? 'viewer', values.orgs ?? '*');
      process.stdout.write(`MAMORI_API_KEYS entry (server side, holds only a hash):\n  ${key.entry}\nBearer token (give to the client, shown once):\n  ${key.token}\n`);
      return 0;
    }
    default:
      throw new ConfigError(`unknown command ${JSON.stringify(command)}; see mamori help`);
  }
}

function positiveInt(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`mamori: ${error.message}\n`);
      process.exit(2);
    }
    const code = error instanceof MamoriError ? ` [${error.code}]` : '';
    process.stderr.write(`mamori: ${errorMessage(error)}${code}\n`);
    if (process.env['LOG_LEVEL'] === 'debug') console.error(error);
    process.exit(1);
  },
);
