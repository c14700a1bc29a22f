import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

/** Why a request body was refused as a whole. */
export class BodyError extends Error {
  constructor(readonly status: 400 | 413 | 415, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Decodes the body per `Content-Encoding` (identity or gzip). Inflating stops at `maxBytes`
 * (zlib's maxOutputLength), so a decompression bomb costs at most that much memory: 413.
 */
export async function decodeBody(body: Buffer, encoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') {
    if (body.length > maxBytes) throw new BodyError(413, 'body_too_large', `body over ${maxBytes} bytes`);
    return body;
  }
  if (enc !== 'gzip' && enc !== 'x-gzip') throw new BodyError(415, 'unsupported_encoding', `Content-Encoding ${JSON.stringify(enc.slice(0, 32))} is not supported; use gzip or none`);
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new BodyError(413, 'body_too_large', `body inflates past ${maxBytes} bytes`);
    }
    throw new BodyError(400, 'bad_gzip', `body is not valid gzip: ${(error as Error).message}`);
  }
}

/** One line of the body: good, or refused with a code. */
export type Line = { ok: true; bytes: Buffer } | { ok: false; bytes: Buffer; code: 'INGEST_LINE_TOO_LONG' | 'INGEST_LINE_NOT_UTF8'; reason: string };

/**
 * Splits NDJSON (or any newline-separated lines) into lines; blank lines are skipped, a trailing
 * `\r` is dropped. A line over `maxLineBytes` keeps only its first `maxLineBytes` bytes (for the
 * dead letter). More than `maxLines` non-blank lines: 413.
 */
export function splitLines(body: Buffer, maxLines: number, maxLineBytes: number): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    let stop = end;
    if (stop > start && body[stop - 1] === 0x0d) stop--;
    if (stop > start && !isBlank(body, start, stop)) {
      if (lines.length >= maxLines) throw new BodyError(413, 'too_many_lines', `more than ${maxLines} lines in one request; split the batch`);
      const length = stop - start;
      if (length > maxLineBytes) {
        lines.push({ ok: false, bytes: body.subarray(start, start + maxLineBytes), code: 'INGEST_LINE_TOO_LONG', reason: `line of ${length} bytes over ${maxLineBytes}; the first ${maxLineBytes} bytes are kept` });
      } else {
        const bytes = body.subarray(start, stop);
        if (isUtf8(bytes)) lines.push({ ok: true, bytes });
        else lines.push({ ok: false, bytes, code: 'INGEST_LINE_NOT_UTF8', reason: 'line is not valid UTF-8' });
      }
    }
    start = end + 1;
  }
  return lines;
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}
