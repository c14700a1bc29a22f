/**
 * Syslog over TCP (RFC 6587): octet counting (`LEN SP MSG`) or newline-terminated messages. The
 * framing is detected at the start of every frame: a digit starts an octet count (a message never
 * starts with one: it starts with `<PRI>`), anything else is a newline-terminated message. That
 * covers connections that use one framing throughout, and relays that mix them.
 */

/** What the framer cut out of the stream. */
export type SyslogFrame =
  | { kind: 'message'; bytes: Buffer }
  /** Longer than the bound: the first `maxMessageBytes` bytes; `size` is the declared length (octet counting) or -1 (newline framing). */
  | { kind: 'oversize'; bytes: Buffer; size: number }
  /** The connection ended inside an octet-counted frame. */
  | { kind: 'incomplete'; bytes: Buffer; size: number };

type State =
  | { at: 'start' }
  | { at: 'octets'; length: number }
  | { at: 'line'; scanned: number }
  | { at: 'skip'; remaining: number }
  | { at: 'skip-line' };

/** Longest octet count we read: 10 digits. */
const MAX_LENGTH_DIGITS = 10;

export class SyslogTcpFramer {
  private buf: Buffer = Buffer.alloc(0);
  private state: State = { at: 'start' };

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held waiting for the rest of a frame (at most about `maxMessageBytes` + one chunk). */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): SyslogFrame[] {
    const buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: SyslogFrame[] = [];
    const max = this.maxMessageBytes;
    let pos = 0;
    loop: while (pos < buf.length) {
      const state = this.state;
      switch (state.at) {
        case 'start': {
          const c = buf[pos]!;
          // Stray terminators between frames (CRLF senders, NUL-terminated relays).
          if (c === 0x0a || c === 0x0d || c === 0x00) {
            pos++;
            continue;
          }
          if (c >= 0x30 && c <= 0x39) {
            let i = pos;
            while (i < buf.length && i - pos <= MAX_LENGTH_DIGITS && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
            if (i === buf.length && i - pos <= MAX_LENGTH_DIGITS) break loop; // the count is still arriving
            if (buf[i] === 0x20 && i - pos <= MAX_LENGTH_DIGITS) {
              const length = Number(buf.toString('latin1', pos, i));
              pos = i + 1;
              this.state = { at: 'octets', length };
              continue;
            }
          }
          this.state = { at: 'line', scanned: 0 };
          continue;
        }
        case 'octets': {
          const available = buf.length - pos;
          if (state.length <= max) {
            if (available < state.length) break loop;
            if (state.length > 0) out.push({ kind: 'message', bytes: Buffer.from(buf.subarray(pos, pos + state.length)) });
            pos += state.length;
            this.state = { at: 'start' };
          } else {
            if (available < max) break loop;
            out.push({ kind: 'oversize', bytes: Buffer.from(buf.subarray(pos, pos + max)), size: state.length });
            pos += max;
            this.state = { at: 'skip', remaining: state.length - max };
          }
          continue;
        }
        case 'line': {
          const nl = buf.indexOf(0x0a, pos + state.scanned);
          if (nl === -1) {
            if (buf.length - pos > max) {
              out.push({ kind: 'oversize', bytes: Buffer.from(buf.subarray(pos, pos + max)), size: -1 });
              pos = buf.length;
              this.state = { at: 'skip-line' };
              continue;
            }
            state.scanned = buf.length - pos;
            break loop;
          }
          const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
          if (end - pos > max) out.push({ kind: 'oversize', bytes: Buffer.from(buf.subarray(pos, pos + max)), size: end - pos });
          else if (end > pos) out.push({ kind: 'message', bytes: Buffer.from(buf.subarray(pos, end)) });
          pos = nl + 1;
          this.state = { at: 'start' };
          continue;
        }
        case 'skip': {
          const n = Math.min(state.remaining, buf.length - pos);
          pos += n;
          state.remaining -= n;
          if (state.remaining === 0) this.state = { at: 'start' };
          continue;
        }
        case 'skip-line': {
          const nl = buf.indexOf(0x0a, pos);
          if (nl === -1) {
            pos = buf.length;
          } else {
            pos = nl + 1;
            this.state = { at: 'start' };
          }
          continue;
        }
      }
    }
    this.buf = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return out;
  }

  /** The connection ended: a final unterminated line is a message; a partial octet frame is incomplete. */
  end(): SyslogFrame[] {
    const rest = this.buf;
    const state = this.state;
    this.buf = Buffer.alloc(0);
    this.state = { at: 'start' };
    if (state.at === 'octets' && rest.length > 0) return [{ kind: 'incomplete', bytes: rest.subarray(0, this.maxMessageBytes), size: state.length }];
    if (state.at === 'octets') return [{ kind: 'incomplete', bytes: rest, size: state.length }];
    if (rest.length === 0 || state.at === 'skip' || state.at === 'skip-line') return [];
    // An unfinished octet count ("12") or an unterminated line: the sender meant it as a message.
    const text = rest[rest.length - 1] === 0x0d ? rest.subarray(0, -1) : rest;
    return text.length === 0 ? [] : [{ kind: 'message', bytes: text }];
  }
}
