// Decode throughput over the logstash-codec-netflow samples: `pnpm exec tsx services/ingest/src/netflow/bench-decode.ts`.
// A quick figure for docs/netflow.md, not a timed assertion. Templates are learned once; then the data
// packets of every sample are decoded again and again (and, separately, serialized as the collector does).
import { NetflowDecoder } from './decoder.ts';
import { loadSampleGroups, samplesPresent } from './samples.ts';

if (!samplesPresent()) {
  console.log('NetFlow samples (../shared/data/netflow) not found: nothing to measure');
  process.exit(0);
}
const decoder = new NetflowDecoder();
const packets: { packet: Buffer; exporter: string }[] = [];
for (const [i, group] of loadSampleGroups().entries()) {
  const exporter = `192.0.2.${i + 1}`;
  for (const f of group.files) for (const packet of f.datagrams) {
    const out = decoder.decode(packet, exporter, 0);
    // Steady state: packets whose data sets would wait for a missing template are left out.
    if (out.records.length > 0 && out.pending === 0) packets.push({ packet, exporter });
  }
}
function run(seconds: number, serialize: boolean): { records: number; packets: number; bytes: number; ms: number } {
  let records = 0;
  let count = 0;
  let bytes = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    for (const { packet, exporter } of packets) {
      const out = decoder.decode(packet, exporter, 0);
      records += out.records.length;
      count++;
      bytes += packet.length;
      if (serialize) for (const r of out.records) JSON.stringify(r);
    }
  }
  return { records, packets: count, bytes, ms: performance.now() - start };
}
run(1, false); // warm-up
for (const serialize of [false, true]) {
  const r = run(3, serialize);
  const perS = (n: number) => Math.round((n / r.ms) * 1000);
  console.log(`${serialize ? 'decode + JSON' : 'decode only  '}: ${perS(r.records).toLocaleString('en')} records/s, ${perS(r.packets).toLocaleString('en')} packets/s, ${(perS(r.bytes) / 1e6).toFixed(1)} MB/s (${packets.length} data packets of ${loadSampleGroups().length} specs)`);
}
