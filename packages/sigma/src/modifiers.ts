import { Buffer } from 'node:buffer';
import { isLiteral, literalText, normalizeTokens, parseWildcards, STAR, type PatternToken } from './wildcard.ts';

/** Every modifier of Sigma 2.1 this engine knows. */
export const KNOWN_MODIFIERS = new Set([
  'contains', 'startswith', 'endswith', 'all', 'exists', 'cased', 'neq', 'windash', 're', 'i', 'm', 's',
  'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide', 'lt', 'lte', 'gt', 'gte',
  'minute', 'hour', 'day', 'week', 'month', 'year', 'cidr', 'expand', 'fieldref',
]);

export const TYPE_MODIFIERS = new Set(['re', 'cidr', 'exists', 'fieldref', 'lt', 'lte', 'gt', 'gte']);
export const TIME_MODIFIERS = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);

/** A value on its way through transformation modifiers: a pattern, or bytes from an encoding. */
export type WorkValue = { t: 'tokens'; tokens: PatternToken[] } | { t: 'bytes'; bytes: Uint8Array };

export class ModifierError extends Error {
  constructor(
    readonly kind: 'invalid' | 'unsupported' | 'too-large',
    message: string,
  ) {
    super(message);
  }
}

/** Most values one item may expand to (windash permutations × placeholder values). */
export const MAX_EXPANSION = 4096;

const WINDASH_CHARS = ['-', '/', '\u2013', '\u2014', '\u2015'];

/** `%name%` placeholders (`\%` is a plain percent) replaced by each of their values. */
export function expandPlaceholders(raw: string, placeholders: Readonly<Record<string, readonly string[]>>): string[] {
  const parts: (string | readonly string[])[] = [];
  let acc = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && raw[i + 1] === '%') {
      acc += '%';
      i++;
    } else if (c === '%') {
      const end = raw.indexOf('%', i + 1);
      if (end < 0) {
        acc += c;
        continue;
      }
      const name = raw.slice(i + 1, end);
      const values = placeholders[name];
      if (!values || values.length === 0) throw new ModifierError('unsupported', `placeholder %${name}% has no values in the placeholder configuration`);
      parts.push(acc, values);
      acc = '';
      i = end;
    } else acc += c;
  }
  parts.push(acc);
  let out = [''];
  for (const p of parts) {
    if (typeof p === 'string') out = out.map((o) => o + p);
    else out = out.flatMap((o) => p.map((v) => o + v));
    if (out.length > MAX_EXPANSION) throw new ModifierError('too-large', `placeholder expansion exceeds ${MAX_EXPANSION} values`);
  }
  return out;
}

function bytesOf(v: WorkValue, modifier: string): Uint8Array {
  if (v.t === 'bytes') return v.bytes;
  if (!isLiteral(v.tokens)) throw new ModifierError('invalid', `'${modifier}' cannot encode a value with wildcards`);
  return new Uint8Array(Buffer.from(literalText(v.tokens), 'utf8'));
}

function textOf(v: WorkValue, modifier: string): string {
  if (v.t === 'bytes') return Buffer.from(v.bytes).toString('latin1');
  if (!isLiteral(v.tokens)) throw new ModifierError('invalid', `'${modifier}' cannot encode a value with wildcards`);
  return literalText(v.tokens);
}

export function toTokens(v: WorkValue): PatternToken[] {
  return v.t === 'tokens' ? v.tokens : [Buffer.from(v.bytes).toString('latin1')];
}

function utf16(text: string, be: boolean, bom: boolean): Uint8Array {
  const out = new Uint8Array(text.length * 2 + (bom ? 2 : 0));
  let o = 0;
  if (bom) {
    out[o++] = 0xff;
    out[o++] = 0xfe;
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (be) {
      out[o++] = c >> 8;
      out[o++] = c & 0xff;
    } else {
      out[o++] = c & 0xff;
      out[o++] = c >> 8;
    }
  }
  return out;
}

/** The three shifted encodings of `base64offset`, each cut to the part that does not depend on neighbours. */
export function base64Offsets(bytes: Uint8Array): string[] {
  const starts = [0, 2, 3];
  const ends = [0, -3, -2];
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const shifted = new Uint8Array(i + bytes.length);
    shifted.fill(0x20, 0, i);
    shifted.set(bytes, i);
    const b64 = Buffer.from(shifted).toString('base64');
    const end = ends[(bytes.length + i) % 3]!;
    out.push(b64.slice(starts[i]!, end === 0 ? undefined : end));
  }
  return out;
}

function windash(tokens: PatternToken[]): PatternToken[][] {
  let variants: PatternToken[][] = [[]];
  for (const t of tokens) {
    if (typeof t !== 'string') {
      for (const v of variants) v.push(t);
      continue;
    }
    const pieces = t.split(/\B[-/]\b/);
    if (pieces.length === 1) {
      for (const v of variants) v.push(t);
      continue;
    }
    let texts = [pieces[0]!];
    for (let i = 1; i < pieces.length; i++) {
      texts = texts.flatMap((x) => WINDASH_CHARS.map((d) => x + d + pieces[i]!));
      if (texts.length * variants.length > MAX_EXPANSION) throw new ModifierError('too-large', `windash expands to more than ${MAX_EXPANSION} values`);
    }
    variants = variants.flatMap((v) => texts.map((x) => [...v, x]));
  }
  return variants;
}

/** Applies the transformation modifiers in order; type modifiers and flags pass through. */
export function transform(raw: string, modifiers: readonly string[]): PatternToken[][] {
  let values: WorkValue[] = [{ t: 'tokens', tokens: parseWildcards(raw) }];
  for (const m of modifiers) {
    switch (m) {
      case 'contains':
        values = values.map((v) => ({ t: 'tokens', tokens: normalizeTokens([STAR, ...toTokens(v), STAR]) }));
        break;
      case 'startswith':
        values = values.map((v) => ({ t: 'tokens', tokens: normalizeTokens([...toTokens(v), STAR]) }));
        break;
      case 'endswith':
        values = values.map((v) => ({ t: 'tokens', tokens: normalizeTokens([STAR, ...toTokens(v)]) }));
        break;
      case 'windash':
        values = values.flatMap((v) => windash(toTokens(v)).map((tokens): WorkValue => ({ t: 'tokens', tokens })));
        break;
      case 'utf16le':
      case 'wide':
        values = values.map((v) => ({ t: 'bytes', bytes: utf16(textOf(v, m), false, false) }));
        break;
      case 'utf16be':
        values = values.map((v) => ({ t: 'bytes', bytes: utf16(textOf(v, m), true, false) }));
        break;
      case 'utf16':
        values = values.map((v) => ({ t: 'bytes', bytes: utf16(textOf(v, m), false, true) }));
        break;
      case 'base64':
        values = values.map((v) => ({ t: 'tokens', tokens: [Buffer.from(bytesOf(v, m)).toString('base64')] }));
        break;
      case 'base64offset':
        values = values.flatMap((v) => base64Offsets(bytesOf(v, m)).map((s): WorkValue => ({ t: 'tokens', tokens: [s] })));
        break;
      default:
        break;
    }
    if (values.length > MAX_EXPANSION) throw new ModifierError('too-large', `modifiers expand the value to more than ${MAX_EXPANSION} values`);
  }
  return values.map(toTokens).map(normalizeTokens);
}
