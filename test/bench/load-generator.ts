/**
 * Load generator for the API benchmark, run as its own process (`fork`): autocannon must not share
 * the event loop of the server it measures, or its own work (sending, parsing, timing) would be
 * counted as the server's latency. Takes the options as one JSON argument and sends the result back
 * over the IPC channel.
 */
import { createRequire } from 'node:module';

interface Options {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
}

const autocannon = createRequire(import.meta.url)('autocannon') as (opts: Options) => Promise<unknown>;
const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const result = await autocannon(options);
process.send?.(result, () => process.exit(0));
