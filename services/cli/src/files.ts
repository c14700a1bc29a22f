import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { ConfigError, errorMessage } from '@mamori/core';
import type { SensorFormat } from '@mamori/normalizer';

/** How much of a file (decompressed) the formats' `sniff` hooks see. */
export const SNIFF_HEAD_BYTES = 64 * 1024;

/**
 * Files named on the command line, directories recursed (sorted, hidden entries skipped). A path
 * that does not exist or cannot be listed is a usage error.
 */
export function expandPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (path: string, named: boolean) => {
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      throw new ConfigError(`cannot read ${path}: ${errorMessage(error)}`, { cause: error });
    }
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) if (!name.startsWith('.')) visit(join(path, name), false);
    } else if (stat.isFile() || named) {
      out.push(path);
    }
  };
  for (const p of paths) visit(resolve(p), true);
  return out;
}

/**
 * What a file holds: its bytes, gunzipped when they start with the gzip magic (the name does not
 * matter). A gzip stream that ends early (a log still being compressed at rotation, a cut copy)
 * gives what it holds with a `GZIP_TRUNCATED` warning: the cut last line is then reported by the
 * format like any cut line. A gzip stream that is corrupt gives `GZIP_CORRUPT` and no bytes: the
 * file is skipped, the run goes on. A file that cannot be read at all is a usage error (ConfigError).
 */
export type InputBytes =
  | { readonly ok: true; readonly bytes: Buffer; readonly warning?: { readonly code: 'GZIP_TRUNCATED'; readonly message: string } }
  | { readonly ok: false; readonly code: 'GZIP_CORRUPT'; readonly message: string };

export function readInput(path: string): InputBytes {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`cannot read ${path}: ${errorMessage(error)}`, { cause: error });
  }
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return { ok: true, bytes };
  try {
    return { ok: true, bytes: gunzipSync(bytes) };
  } catch (error) {
    if ((error as { code?: string }).code !== 'Z_BUF_ERROR') {
      return { ok: false, code: 'GZIP_CORRUPT', message: `looks gzip-compressed but cannot be decompressed: ${errorMessage(error)}` };
    }
    // Z_BUF_ERROR: the stream ended early. A sync flush gives everything inflated up to the cut.
    let partial: Buffer;
    try {
      partial = gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (cause) {
      return { ok: false, code: 'GZIP_CORRUPT', message: `looks gzip-compressed but cannot be decompressed: ${errorMessage(cause)}` };
    }
    if (partial.length === 0) return { ok: false, code: 'GZIP_CORRUPT', message: 'looks gzip-compressed but ends before any data' };
    return {
      ok: true,
      bytes: partial,
      warning: { code: 'GZIP_TRUNCATED', message: `the gzip stream ends early (a file still being written, or cut in copying); read the ${partial.length} bytes it holds` },
    };
  }
}

/** A format and how sure detection is of it (1 = forced by `--format`). */
export interface Detection {
  readonly format: SensorFormat;
  readonly confidence: number;
}

const TRIAL_LINES = 20;

/**
 * Scores a format without a `sniff` hook by decoding the first lines: the share that decodes
 * cleanly, at half weight, so any format that sniffs with confidence wins over a trial.
 */
function trialScore(format: SensorFormat, head: string): number {
  const lines = head.split('\n').slice(0, TRIAL_LINES + 1).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
  // The last line of the head may be cut; drop it when the head was truncated mid-line.
  const sample = lines.slice(0, TRIAL_LINES);
  if (sample.length === 0) return 0;
  let good = 0;
  for (const [i, line] of sample.entries()) {
    try {
      const r = format.decode(Buffer.from(line), { topic: 'sniff', partition: 0, offset: i, sensorId: 'sniff', orgId: 'sniff', ingestTime: 0 });
      if (r.events.length > 0 && r.errors.length === 0) good++;
    } catch {
      // A decoder that throws on this content does not own it.
    }
  }
  return (good / sample.length) * 0.5;
}

/**
 * Content detection: every format's `sniff(head)` (or a trial decode for formats without one);
 * the highest confidence wins, ties go to the earlier registered format. Undefined when no format
 * claims the content.
 */
export function detectFormat(head: string, formats: readonly SensorFormat[]): Detection | undefined {
  let best: Detection | undefined;
  for (const format of formats) {
    let confidence = 0;
    try {
      confidence = format.sniff ? format.sniff(head) : trialScore(format, head);
    } catch {
      confidence = 0;
    }
    if (confidence > 0 && (!best || confidence > best.confidence)) best = { format, confidence };
  }
  return best;
}

/** The format with id `id`, or a usage error listing the known ids. */
export function formatById(id: string, formats: readonly SensorFormat[]): SensorFormat {
  const format = formats.find((f) => f.id === id);
  if (!format) throw new ConfigError(`--format ${JSON.stringify(id)} is not a registered format; known: ${formats.map((f) => f.id).join(', ')}`);
  return format;
}

/** One raw record of a file: a line (1-based `line`), or a line that could not be converted. */
export interface FileRecord {
  readonly line: number;
  readonly text: string;
  /** Set when the line could not even be turned into the format's syntax (Zeek TSV column count). */
  readonly error?: string;
}

/** A file split into records, with the format that will decode them. */
export type OpenedFile =
  | {
      readonly ok: true;
      readonly path: string;
      readonly format: SensorFormat;
      readonly confidence: number;
      readonly container: 'lines' | 'json-documents' | 'zeek-tsv';
      readonly records: FileRecord[];
      /** Set when only part of the file could be read (see {@link readInput}); print it, the records are still good. */
      readonly warning?: { readonly code: 'GZIP_TRUNCATED'; readonly message: string };
    }
  | { readonly ok: false; readonly path: string; readonly code: 'FORMAT_UNKNOWN' | 'FORMAT_UNSUPPORTED' | 'GZIP_CORRUPT'; readonly message: string };

interface ZeekTsvModule {
  zeekTsvToJsonLines(text: string): Iterable<{ path: string; line: string; lineNumber: number; error?: string }>;
}

let zeekTsv: Promise<ZeekTsvModule | undefined> | undefined;

/**
 * The Zeek TSV reader of the normalizer's zeek formats, loaded on first use. Loaded by path, not
 * imported, so this command keeps working (reporting TSV as unsupported) where it is absent.
 */
function loadZeekTsv(): Promise<ZeekTsvModule | undefined> {
  zeekTsv ??= import(new URL('../../normalizer/src/formats/zeek/tsv.ts', import.meta.url).href).then(
    (m: Partial<ZeekTsvModule>) => (typeof m.zeekTsvToJsonLines === 'function' ? (m as ZeekTsvModule) : undefined),
    () => undefined,
  );
  return zeekTsv;
}

function isZeekTsvHead(head: string): boolean {
  return /^\s*#separator /.test(head.slice(0, 64));
}

function splitLines(text: string): FileRecord[] {
  const records: FileRecord[] = [];
  let start = 0;
  let n = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    n++;
    const line = text.slice(start, end).replace(/\r$/, '');
    if (line.trim().length > 0) records.push({ line: n, text: line });
    start = end + 1;
  }
  return records;
}

/**
 * Whether a text holds JSON objects written over several lines (`jq .` output, an export's
 * pretty-printed array) rather than one object a line: it opens an array, or its first object does
 * not end on its first line.
 */
function isJsonDocuments(text: string): boolean {
  const start = text.search(/\S/);
  if (start === -1) return false;
  if (text[start] === '[') return true;
  if (text[start] !== '{') return false;
  const end = text.indexOf('\n', start);
  const first = text.slice(start, end === -1 ? text.length : end).trim();
  try {
    JSON.parse(first);
    return false;
  } catch {
    return true;
  }
}

/**
 * The objects of a text that is a stream of (pretty-printed) JSON objects or one JSON array of
 * them, each as one line (line breaks outside strings, the only place JSON allows them, become
 * spaces; nothing else changes) with the line it starts on. A cut last object is kept as it is, for
 * its decoder to report. Undefined when the text is not that shape (anything but an object at the
 * top, or in the array); it is then read line by line.
 */
function splitJsonDocuments(text: string): FileRecord[] | undefined {
  const records: FileRecord[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) line++;
      else if (c !== 32 && c !== 9 && c !== 13) break;
    }
  };
  skipSpace();
  const array = text[i] === '[';
  if (array) {
    i++;
    skipSpace();
  }
  let closed = !array;
  while (i < n) {
    if (array && text[i] === ']') {
      i++;
      closed = true;
      skipSpace();
      break;
    }
    if (text[i] !== '{') return undefined;
    const from = i;
    const fromLine = line;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) line++;
      if (inString) {
        if (c === 92) i++; // backslash: the next character is escaped
        else if (c === 34) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    records.push({ line: fromLine, text: text.slice(from, i).replace(/\r?\n/g, ' ') });
    skipSpace();
    if (array && text[i] === ',') {
      i++;
      skipSpace();
    }
  }
  // Text after the array, or an array that never closes: not this shape, unless it was cut inside an object.
  if (i < n || (!closed && records.length === 0)) return undefined;
  return records;
}

/**
 * Reads a file (gzip auto-detected), detects its format by content (or uses `forced`) and splits
 * it into records: one line per record for line formats; JSON objects written over several lines
 * (`jq .` output, a pretty-printed array) one object per record; Zeek TSV is first converted to the
 * Zeek JSON lines its decoders read, keeping the TSV line numbers.
 */
export async function openFile(path: string, formats: readonly SensorFormat[], forced?: SensorFormat): Promise<OpenedFile> {
  const input = readInput(path);
  if (!input.ok) return { ok: false, path, code: input.code, message: input.message };
  const warning = input.warning === undefined ? {} : { warning: input.warning };
  const text = input.bytes.toString('utf8');
  let records: FileRecord[];
  let container: 'lines' | 'json-documents' | 'zeek-tsv' = 'lines';
  if (isZeekTsvHead(text)) {
    const tsv = await loadZeekTsv();
    if (!tsv) return { ok: false, path, code: 'FORMAT_UNSUPPORTED', message: 'Zeek TSV (#separator header) is not supported by this build; convert the log to JSON (zeek LogAscii::use_json=T) or use a build with the Zeek TSV reader' };
    records = [];
    for (const l of tsv.zeekTsvToJsonLines(text)) records.push({ line: l.lineNumber + 1, text: l.line, ...(l.error === undefined ? {} : { error: l.error }) });
    container = 'zeek-tsv';
  } else {
    const documents = isJsonDocuments(text) ? splitJsonDocuments(text) : undefined;
    if (documents !== undefined) container = 'json-documents';
    records = documents ?? splitLines(text);
  }
  if (forced) return { ok: true, path, format: forced, confidence: 1, container, records, ...warning };
  const head = container === 'lines' ? text.slice(0, SNIFF_HEAD_BYTES) : headOf(records);
  const detected = detectFormat(head, formats);
  if (!detected) return { ok: false, path, code: 'FORMAT_UNKNOWN', message: `no registered format recognizes this content (known: ${formats.map((f) => f.id).join(', ')}); name one with --format` };
  return { ok: true, path, format: detected.format, confidence: detected.confidence, container, records, ...warning };
}

function headOf(records: readonly FileRecord[]): string {
  let head = '';
  for (const r of records) {
    if (r.error !== undefined) continue;
    if (head.length + r.text.length + 1 > SNIFF_HEAD_BYTES) break;
    head += `${r.text}\n`;
  }
  return head;
}
