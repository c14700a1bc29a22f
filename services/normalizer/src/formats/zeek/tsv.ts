/**
 * Zeek's ASCII (TSV) log format to the records Zeek's JSON writer would have written, so that both
 * forms go through the same decoders. Handles `#separator` (escaped, e.g. `\x09`), `#set_separator`,
 * `#empty_field`, `#unset_field`, `#path`, `#open`, `#fields`, `#types`, `#close`, `\xNN` escapes,
 * set/vector columns, several logs concatenated in one text (a new header mid-file), logs still open
 * (no `#close`) and a last line cut short.
 */

/** A data line turned into the object Zeek's JSON writer would have written for it. */
export interface ZeekTsvRecord {
  readonly kind: 'record';
  /** The section's `#path` (log type), '' when the header has none. */
  readonly path: string;
  /** Zeek JSON shape: dotted keys in `#fields` order; unset fields absent. */
  readonly record: Record<string, unknown>;
  /** 0-based line index in the text (header lines count). */
  readonly lineNumber: number;
}

/** A data line that cannot be read: no `#fields` header before it, or the wrong number of columns. */
export interface ZeekTsvError {
  readonly kind: 'error';
  readonly path: string;
  readonly lineNumber: number;
  readonly message: string;
}

/** One line of {@link zeekTsvToJsonLines}. */
export interface ZeekTsvJsonLine {
  readonly path: string;
  /** A Zeek JSON line; when `error` is set, the raw TSV line instead. */
  readonly line: string;
  readonly lineNumber: number;
  /** Why the TSV line could not be converted (report it as PARSE_FAILED). */
  readonly error?: string;
}

type Converter = (raw: string) => unknown;

const HEX = '0123456789abcdef';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function utf8Length(bytes: readonly number[], i: number): number {
  const b = bytes[i] as number;
  let n: number;
  let min: number;
  if (b >= 0xc2 && b <= 0xdf) [n, min] = [2, 0x80];
  else if (b >= 0xe0 && b <= 0xef) [n, min] = [3, 0x800];
  else if (b >= 0xf0 && b <= 0xf4) [n, min] = [4, 0x10000];
  else return 0;
  if (i + n > bytes.length) return 0;
  let cp = b & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const c = bytes[i + k] as number;
    if ((c & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

/**
 * Escaped bytes to text the way Zeek's JSON writer renders them: printable ASCII, whitespace controls
 * and valid UTF-8 as characters; other control bytes and invalid UTF-8 as the literal text `\xNN`.
 */
function bytesToText(bytes: readonly number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i] as number;
    // Zeek's JSON writer keeps \b \t \n \f \r as characters and prints other control bytes as `\xNN`.
    if ((b >= 0x20 && b < 0x80) || b === 0x08 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    const n = b < 0x80 ? 0 : utf8Length(bytes, i);
    if (n === 0) {
      out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
      i++;
    } else {
      out += Buffer.from(bytes.slice(i, i + n)).toString('utf8');
      i += n;
    }
  }
  return out;
}

/** Undoes the ASCII writer's escaping: `\xNN` bytes and `\\`. */
export function unescapeZeek(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  let bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 && s.charCodeAt(i + 1) === 120 && i + 3 < s.length) {
      const hi = hexValue(s.charCodeAt(i + 2));
      const lo = hexValue(s.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo);
        i += 3;
        continue;
      }
    }
    if (bytes.length > 0) {
      out += bytesToText(bytes);
      bytes = [];
    }
    if (c === 92 && s.charCodeAt(i + 1) === 92) {
      out += '\\';
      i++;
    } else {
      out += s[i];
    }
  }
  if (bytes.length > 0) out += bytesToText(bytes);
  return out;
}

/** Header values (`#separator \x09`): `\xNN` to the raw character. */
function unescapeHeader(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function numberOrText(raw: string): unknown {
  const n = Number(raw);
  // Zeek prints non-finite doubles as words (nan, inf); keep them as text, as the JSON writer would.
  return raw !== '' && Number.isFinite(n) ? n : unescapeZeek(raw);
}

function integerOrText(raw: string): unknown {
  const n = Number(raw);
  return raw !== '' && Number.isInteger(n) ? n : unescapeZeek(raw);
}

function boolOrText(raw: string): unknown {
  if (raw === 'T') return true;
  if (raw === 'F') return false;
  return unescapeZeek(raw);
}

function scalarConverter(type: string): Converter {
  switch (type) {
    case 'time':
    case 'interval':
    case 'double':
      return numberOrText;
    case 'count':
    case 'counter':
    case 'int':
    case 'port':
      return integerOrText;
    case 'bool':
      return boolOrText;
    default:
      // string, enum, addr, subnet, pattern, and types unknown to this reader: text.
      return unescapeZeek;
  }
}

class Section {
  separator = '\t';
  setSeparator = ',';
  emptyField = '(empty)';
  unsetField = '-';
  path = '';
  fields: string[] | null = null;
  converters: Converter[] = [];
  types: string[] | null = null;

  build(): void {
    const fields = this.fields ?? [];
    this.converters = fields.map((_, i) => this.converter(this.types?.[i] ?? 'string'));
  }

  private converter(type: string): Converter {
    const container = /^(?:set|vector|table)\[(.+)\]$/.exec(type);
    const empty = this.emptyField;
    if (container === null) {
      const scalar = scalarConverter(type);
      // An empty string is written as the empty-field marker.
      return (raw) => (raw === empty ? '' : scalar(raw));
    }
    const element = scalarConverter(container[1] as string);
    const setSeparator = this.setSeparator;
    const unset = this.unsetField;
    return (raw) => (raw === empty ? [] : raw.split(setSeparator).map((e) => (e === unset ? null : element(e))));
  }
}

/**
 * A streaming reader: feed it the lines of one text in order (without their newlines); it keeps the
 * current header and turns each data line into a {@link ZeekTsvRecord} or a {@link ZeekTsvError}.
 */
export class ZeekTsvReader {
  private section = new Section();

  /** One line; `null` for header, comment and blank lines. */
  push(text: string, lineNumber: number): ZeekTsvRecord | ZeekTsvError | null {
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line === '') return null;
    if (line.charCodeAt(0) === 35 || /^\s+#separator /.test(line)) {
      this.header(line.trimStart());
      return null;
    }
    const s = this.section;
    if (s.fields === null) {
      return { kind: 'error', path: s.path, lineNumber, message: `line ${lineNumber}: data before a #fields header` };
    }
    const values = line.split(s.separator);
    if (values.length !== s.fields.length) {
      return {
        kind: 'error',
        path: s.path,
        lineNumber,
        message: `line ${lineNumber}: ${values.length} columns where #fields has ${s.fields.length} (line cut short or not this header's)`,
      };
    }
    const record: Record<string, unknown> = {};
    const unset = s.unsetField;
    for (let i = 0; i < values.length; i++) {
      const raw = values[i] as string;
      if (raw === unset) continue;
      record[s.fields[i] as string] = (s.converters[i] as Converter)(raw);
    }
    return { kind: 'record', path: s.path, record, lineNumber };
  }

  private header(line: string): void {
    if (line.startsWith('#separator ')) {
      // A new header block: a concatenated log starts over.
      this.section = new Section();
      this.section.separator = unescapeHeader(line.slice('#separator '.length)) || '\t';
      return;
    }
    const s = this.section;
    const cut = line.indexOf(s.separator);
    const name = cut === -1 ? line : line.slice(0, cut);
    const value = cut === -1 ? '' : line.slice(cut + s.separator.length);
    switch (name) {
      case '#set_separator':
        s.setSeparator = unescapeHeader(value);
        break;
      case '#empty_field':
        s.emptyField = value;
        break;
      case '#unset_field':
        s.unsetField = value;
        break;
      case '#path':
        s.path = value;
        break;
      case '#fields':
        s.fields = value.split(s.separator);
        s.build();
        break;
      case '#types':
        s.types = value.split(s.separator);
        s.build();
        break;
      default:
      // #open, #close and comments change nothing; data after #close keeps the last header.
    }
  }
}

/** Lines of `text` with their 0-based index. */
function* lines(text: string): Generator<[string, number]> {
  let start = 0;
  let n = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    yield [text.slice(start, end), n++];
    start = end + 1;
  }
}

/** Every data line of a Zeek TSV text as a record or an error, in order. */
export function* zeekTsvRecords(text: string): Generator<ZeekTsvRecord | ZeekTsvError> {
  const reader = new ZeekTsvReader();
  for (const [line, n] of lines(text)) {
    const out = reader.push(line, n);
    if (out !== null) yield out;
  }
}

/**
 * Zeek TSV to the equivalent Zeek JSON lines (typed: counts and ports as numbers, `time` as epoch
 * seconds, bools, sets/vectors as arrays, unset fields absent), with the `#path` of each line's
 * section. A line that cannot be converted comes back as itself with `error` set.
 */
export function* zeekTsvToJsonLines(text: string): Generator<ZeekTsvJsonLine> {
  const reader = new ZeekTsvReader();
  for (const [line, n] of lines(text)) {
    const out = reader.push(line, n);
    if (out === null) continue;
    if (out.kind === 'record') yield { path: out.path, line: JSON.stringify(out.record), lineNumber: n };
    else yield { path: out.path, line, lineNumber: n, error: out.message };
  }
}

/** Whether `text` (after leading blanks) starts with a Zeek TSV header. */
export function isZeekTsv(text: string): boolean {
  return /^\s*#separator /.test(text.slice(0, 64));
}

/**
 * Content sniffing: the `#path` of the first header in `head` when it is a Zeek TSV log, else `null`.
 */
export function sniffZeekTsv(head: string): string | null {
  if (!isZeekTsv(head)) return null;
  const sep = /^\s*#separator (\S+)/.exec(head);
  const separator = sep === null ? '\t' : unescapeHeader(sep[1] as string) || '\t';
  const line = /^#path.*$/m.exec(head)?.[0];
  if (line === undefined) return '';
  const cut = line.indexOf(separator);
  return cut === -1 ? '' : line.slice(cut + separator.length).replace(/\r$/, '');
}
