import { StorageError, type QueryParams } from '@mamori/storage';

/**
 * Binds `{name:Type}` query parameters into the statement as typed constants, the way the engine's
 * own substitution does it (ClickHouse replaces each placeholder by `_CAST(value, 'Type')`; here it
 * becomes `CAST(<literal> AS Type)`), before the statement reaches chDB.
 *
 * Why not chDB's engine-side binding: the node binding runs every parameterized query through one
 * process-wide chain (its parameter set/reset is not isolated per connection in libchdb, and
 * concurrent use can abort the engine), so with engine-side binding no two API queries ever run at
 * the same time, whatever the number of sessions. Bound here, they are plain statements and run in
 * parallel on the session pool.
 *
 * Safety rests on two rules, both tested against the engine's own binding
 * (`test/bind.test.ts`): a value only ever appears inside a literal this module writes (a string
 * literal with `\` and `'` escaped and every control character written as `\xHH`; integers as
 * validated decimal digits; arrays of those), and only placeholder types with a known literal form
 * are bound here. Any other type returns `undefined` and the caller falls back to the engine's
 * binding. Placeholders inside quoted strings, heredocs, quoted identifiers and comments are left alone, as
 * the engine's parser leaves them.
 */

const INTEGER_RANGES: Record<string, readonly [bigint, bigint]> = {
  UInt8: [0n, 255n],
  UInt16: [0n, 65_535n],
  UInt32: [0n, 4_294_967_295n],
  UInt64: [0n, 18_446_744_073_709_551_615n],
  Int8: [-128n, 127n],
  Int16: [-32_768n, 32_767n],
  Int32: [-2_147_483_648n, 2_147_483_647n],
  Int64: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
};

/** A literal writer for one placeholder type, or undefined when the type is not bound here. */
type LiteralWriter = (name: string, value: unknown) => string;

function integerWriter(type: string, [min, max]: readonly [bigint, bigint]): LiteralWriter {
  return (name, value) => {
    let n: bigint;
    if (typeof value === 'bigint') n = value;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
    else if (typeof value === 'string' && /^-?[0-9]{1,20}$/.test(value)) n = BigInt(value);
    else throw invalid(name, type, value);
    if (n < min || n > max) throw badParameter(`query parameter ${name} is out of range for ${type}: ${n}`);
    return n.toString();
  };
}

function stringLiteral(s: string): string {
  let out = "'";
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x5c) rep = '\\\\';
    else if (c === 0x27) rep = "\\'";
    else if (c < 0x20 || c === 0x7f) rep = `\\x${c.toString(16).padStart(2, '0')}`;
    if (rep !== undefined) {
      out += s.slice(last, i) + rep;
      last = i + 1;
    }
  }
  return `${out}${s.slice(last)}'`;
}

const stringWriter: LiteralWriter = (name, value) => {
  if (typeof value !== 'string') throw invalid(name, 'String', value);
  return stringLiteral(value);
};

function scalarWriter(type: string): LiteralWriter | undefined {
  if (type === 'String') return stringWriter;
  const range = INTEGER_RANGES[type];
  return range === undefined ? undefined : integerWriter(type, range);
}

function writerFor(type: string): LiteralWriter | undefined {
  const array = /^Array\((.+)\)$/.exec(type);
  if (array === null) return scalarWriter(type);
  const element = scalarWriter(array[1]!);
  if (element === undefined) return undefined;
  return (name, value) => {
    if (!Array.isArray(value)) throw invalid(name, type, value);
    return `[${value.map((v, i) => element(`${name}[${i}]`, v)).join(', ')}]`;
  };
}

// The engine's errors for the same mistakes: BAD_QUERY_PARAMETER (457), UNKNOWN_QUERY_PARAMETER (456).
function badParameter(message: string): StorageError {
  return new StorageError('CLICKHOUSE_QUERY_FAILED', message, { clickhouseCode: 457, retryable: false });
}

function invalid(name: string, type: string, value: unknown): StorageError {
  const shown = typeof value === 'string' ? 'a string' : Array.isArray(value) ? 'an array' : typeof value;
  return badParameter(`query parameter ${name} must be a ${type} value, got ${shown}`);
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}/y;
const HEREDOC = /\$[A-Za-z0-9_]*\$/y;

/**
 * The statement with every `{name:Type}` placeholder replaced by a typed constant, or `undefined`
 * when a placeholder has a type this module does not write (let the engine bind that statement).
 * Throws `CLICKHOUSE_QUERY_FAILED` with the engine's code for a missing parameter (456) or a value
 * that does not fit its type (457), as the engine's own binding does.
 */
export function bindParameters(sql: string, params: QueryParams): string | undefined {
  let out = '';
  let last = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      // Quoted string or identifier: a backslash escapes the next character, a doubled quote is one quote.
      i += 1;
      while (i < n) {
        const d = sql[i]!;
        if (d === '\\') i += 2;
        else if (d === c) {
          if (sql[i + 1] === c) i += 2;
          else break;
        } else i += 1;
      }
      i += 1;
    } else if (c === '$') {
      // Heredoc string ($$...$$ or $tag$...$tag$): nothing inside is a placeholder.
      HEREDOC.lastIndex = i;
      const m = HEREDOC.exec(sql);
      if (m === null) {
        i += 1;
        continue;
      }
      const end = sql.indexOf(m[0], i + m[0].length);
      i = end === -1 ? n : end + m[0].length;
    } else if ((c === '-' && sql[i + 1] === '-') || (c === '#' && (sql[i + 1] === ' ' || sql[i + 1] === '!'))) {
      // Line comment (`--`, `# `, `#!`).
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      // Comments nest in ClickHouse.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
    } else if (c === '{') {
      PLACEHOLDER.lastIndex = i;
      const m = PLACEHOLDER.exec(sql);
      if (m === null) {
        i += 1;
        continue;
      }
      const [whole, name, rawType] = m as unknown as [string, string, string];
      const type = rawType.trim();
      const write = writerFor(type);
      if (write === undefined) return undefined;
      if (!Object.hasOwn(params, name)) {
        throw new StorageError('CLICKHOUSE_QUERY_FAILED', `query parameter ${name} (${type}) is not set`, { clickhouseCode: 456, retryable: false });
      }
      out += `${sql.slice(last, i)}CAST(${write(name, params[name])} AS ${type})`;
      i += whole.length;
      last = i;
    } else i += 1;
  }
  return last === 0 ? sql : out + sql.slice(last);
}
