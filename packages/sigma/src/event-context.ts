import type { MamoriEvent } from '@mamori/events';

/** A field's value as rules see it: text, several texts (arrays), or absent. */
export type FieldValue = string | readonly string[] | undefined;

/** Reads one value out of a normalized event. */
export type FieldGetter = (event: MamoriEvent) => FieldValue;

/** A field as a compiled rule addresses it: a slot in the rule set's accessor table. */
export interface FieldSlot {
  readonly id: number;
  /** The Sigma field name, e.g. `CommandLine`. */
  readonly name: string;
  /** The event paths tried in order, e.g. `process.command_line`, `attributes.CommandLine`. */
  readonly paths: readonly string[];
  readonly get: FieldGetter;
}

/**
 * Per-event memo: each field is read and lowercased at most once per event, however many rules
 * look at it. Reused across events: generation stamps mark which slots hold this event's values,
 * so a new event costs no clearing of the tables.
 */
export class EventContext {
  event!: MamoriEvent;
  private readonly raw: FieldValue[];
  private readonly low: FieldValue[];
  private readonly rawStamp: Uint32Array;
  private readonly lowStamp: Uint32Array;
  private stamp = 0;
  private keywordsRaw: readonly string[] | undefined;
  /** The keyword texts of the current event (one array reused across events). */
  private readonly texts: string[] = [];
  private keywordsLow: readonly string[] | undefined;
  /** The own keys of the event's attributes, enumerated once per event (`attributeKeys`). */
  private attrKeys: readonly string[] = [];
  private attrKeysStamp = 0;
  /** Whether for-in over the event's attributes can list inherited keys (with `attrKeys`). */
  private attrInherits = false;

  constructor(private readonly slots: readonly FieldSlot[]) {
    this.raw = new Array<FieldValue>(slots.length).fill(undefined);
    this.low = new Array<FieldValue>(slots.length).fill(undefined);
    this.rawStamp = new Uint32Array(slots.length);
    this.lowStamp = new Uint32Array(slots.length);
  }

  reset(event: MamoriEvent): void {
    this.event = event;
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      // Wrapped after 2^32 events: stale stamps could collide, so clear them once.
      this.rawStamp.fill(0);
      this.lowStamp.fill(0);
      this.attrKeysStamp = 0;
      this.stamp = 1;
    }
    this.keywordsRaw = undefined;
    this.keywordsLow = undefined;
  }

  value(slot: number): FieldValue {
    if (this.rawStamp[slot] === this.stamp) return this.raw[slot];
    const got = this.slots[slot]!.get(this.event);
    this.raw[slot] = got;
    this.rawStamp[slot] = this.stamp;
    return got;
  }

  lower(slot: number): FieldValue {
    if (this.lowStamp[slot] === this.stamp) return this.low[slot];
    const r = this.value(slot);
    const l = r === undefined ? undefined : typeof r === 'string' ? r.toLowerCase() : r.map((x) => x.toLowerCase());
    this.low[slot] = l;
    this.lowStamp[slot] = this.stamp;
    return l;
  }

  /**
   * The own enumerable keys of the event's attributes in for-in order, enumerated once per event
   * and shared by the keyword texts and the attribute walk (attributes are dictionary-mode objects:
   * each enumeration sorts their keys, 0.6–1 µs per Windows event).
   */
  attributeKeys(): readonly string[] {
    if (this.attrKeysStamp !== this.stamp) {
      const attributes = this.event.attributes as Record<string, string>;
      const keys = Object.keys(attributes);
      this.attrKeys = keys;
      this.attrKeysStamp = this.stamp;
      this.attrInherits = inheritsEnumerable(attributes);
      // The same keys serve the spaced-key lookups of the field getters (`spacedAttribute`), which
      // would otherwise enumerate them again with for-in on the event's first missing attribute.
      if (!this.attrInherits) shareAttributeKeys(attributes, keys);
    }
    return this.attrKeys;
  }

  /** Whether for-in over the event's attributes can list inherited keys (`inheritsEnumerable`, once per event). */
  attributesInherit(): boolean {
    this.attributeKeys();
    return this.attrInherits;
  }

  /** Every text value of the event, for keyword searches. */
  keywords(lower: boolean): readonly string[] {
    if (!this.keywordsRaw) this.keywordsRaw = collectText(this.event, this.texts, this);
    if (!lower) return this.keywordsRaw;
    if (!this.keywordsLow) this.keywordsLow = this.keywordsRaw.map((s) => s.toLowerCase());
    return this.keywordsLow;
  }
}

/**
 * The texts keyword searches look at: every non-empty string of the event, in arrays at any depth
 * and in objects down to three levels below the top (attributes, process, hashes), in key order.
 * The top-level keys `raw`, `event_id`, `org_id` and `sensor_id` are bookkeeping, not content:
 * skipped (compared inline: the keys are internalized strings, a `Set` lookup costs more).
 */
function collectText(event: MamoriEvent, out: string[], ctx: EventContext): string[] {
  out.length = 0;
  const e = event as unknown as Record<string, unknown>;
  // Object.keys/Object.values: own enumerable keys in for-in order, without a hasOwn check per key
  // (and much cheaper than for-in on the dictionary-mode objects events' attributes are).
  const keys = Object.keys(e);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === 'raw' || k === 'event_id' || k === 'org_id' || k === 'sensor_id') continue;
    const v = e[k];
    // Top-level strings and numbers (most keys) without a call.
    if (typeof v === 'string') {
      if (v !== '') out.push(v);
    } else if (v === event.attributes && !Array.isArray(v)) {
      // What walkText does for an object, over the keys the context enumerated (Object.values order).
      const attributes = v as Record<string, unknown>;
      const attributeKeys = ctx.attributeKeys();
      for (let j = 0; j < attributeKeys.length; j++) {
        const x = attributes[attributeKeys[j]!];
        if (typeof x === 'string') {
          if (x !== '') out.push(x);
        } else walkText(x, 1, out);
      }
    } else if (typeof v === 'object' && v !== null) walkText(v, 0, out);
  }
  return out;
}

/** Whether for-in over an object can list inherited keys (some enumerable property on its prototype chain). */
export function inheritsEnumerable(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as object | null;
  if (proto === null) return false;
  for (const key in proto) {
    void key;
    return true;
  }
  return false;
}

function walkText(v: unknown, depth: number, out: string[]): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'string') {
    if (v !== '') out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) walkText(x, depth + 1, out);
  } else if (typeof v === 'object' && depth < 3) {
    const values = Object.values(v as Record<string, unknown>);
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      // Strings (most values, e.g. every attribute) without a call.
      if (typeof x === 'string') {
        if (x !== '') out.push(x);
      } else walkText(x, depth + 1, out);
    }
  }
}

function toFieldValue(v: unknown): FieldValue {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(String);
  if (typeof v === 'object') {
    // Hash maps (process.hashes, file.hashes) read as Sysmon writes them: `SHA1=..,MD5=..`.
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return undefined;
    return entries.map(([k, x]) => `${k.toUpperCase()}=${String(x)}`).join(',');
  }
  return undefined;
}

/**
 * The attributes of the last lookup that missed (or whose keys a context shared), their keys, and
 * those keys with spaces stripped (null: none has a space; undefined: not indexed yet).
 */
let lastAttributes: Record<string, string> | undefined;
let lastKeys: readonly string[] = [];
let lastIndex: Map<string, string> | null | undefined = null;

/**
 * Sigma names fields without their spaces (`Source Name` → `SourceName`, rules specification,
 * "Field Usage"); sources that keep the spaces are found through an index of stripped keys, built
 * on the first miss of an event and only when some key has a space. One event is cached (a rule set
 * reads the fields of one event in a row), so a new event costs one walk of its keys, no table entry.
 */
function spacedAttribute(attributes: Record<string, string>, key: string): string | undefined {
  if (attributes !== lastAttributes) {
    const keys: string[] = [];
    for (const k in attributes) keys.push(k);
    shareAttributeKeys(attributes, keys);
  }
  if (lastIndex === undefined) {
    let index: Map<string, string> | null = null;
    for (let i = 0; i < lastKeys.length; i++) {
      const k = lastKeys[i]!;
      if (!k.includes(' ')) continue;
      index ??= new Map();
      index.set(k.replaceAll(' ', ''), attributes[k]!);
    }
    lastIndex = index;
  }
  return lastIndex === null ? undefined : lastIndex.get(key);
}

/**
 * Makes `keys` (every key for-in lists on `attributes`) those `spacedAttribute` indexes on the first
 * miss: the context shares the keys it enumerated anyway (`EventContext.attributeKeys`, when none is
 * inherited), so an event without a miss costs no index.
 */
function shareAttributeKeys(attributes: Record<string, string>, keys: readonly string[]): void {
  lastAttributes = attributes;
  lastKeys = keys;
  lastIndex = undefined;
}

/** Compiles an event path (`process.path`, `attributes.EventID`, `dst_port`) to a getter. */
export function pathGetter(path: string): FieldGetter {
  if (path.startsWith('attributes.')) {
    const key = path.slice('attributes.'.length);
    return (e) => {
      const v = e.attributes[key];
      return v === undefined ? spacedAttribute(e.attributes, key) : v;
    };
  }
  const parts = path.split('.');
  if (parts.length === 1) {
    const k = parts[0]!;
    return (e) => toFieldValue((e as unknown as Record<string, unknown>)[k]);
  }
  if (parts.length === 2) {
    const [a, b] = parts as [string, string];
    return (e) => {
      const o = (e as unknown as Record<string, unknown>)[a];
      return o === null || o === undefined ? undefined : toFieldValue((o as Record<string, unknown>)[b]);
    };
  }
  return (e) => {
    let o: unknown = e;
    for (const p of parts) {
      if (o === null || o === undefined || typeof o !== 'object') return undefined;
      o = (o as Record<string, unknown>)[p];
    }
    return toFieldValue(o);
  };
}

/** First path that yields a value (empty strings in class records count as absent; in attributes they are values). */
export function firstOf(paths: readonly string[]): FieldGetter {
  const getters = paths.map((p) => ({ get: pathGetter(p), attr: p.startsWith('attributes.') }));
  if (getters.length === 1) return getters[0]!.get;
  return (e) => {
    for (const g of getters) {
      const v = g.get(e);
      if (v !== undefined && (g.attr || v !== '')) return v;
    }
    return undefined;
  };
}
