import { describe, expect, it } from 'vitest';
import { forEachJsonObject, type JsonObject } from './json.ts';

function collect(text: string): { objects: [JsonObject, number][]; errors: string[] } {
  const objects: [JsonObject, number][] = [];
  const errors: string[] = [];
  forEachJsonObject(text, (o, line) => objects.push([o, line]), (e) => errors.push(`${e.code} ${e.message}`));
  return { objects, errors };
}

describe('forEachJsonObject', () => {
  it('reads NDJSON lines with their 0-based index, blank lines keeping theirs, and reports each bad line alone', () => {
    const { objects, errors } = collect('{"a":1}\n\n  {"b":2}  \n[1]\nnot json\n{"c":3}\n');
    expect(objects).toEqual([[{ a: 1 }, 0], [{ b: 2 }, 2], [{ c: 3 }, 5]]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBe('PARSE_FAILED line 3: not a JSON object');
    expect(errors[1]).toMatch(/^PARSE_FAILED line 4: not JSON \(/);
  });

  it('reads a pretty-printed object spanning lines as line 0, and only when the first line does not parse alone', () => {
    expect(collect('{\n  "a": {"b": [1,\n 2]}\n}\n').objects).toEqual([[{ a: { b: [1, 2] } }, 0]]);
    // The first line parses alone: lines, not one object.
    expect(collect('{"a":1}\n{"b":2}').objects.map(([, line]) => line)).toEqual([0, 1]);
    // Neither the first line nor the whole parses: the first line's error, then the rest line by line.
    const { objects, errors } = collect('{\n"a":1}\n{"c":3}');
    expect(objects).toEqual([[{ c: 3 }, 2]]);
    expect(errors.map((e) => e.split(':')[0])).toEqual(['PARSE_FAILED line 0', 'PARSE_FAILED line 1']);
  });

  it('lets what the caller throws pass through', () => {
    const planted = new Error('planted');
    expect(() =>
      forEachJsonObject('{"a":1}', () => {
        throw planted;
      }, () => {}),
    ).toThrow(planted);
  });
});
