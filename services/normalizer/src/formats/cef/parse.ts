/**
 * ArcSight Common Event Format (CEF) syntax: `CEF:Version|Device Vendor|Device Product|Device Version|
 * Signature ID|Name|Severity|Extension`. Pure text to a typed record; mapping to events is in decode.ts.
 */

import { stripEnd } from '../text.ts';

/** One parsed CEF line. Header fields are unescaped; extension values too. */
export interface CefRecord {
  version: number;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  /** Extension pairs in order of appearance; a repeated key keeps its last value. */
  extension: Map<string, string>;
  /** Extension text that held no `key=` at all (kept so nothing is silently lost). */
  unparsed: string;
}

/** Why a line is not CEF. */
export class CefSyntaxError extends Error {}

/** Extension keys: CEF dictionary names, vendor custom keys (`ad.x`, `cs1Label`), bracketed array keys. */
const KEY = /^[A-Za-z0-9_.[\]-]{1,128}$/;

/** Header escapes: `\|` and `\\` (any other backslash is kept literally, as devices write it). */
function unescapeHeader(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '\\' && (next === '|' || next === '\\')) {
      out += next;
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/** Extension value escapes: `\=`, `\\`, `\n`, `\r`, and `\|` (tolerated though only headers need it). */
export function unescapeValue(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c !== '\\' || next === undefined) {
      out += c;
      continue;
    }
    if (next === '=' || next === '\\' || next === '|') out += next;
    else if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else {
      out += c;
      continue;
    }
    i++;
  }
  return out;
}

/**
 * Splits the extension into pairs. A value runs until the next unescaped `=` whose preceding
 * space-delimited token is a valid key: `msg=disk full on /var act=blocked` gives two pairs, while
 * `request=http://x/?a=1` keeps `a=1` in the value because `http://x/?a` is not a key.
 */
export function parseExtension(ext: string): { pairs: Map<string, string>; unparsed: string } {
  const pairs = new Map<string, string>();
  let key: string | undefined;
  let valueStart = 0;
  let firstKeyAt = -1;
  const n = ext.length;
  // The last space before i, kept as we go: scanning back from every '=' was quadratic, and a
  // line of `a=a=a=...` without spaces took seconds per 10 KB (a hang on a 1 MiB record).
  let lastSpace = -1;
  for (let i = 0; i < n; i++) {
    const c = ext.charCodeAt(i);
    if (c === 32) lastSpace = i;
    if (c === 92 /* \ */) {
      if (ext.charCodeAt(i + 1) === 32) lastSpace = i + 1;
      i++;
      continue;
    }
    if (c !== 61 /* = */) continue;
    const j = lastSpace;
    // The first key may follow other text only when nothing was parsed yet.
    if (i - j - 1 > 128) continue;
    const candidate = ext.slice(j + 1, i);
    if (!KEY.test(candidate)) continue;
    if (key === undefined) {
      firstKeyAt = j + 1;
    } else {
      if (j < valueStart) continue; // `k==v`: the second '=' belongs to the value
      pairs.set(key, unescapeValue(stripEnd(ext.slice(valueStart, j), ' ')));
    }
    key = candidate;
    valueStart = i + 1;
  }
  if (key !== undefined) pairs.set(key, unescapeValue(stripEnd(ext.slice(valueStart), ' \r\n')));
  const unparsed = (firstKeyAt === -1 ? ext : ext.slice(0, firstKeyAt)).trim();
  return { pairs, unparsed };
}

/**
 * Parses one CEF line starting at `CEF:`. Throws CefSyntaxError when the header is incomplete
 * (fewer than seven unescaped pipes) or the version is not a number.
 */
export function parseCef(line: string): CefRecord {
  if (!line.startsWith('CEF:')) throw new CefSyntaxError('does not start with CEF:');
  const fields: string[] = [];
  let start = 4;
  let i = 4;
  for (; i < line.length && fields.length < 7; i++) {
    const c = line.charCodeAt(i);
    if (c === 92) {
      i++;
    } else if (c === 124 /* | */) {
      fields.push(line.slice(start, i));
      start = i + 1;
    }
  }
  if (fields.length < 7) throw new CefSyntaxError(`header has ${fields.length + 1} of 8 pipe-separated fields`);
  const [versionText, vendor, product, deviceVersion, signatureId, name, severity] = fields.map((f, index) => (index === 0 ? f.trim() : unescapeHeader(f)));
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(versionText!)) throw new CefSyntaxError(`version ${JSON.stringify(versionText!.slice(0, 20))} is not a number`);
  const { pairs, unparsed } = parseExtension(line.slice(start));
  return {
    version: Math.trunc(Number(versionText)),
    vendor: vendor!,
    product: product!,
    deviceVersion: deviceVersion!,
    signatureId: signatureId!,
    name: name!,
    severity: severity!.trim(),
    extension: pairs,
    unparsed,
  };
}
