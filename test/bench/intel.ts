/**
 * Intel benchmark: one million generated indicators (exact IPv4, IPv4/IPv6 networks, domains, file
 * hashes, URLs) loaded into an IndicatorIndex, then events matched against it. Reports load time,
 * memory (heap and RSS growth after GC when exposed) and events per second through `matchEvent`.
 */
import { matchEvent } from '@mamori/detector';
import type { MamoriEvent } from '@mamori/events';
import { IndicatorIndex, type Indicator } from '@mamori/intel';
import { fmtRate } from './measure.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const ip4 = (n: number) => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const hex = (r: () => number, len: number) => Array.from({ length: len }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

export function benchIntel(options: { indicators?: number; events?: number } = {}): string {
  const total = options.indicators ?? 1_000_000;
  const r = rng(42);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const index = new IndicatorIndex();
  const mix = { ip: 0, net: 0, domain: 0, hash: 0, url: 0 };
  for (let i = 0; i < total; i++) {
    const k = i % 10;
    const base: Omit<Indicator, 'kind' | 'value'> = { source: 'bench', id: `i${i}`, confidence: 70, validFrom: 0, validUntil: Number.POSITIVE_INFINITY };
    if (k < 3) {
      index.add({ ...base, kind: 'ip', value: ip4(Math.floor(r() * 2 ** 32)) });
      mix.ip++;
    } else if (k === 3) {
      const p = 16 + Math.floor(r() * 13);
      const n = (Math.floor(r() * 2 ** 32) >>> (32 - p)) * 2 ** (32 - p);
      index.add({ ...base, kind: 'ip', value: i % 20 === 3 ? `2001:db8:${hex(r, 4)}::/48` : `${ip4(n)}/${p}` });
      mix.net++;
    } else if (k < 7) {
      index.add({ ...base, kind: 'domain', value: `${hex(r, 10)}.example${i % 1000}.com` });
      mix.domain++;
    } else if (k < 9) {
      index.add({ ...base, kind: k === 7 ? 'sha256' : 'md5', value: hex(r, k === 7 ? 64 : 32) });
      mix.hash++;
    } else {
      index.add({ ...base, kind: 'url', value: `${hex(r, 8)}.example.net/${hex(r, 6)}` });
      mix.url++;
    }
  }
  const loadMs = performance.now() - t0;
  gc?.();
  const heap = process.memoryUsage().heapUsed - heap0;
  const rss = process.memoryUsage().rss - rss0;

  const n = options.events ?? 200_000;
  const events: MamoriEvent[] = Array.from({ length: n }, (_, i) => ({
    event_id: `e${i}`, event_class: i % 4 === 0 ? 'dns_activity' : 'network_activity', time: Date.UTC(2026, 0, 1), ingest_time: 0, org_id: 'o', sensor_id: 's', source_format: 'bench',
    src_ip: ip4(0x0a000000 + (i % 65536)), src_port: 40000, dst_ip: ip4(Math.floor(r() * 2 ** 32)), dst_port: 443, protocol: 'tcp',
    bytes_out: 100, bytes_in: 100, packets_out: 1, packets_in: 1, duration_ms: 1, conn_state: 'SF', community_id: null, raw: { topic: 't', partition: 0, offset: i }, attributes: {},
    ...(i % 4 === 0 ? { dns: { query: `${hex(r, 6)}.www.example${i % 2000}.com`, qtype: 'A', rcode: null, answers: [], trans_id: null, rejected: null } } : {}),
    ...(i % 4 === 1 ? { http: { method: 'GET', host: `${hex(r, 8)}.example.net`, uri: '/index.html', user_agent: null, referrer: null, status_code: 200, request_body_bytes: null, response_body_bytes: null, content_type: null, version: null } } : {}),
  }));
  const rates: number[] = [];
  let matches = 0;
  for (let round = 0; round < 3; round++) {
    const c0 = process.cpuUsage();
    matches = 0;
    for (const e of events) matches += matchEvent(index, e).length;
    const c = process.cpuUsage(c0);
    rates.push(n / ((c.user + c.system) / 1e6));
  }
  rates.sort((a, b) => a - b);
  return [
    `${total.toLocaleString('en-US')} generated indicators (${mix.ip.toLocaleString('en-US')} exact IPv4, ${mix.net.toLocaleString('en-US')} IPv4/IPv6 networks /16–/28 and /48, ` +
      `${mix.domain.toLocaleString('en-US')} domains, ${mix.hash.toLocaleString('en-US')} MD5/SHA-256, ${mix.url.toLocaleString('en-US')} URLs) in one IndicatorIndex; ` +
      `${n.toLocaleString('en-US')} events (every one: src and dst address; a quarter with a DNS query, a quarter with an HTTP host and URL) through \`matchEvent\`, median of 3 rounds. ` +
      `Memory is measured ${gc ? 'after a forced GC' : 'without a forced GC (run node with --expose-gc for tighter figures)'}.`,
    '',
    '| Indicators | Load time | Heap growth | RSS growth | Events per CPU-second | Matches per round |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${total.toLocaleString('en-US')} | ${(loadMs / 1000).toFixed(1)} s | ${mb(heap)} | ${mb(rss)} | **${fmtRate(rates[1]!)}** | ${matches} |`,
  ].join('\n');
}
