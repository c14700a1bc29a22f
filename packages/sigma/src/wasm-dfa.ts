/**
 * The ASCII step loop of the case-folding Aho-Corasick scan (`AhoCorasick.scanLower`) as a WebAssembly
 * function, for long all-ASCII texts. The JS loop costs ~5–9 ns per character here (each `charCodeAt`
 * re-checks the string's representation, and every step waits on the table load of the one before); the
 * same DFA over bytes in WebAssembly ~2.4–3 ns, copying the text in with `TextEncoder.encodeInto`
 * included (`docs/sigma.md`, Performance).
 *
 * Each automaton that uses it gets its own instance and memory (freed with the automaton):
 *   [0, 12)                where the last call stopped: position, row (and the second row of `step2`)
 *   [TEXT, TEXT + MAX)     the text, one byte per code unit (only all-ASCII texts are scanned here)
 *   [CLS, CLS + 256)       per byte: its fold class × 4 (bytes from 0x80 never occur: ASCII only)
 *   [HITS, HITS + 4 × CAP) the rows with an output reached (reported by JS after the call)
 *   [TABLE, ...)           the DFA rows: per row offset and class, the next row offset, all × 4 (bytes)
 */

const TEXT = 64;
/** Longest text scanned here (longer ones take the JS loop). */
export const WASM_MAX_TEXT = 65536;
const CLS = TEXT + WASM_MAX_TEXT;
const HITS = CLS + 256;
/** Output states one call collects at most (then it returns, and the next call resumes). */
const HIT_CAP = 1024;
const TABLE = HITS + 4 * HIT_CAP;
const PAGE = 65536;

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
/** Signed LEB128 (i32.const). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (s: string): number[] => [...leb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

/**
 * `step(pos, end, row, outRow) -> hits`: from `pos`, `row = TABLE[row + CLS[TEXT[pos]]]` per byte until
 * `pos` reaches `end` or `HIT_CAP` rows with an output (`row >= outRow`) were stored at `HITS`. Stores
 * `pos` and `row` at addresses 0 and 4, returns the number of hits. Locals: the parameters 0–3, `k` 4.
 */
const STEP = [
  0x02, 0x40, // block
  0x03, 0x40, //   loop
  0x20, 0, 0x20, 1, 0x4f, 0x0d, 1, //     if pos >= end: break
  0x20, 2, //     row
  0x20, 0, 0x2d, 0, ...leb(TEXT), //     TEXT[pos] (i32.load8_u)
  0x2d, 0, ...leb(CLS), //     CLS[byte] (i32.load8_u)
  0x6a, //     row + class × 4
  0x28, 2, ...leb(TABLE), //     TABLE[...] (i32.load)
  0x21, 2, //     row = ...
  0x20, 0, 0x41, 1, 0x6a, 0x21, 0, //     pos += 1
  0x20, 2, 0x20, 3, 0x4f, 0x04, 0x40, //     if row >= outRow:
  0x20, 4, 0x41, 2, 0x74, 0x20, 2, 0x36, 2, ...leb(HITS), //       HITS[k] = row (i32.store at k << 2)
  0x20, 4, 0x41, 1, 0x6a, 0x22, 4, //       k += 1
  0x41, ...sleb(HIT_CAP), 0x4f, 0x0d, 2, //       if k >= HIT_CAP: break (out of the block)
  0x0b, //     end if
  0x0c, 0, //     continue
  0x0b, //   end loop
  0x0b, // end block
  0x41, 0, 0x20, 0, 0x36, 2, 0, // memory[0] = pos
  0x41, 0, 0x20, 2, 0x36, 2, 4, // memory[4] = row
  0x20, 4, // return k
  0x0b,
];

/**
 * `stepN(i, cnt, gap, row0, …, rowN-1, outRow) -> hits`: N independent runs of the DFA in one
 * loop, run `j` over `TEXT[j × gap + i]` with `row j`, until `i` reaches `cnt` or at least
 * `HIT_CAP - N + 1` rows with an output were stored at `HITS` (room for those of one step).
 * The runs do not wait on each other's table loads, so a step of all costs little more than a step
 * of one. Stores `i` at address 0 and the rows from address 4. Locals: `i` 0, `cnt` 1, `gap` 2, the
 * rows from 3, `outRow` 3 + N, `k` 4 + N, the text position `p` 5 + N.
 */
function stepN(n: number): number[] {
  const outRow = 3 + n;
  const k = 4 + n;
  const p = 5 + n;
  const body: number[] = [
    0x02, 0x40, // block
    0x03, 0x40, //   loop
    0x20, 0, 0x20, 1, 0x4f, 0x0d, 1, //     if i >= cnt: break
  ];
  for (let j = 0; j < n; j++) {
    const row = 3 + j;
    body.push(0x20, row); // row j
    // p = i, then p += gap per run
    if (j === 0) body.push(0x20, 0, 0x22, p);
    else body.push(0x20, p, 0x20, 2, 0x6a, 0x22, p);
    body.push(0x2d, 0, ...leb(TEXT), 0x2d, 0, ...leb(CLS), 0x6a, 0x28, 2, ...leb(TABLE), 0x21, row); // row j = TABLE[row j + CLS[TEXT[p]]]
  }
  body.push(0x20, 0, 0x41, 1, 0x6a, 0x21, 0); //     i += 1
  for (let j = 0; j < n; j++) {
    const row = 3 + j;
    body.push(
      0x20, row, 0x20, outRow, 0x4f, 0x04, 0x40, //     if row j >= outRow:
      0x20, k, 0x41, 2, 0x74, 0x20, row, 0x36, 2, ...leb(HITS), //       HITS[k] = row j
      0x20, k, 0x41, 1, 0x6a, 0x21, k, //       k += 1
      0x0b, //     end if
    );
  }
  body.push(
    0x20, k, 0x41, ...sleb(HIT_CAP - n + 1), 0x4f, 0x0d, 1, //     if k >= HIT_CAP - N + 1: break (out of the block)
    0x0c, 0, //     continue
    0x0b, //   end loop
    0x0b, // end block
    0x41, 0, 0x20, 0, 0x36, 2, 0, // memory[0] = i
  );
  for (let j = 0; j < n; j++) body.push(0x41, 0, 0x20, 3 + j, 0x36, 2, ...leb(4 + 4 * j)); // memory[4 + 4j] = row j
  body.push(0x20, k, 0x0b); // return k
  return body;
}
const STEP2 = stepN(2);
const STEP4 = stepN(4);

const MODULE_BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type 0: (i32 × 4) -> i32 (step); type 1: (i32 × 6) -> i32 (step2); type 2: (i32 × 8) -> i32 (step4)
  ...section(1, [3, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 6, ...new Array<number>(6).fill(0x7f), 1, 0x7f, 0x60, 8, ...new Array<number>(8).fill(0x7f), 1, 0x7f]),
  // import m.mem: a memory of at least 1 page
  ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, 1]),
  ...section(3, [3, 0, 1, 2]),
  ...section(7, [3, ...name('step'), 0x00, 0, ...name('step2'), 0x00, 1, ...name('step4'), 0x00, 2]),
  // three bodies: one local (k) besides the parameters, then two (k, p) each
  ...section(10, [3, ...leb(STEP.length + 3), 1, 1, 0x7f, ...STEP, ...leb(STEP2.length + 3), 1, 2, 0x7f, ...STEP2, ...leb(STEP4.length + 3), 1, 2, 0x7f, ...STEP4]),
]);

/** The part of the WebAssembly JS API used here (the TypeScript libs of this project do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
}
type WasmMemory = InstanceType<WasmApi['Memory']>;
type WasmInstance = InstanceType<WasmApi['Instance']>;

const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
let compiled: object | null | undefined;

function module(): object | null {
  if (compiled === undefined) {
    try {
      compiled = api ? new api.Module(MODULE_BYTES) : null;
    } catch {
      // A runtime without WebAssembly (or that refuses the module): every text takes the JS loop.
      compiled = null;
    }
  }
  return compiled;
}

const encoder = new TextEncoder();

/** One automaton's DFA in WebAssembly memory. */
export class WasmDfa {
  private readonly step: (pos: number, end: number, row: number, outRow: number) => number;
  private readonly step2: (i: number, cnt: number, gap: number, row0: number, row1: number, outRow: number) => number;
  private readonly step4: (i: number, cnt: number, gap: number, row0: number, row1: number, row2: number, row3: number, outRow: number) => number;
  /** The rows of the runs over the parts of a split text, between calls of `step2`/`step4`. */
  private readonly rows = new Int32Array(4);
  private readonly text: Uint8Array;
  private readonly stop: Int32Array;
  private readonly hits: Int32Array;
  private readonly outRow4: number;

  private constructor(
    instance: WasmInstance,
    memory: WasmMemory,
    outRow: number,
    /** Longest pattern, in code units: how far the first of two runs over a text reads past the second's start. */
    private readonly maxPattern: number,
  ) {
    this.step = instance.exports['step'] as WasmDfa['step'];
    this.step2 = instance.exports['step2'] as WasmDfa['step2'];
    this.step4 = instance.exports['step4'] as WasmDfa['step4'];
    this.text = new Uint8Array(memory.buffer, TEXT, WASM_MAX_TEXT);
    this.stop = new Int32Array(memory.buffer, 0, 5);
    this.hits = new Int32Array(memory.buffer, HITS, HIT_CAP);
    this.outRow4 = outRow * 4;
  }

  /**
   * The DFA of `table` (row offsets) and `foldClass` (ASCII → class), or null without WebAssembly;
   * `maxPattern`: the automaton's longest pattern.
   */
  static build(table: Int32Array, foldClass: Uint8Array, outRow: number, maxPattern: number): WasmDfa | null {
    const m = module();
    if (m === null || !api) return null;
    const memory = new api.Memory({ initial: Math.ceil((TABLE + table.length * 4) / PAGE) });
    const bytes = new Uint8Array(memory.buffer);
    for (let c = 0; c < 128; c++) bytes[CLS + c] = foldClass[c]! * 4;
    const rows = new Int32Array(memory.buffer, TABLE, table.length);
    for (let i = 0; i < table.length; i++) rows[i] = table[i]! * 4;
    return new WasmDfa(new api.Instance(m, { m: { mem: memory } }), memory, outRow, maxPattern);
  }

  /**
   * Runs the DFA over `text` and calls `report(row)` (a row offset, as the JS loop has it) for every
   * state with an output it reaches; `report` returning true stops it. Returns undefined (having
   * reported nothing) when the text is not all ASCII or longer than `WASM_MAX_TEXT`: the caller scans
   * it in JS. Texts of `SPLIT_MIN`+ characters (and at least 4 times the longest pattern) run as two
   * parts at once, from twice that as four (`scanSplit`): every occurrence is reported, not in text
   * order, and one where parts overlap possibly twice (callers count patterns seen, `AhoCorasick.scanLower`).
   */
  scan(text: string, report: (row: number) => boolean): boolean | undefined {
    const n = text.length;
    if (n > WASM_MAX_TEXT) return undefined;
    // All ASCII exactly when UTF-8 takes one byte per code unit (anything else takes 2–4 for 1–2).
    const { read, written } = encoder.encodeInto(text, this.text);
    if (read !== n || written !== n) return undefined;
    const m = this.maxPattern;
    if (n >= 2 * SPLIT_MIN && n >= 4 * SPLIT_PATTERNS * m) return this.scanSplit(n, 4, report);
    if (n >= SPLIT_MIN && n >= 2 * SPLIT_PATTERNS * m) return this.scanSplit(n, 2, report);
    return this.run(0, n, 0, report);
  }

  /** The DFA from `row` over `TEXT[pos, end)`, reporting its output states; true when `report` stopped it. */
  private run(pos: number, end: number, row: number, report: (row: number) => boolean): boolean {
    const outRow4 = this.outRow4;
    const hits = this.hits;
    while (pos < end) {
      const k = this.step(pos, end, row, outRow4);
      pos = this.stop[0]!;
      row = this.stop[1]!;
      for (let i = 0; i < k; i++) if (report(hits[i]! >> 2)) return true;
    }
    return false;
  }

  /**
   * `streams` runs from the root in one loop, over the parts `[j × gap, (j + 1) × gap + m - 1)` of the
   * text (the last one to its end), `m` the longest pattern and `gap` a `streams`th of `n - m + 1`
   * (rounded up). An occurrence starting in `[j × gap, (j + 1) × gap)` ends before
   * `(j + 1) × gap + m - 1`, so it lies in part `j`; and each run reports only occurrences in its own
   * part. The last part is the shortest: the loop steps all runs over its length, then the others'
   * ends are stepped one run at a time.
   */
  private scanSplit(n: number, streams: 2 | 4, report: (row: number) => boolean): boolean {
    const overlap = this.maxPattern - 1;
    const gap = Math.ceil((n - overlap) / streams);
    const cnt = n - (streams - 1) * gap;
    const outRow4 = this.outRow4;
    const hits = this.hits;
    const rows = this.rows;
    rows.fill(0);
    let i = 0;
    while (i < cnt) {
      const k = streams === 2 ? this.step2(i, cnt, gap, rows[0]!, rows[1]!, outRow4) : this.step4(i, cnt, gap, rows[0]!, rows[1]!, rows[2]!, rows[3]!, outRow4);
      i = this.stop[0]!;
      for (let j = 0; j < streams; j++) rows[j] = this.stop[1 + j]!;
      for (let j = 0; j < k; j++) if (report(hits[j]! >> 2)) return true;
    }
    for (let j = 0; j < streams - 1; j++) if (this.run(j * gap + cnt, Math.min(n, (j + 1) * gap + overlap), rows[j]!, report)) return true;
    return false;
  }
}

/** Shortest text scanned as two parts at once (`WasmDfa.scanSplit`); four from twice as long. */
export const SPLIT_MIN = 256;
/** Texts split in N parts only when at least N times this many times the longest pattern (the parts overlap by it). */
const SPLIT_PATTERNS = 2;
