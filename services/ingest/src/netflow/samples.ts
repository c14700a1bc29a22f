import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The public NetFlow samples (logstash-codec-netflow spec packets) beside the checkout, for tests and
 * the throughput script. Absent in a bare checkout: callers skip with a message.
 */
export const SAMPLES_DIR = fileURLToPath(new URL('../../../../../shared/data/netflow/logstash-codec-netflow/', import.meta.url));

export function samplesPresent(): boolean {
  return existsSync(SAMPLES_DIR);
}

/** The upstream spec a file belongs to: its name without the `_tpl…`/`_data…`/`_opttpl…` suffix. */
export function sampleGroup(file: string): string {
  return file.replace(/\.dat$/, '').replace(/_(tpl|tpls|opttpl|data|dpi|tplopt|tpldata)(?=[_0-9-]|$).*$/, '');
}

/** Options templates first, then templates, then data (and packets carrying both). */
function rank(file: string): number {
  const suffix = file.slice(sampleGroup(file).length);
  if (/opttpl|option|tpls/.test(suffix)) return 0;
  if (/tpl/.test(suffix) && !/data/.test(suffix)) return 1;
  return 2;
}

/**
 * Some captures hold several datagrams back to back (netcat output): split v5 by record count and
 * IPFIX by message length; v9 has no length field, so a v9 file is one datagram.
 */
export function splitDatagrams(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const rest = bytes.length - offset;
    const version = rest >= 4 ? bytes.readUInt16BE(offset) : 0;
    let size = rest;
    if (version === 5) {
      const needed = 24 + bytes.readUInt16BE(offset + 2) * 48;
      if (needed <= rest) size = needed;
    } else if (version === 10) {
      const length = bytes.readUInt16BE(offset + 2);
      if (length >= 16 && length <= rest) size = length;
    }
    out.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

export interface SampleGroup {
  readonly name: string;
  /** In feeding order: templates first. */
  readonly files: readonly { readonly file: string; readonly datagrams: readonly Buffer[] }[];
}

/** Every sample, grouped by upstream spec and ordered for decoding. */
export function loadSampleGroups(): SampleGroup[] {
  const byGroup = new Map<string, string[]>();
  for (const file of readdirSync(SAMPLES_DIR).filter((f) => f.endsWith('.dat')).sort()) {
    const name = sampleGroup(file);
    byGroup.set(name, [...(byGroup.get(name) ?? []), file]);
  }
  return [...byGroup].map(([name, files]) => ({
    name,
    files: files
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
      .map((file) => ({ file, datagrams: splitDatagrams(readFileSync(`${SAMPLES_DIR}${file}`)) })),
  }));
}
