/**
 * Intel benchmark: is matching cost near-constant in the number of indicators? One generated list
 * feed (exact IPv4, IPv4/IPv6 networks, domains, file hashes, URLs) is parsed with `parseList` at
 * several sizes (1k, 100k, 1M by default; each a prefix of the next) and indexed, and one event
 * stream is matched against each index through `matchEvent` in the same run, the order rotated per
 * round so that load on the shared machine hits all sizes alike. Reports parse and index CPU time,
 * memory (heap and RSS growth after GC when exposed; the bytes of the index's prefilters, typed arrays outside
 * the JS heap), events per CPU-second and the rate relative to
 * the smallest index.
 */
import { matchEvent } from '@mamori/detector';
import type { MamoriEvent } from '@mamori/events';
import { IndicatorIndex, parseList } from '@mamori/intel';
import { fmtRate, median } from './measure.ts';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const ip4 = (n: number) => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const hex = (r: () => number, len: number) => Array.from({ length: len }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

export interface Mix {
  ip: number;
  net: number;
  domain: number;
  hash: number;
  url: number;
}

/** Line `i` of the generated list feed (`r` advances in step, so the first n lines of any run are the same). */
export function line(i: number, r: () => number, mix: Mix): string {
  const k = i % 10;
  if (k < 3) {
    mix.ip++;
    return ip4(Math.floor(r() * 2 ** 32));
  }
  if (k === 3) {
    mix.net++;
    const p = 16 + Math.floor(r() * 13);
    const n = (Math.floor(r() * 2 ** 32) >>> (32 - p)) * 2 ** (32 - p);
    return i % 20 === 3 ? `2001:db8:${hex(r, 4)}::/48` : `${ip4(n)}/${p}`;
  }
  if (k < 7) {
    mix.domain++;
    return `${hex(r, 10)}.example${i % 1000}.com`;
  }
  if (k < 9) {
    mix.hash++;
    return hex(r, k === 7 ? 64 : 32);
  }
  mix.url++;
  return `http://${hex(r, 8)}.example.net/${hex(r, 6)}`;
}

interface Built {
  size: number;
  index: IndicatorIndex;
  mix: Mix;
  parseSeconds: number;
  loadSeconds: number;
  /** Heap of the parsed indicator objects (what the feed parser hands to the index). */
  indicatorHeap: number;
  /** Heap and RSS growth of building the index over them. */
  heap: number;
  rss: number;
}

function build(size: number): Built {
  const gc = (globalThis as { gc?: () => void }).gc;
  const r = rng(42);
  const mix: Mix = { ip: 0, net: 0, domain: 0, hash: 0, url: 0 };
  const lines: string[] = [];
  for (let i = 0; i < size; i++) lines.push(line(i, r, mix));
  let text = lines.join('\n');
  lines.length = 0;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const p0 = process.cpuUsage();
  // Valid from 0 (not load time), so that the events of the generated day can match.
  const parsed = parseList(text, { source: 'bench', confidence: 70, now: 0 });
  const p = process.cpuUsage(p0);
  if (parsed.indicators.length !== size) throw new Error(`bench feed: ${parsed.unsupported.length} lines not parsed (${parsed.unsupported[0]?.text})`);
  text = '';
  gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;
  const c0 = process.cpuUsage();
  const index = new IndicatorIndex();
  for (const ind of parsed.indicators) index.add(ind);
  const c = process.cpuUsage(c0);
  gc?.();
  const mem = process.memoryUsage();
  return { size, index, mix, parseSeconds: (p.user + p.system) / 1e6, loadSeconds: (c.user + c.system) / 1e6, indicatorHeap: heap1 - heap0, heap: mem.heapUsed - heap1, rss: mem.rss - rss1 };
}

export function events(n: number): MamoriEvent[] {
  const r = rng(7);
  return Array.from({ length: n }, (_, i) => ({
    event_id: `e${i}`, event_class: i % 4 === 0 ? 'dns_activity' : 'network_activity', time: Date.UTC(2026, 0, 1), ingest_time: 0, org_id: 'o', sensor_id: 's', source_format: 'bench',
    src_ip: ip4(0x0a000000 + (i % 65536)), src_port: 40000, dst_ip: ip4(Math.floor(r() * 2 ** 32)), dst_port: 443, protocol: 'tcp',
    bytes_out: 100, bytes_in: 100, packets_out: 1, packets_in: 1, duration_ms: 1, conn_state: 'SF', community_id: null, raw: { topic: 't', partition: 0, offset: i }, attributes: {},
    ...(i % 4 === 0 ? { dns: { query: `${hex(r, 6)}.www.example${i % 2000}.com`, qtype: 'A', rcode: null, answers: [], trans_id: null, rejected: null } } : {}),
    ...(i % 4 === 1 ? { http: { method: 'GET', host: `${hex(r, 8)}.example.net`, uri: `/${i % 8 === 1 ? hex(r, 6) : 'index.html'}?q=${i}`, user_agent: null, referrer: null, status_code: 200, request_body_bytes: null, response_body_bytes: null, content_type: null, version: null } } : {}),
  }));
}

export function benchIntel(options: { sizes?: readonly number[]; events?: number; rounds?: number } = {}): string {
  const sizes = options.sizes ?? [1_000, 100_000, 1_000_000];
  const built = sizes.map(build);
  const stream = events(options.events ?? 200_000);
  const rounds = options.rounds ?? 5;
  // The larger indexes also match more of the stream (random addresses fall in more of the generated
  // networks), and each match costs its result. To separate the cost of a lookup from the cost of
  // more results, the same run also measures the events whose matches are the same against every
  // index: the same work per event, only the index size differs.
  const smallest = built[0]!.index;
  const same = stream.filter((e) => built.every((b) => matchEvent(b.index, e).length === matchEvent(smallest, e).length));
  const measure = (events: MamoriEvent[]) => {
    const rates = built.map(() => [] as number[]);
    const matches = built.map(() => 0);
    // One warm-up pass per index, then measured rounds with the order rotated.
    for (const b of built) for (const e of events) matchEvent(b.index, e);
    for (let round = 0; round < rounds; round++) {
      for (let j = 0; j < built.length; j++) {
        const k = (j + round) % built.length;
        const index = built[k]!.index;
        let m = 0;
        const c0 = process.cpuUsage();
        for (const e of events) m += matchEvent(index, e).length;
        const c = process.cpuUsage(c0);
        rates[k]!.push(events.length / ((c.user + c.system) / 1e6));
        matches[k] = m;
      }
    }
    return { rates, matches };
  };
  const { rates, matches } = measure(stream);
  const sameRun = measure(same);
  const base = median(rates[0]!);
  const sameBase = median(sameRun.rates[0]!);
  const gc = (globalThis as { gc?: () => void }).gc;
  const largest = built[built.length - 1]!;
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    `Generated indicators (per 10: 3 exact IPv4, 1 IPv4 /16–/28 or IPv6 /48 network, 3 domains, 2 MD5/SHA-256, 1 URL; the largest index holds ` +
      `${n(largest.mix.ip)} exact IPv4, ${n(largest.mix.net)} networks, ${n(largest.mix.domain)} domains, ${n(largest.mix.hash)} hashes, ${n(largest.mix.url)} URLs), ` +
      `each smaller index a prefix of the same stream. ${n(stream.length)} events (every one: src and dst address; a quarter with a DNS query, ` +
      `a quarter with an HTTP host and URL) through \`matchEvent\` against every index in the same run, median of ${rounds} rotated rounds. ` +
      `The indicators come from one generated list feed through \`parseList\` (parse CPU and the parsed objects' heap are listed apart from the index's CPU and growth); ` +
      `memory is measured ${gc ? 'after a forced GC' : 'without a forced GC (run node with --expose-gc for tighter figures)'}.`,
    '',
    `The last three columns repeat the measurement on the ${n(same.length)} events of the stream whose matches are the same against every index ` +
      `(${n(sameRun.matches[0]!)} matches per round at every size): the same work per event, so only the size of the index differs.`,
    '',
    '| Indicators | Parse (CPU) | Parsed indicators (heap) | Index build (CPU) | Index heap growth | Index RSS growth | Prefilters (in RSS, not heap) | Events per CPU-second | vs smallest | Matches per round | Same-matches events per CPU-second | vs smallest | Matches per round |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...built.map(
      (b, k) =>
        `| ${n(b.size)} | ${b.parseSeconds.toFixed(2)} s | ${mb(b.indicatorHeap)} | ${b.loadSeconds.toFixed(2)} s | ${mb(b.heap)} | ${mb(b.rss)} | ${(b.index.prefilterBytes / 1024).toFixed(0)} KiB | **${fmtRate(median(rates[k]!))}** | ${(median(rates[k]!) / base).toFixed(2)} | ${matches[k]} | **${fmtRate(median(sameRun.rates[k]!))}** | ${(median(sameRun.rates[k]!) / sameBase).toFixed(2)} | ${sameRun.matches[k]} |`,
    ),
  ].join('\n');
}
