/**
 * Windows events as evtx dumpers write them (`{"Event": {"System": {...}, "EventData": {...}}}`,
 * SigmaHQ regression data) to the flat shape the windows.event normalizer reads (OTRF/NXLog:
 * `EventID`, `Channel`, `Computer`, `ProviderName`, `TimeCreated`, event data as top-level keys).
 */
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function attr(o: unknown, name: string): unknown {
  if (!isObject(o)) return undefined;
  const a = o['#attributes'];
  return isObject(a) ? a[name] : undefined;
}

export function evtxToFlat(doc: Json): Json {
  const event = isObject(doc['Event']) ? doc['Event'] : doc;
  const system = isObject(event['System']) ? event['System'] : {};
  const eventId = isObject(system['EventID']) ? (system['EventID'] as Json)['#text'] : system['EventID'];
  const flat: Json = {
    EventID: eventId,
    Channel: system['Channel'],
    Computer: system['Computer'],
    ProviderName: attr(system['Provider'], 'Name'),
    TimeCreated: attr(system['TimeCreated'], 'SystemTime'),
    EventRecordID: system['EventRecordID'],
    ExecutionProcessID: attr(system['Execution'], 'ProcessID'),
  };
  const userId = attr(system['Security'], 'UserID');
  if (userId !== undefined) flat['Security_UserID'] = userId;
  const data = event['EventData'];
  if (isObject(data)) {
    for (const [k, v] of Object.entries(data)) if (k !== '#attributes' && flat[k] === undefined) flat[k] = v;
  }
  const user = event['UserData'];
  if (isObject(user)) {
    for (const inner of Object.values(user)) if (isObject(inner)) for (const [k, v] of Object.entries(inner)) if (k !== '#attributes' && flat[k] === undefined) flat[k] = v;
  }
  return flat;
}

/**
 * Parses a file of JSON objects that may be pretty-printed, newline-separated or concatenated with
 * no separator at all (`}{`): splits at depth-0 object ends, aware of strings and escapes.
 */
export function parseConcatenatedJson(text: string): Json[] {
  const out: Json[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)) as Json);
        start = -1;
      }
    }
  }
  return out;
}
