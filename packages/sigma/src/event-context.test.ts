import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventContext, pathGetter } from './event-context.ts';
import { testEvent } from './test-events.ts';

/** What a field without spaces reads: its own key, else the last key (for-in order) that is it with spaces. */
function expected(attributes: Record<string, string>, key: string): string | undefined {
  if (attributes[key] !== undefined) return attributes[key];
  let found: string | undefined;
  for (const k in attributes) if (k.includes(' ') && k.replaceAll(' ', '') === key) found = attributes[k];
  return found;
}

describe('spaced attribute keys read by fields without the spaces', () => {
  const KEYS = ['SourceName', 'Source Name', 'So urce Name', 'Target', 'Tar get', 'Other', 'A B'];
  const FIELDS = ['SourceName', 'Target', 'AB', 'Other', 'Missing'];
  const slots = FIELDS.map((name, id) => ({ id, name, paths: [`attributes.${name}`], get: pathGetter(`attributes.${name}`) }));

  it('read the same whether or not the context enumerated the keys first, own or inherited, across events', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.string({ maxLength: 3 })), { maxLength: 6 }), fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.string({ maxLength: 3 })), { maxLength: 2 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
        (events) => {
          const ctx = new EventContext(slots);
          for (const [own, inherited, enumerateFirst] of events) {
            const proto = inherited.length > 0 ? (Object.fromEntries(inherited) as Record<string, string>) : Object.prototype;
            const attributes = Object.assign(Object.create(proto) as Record<string, string>, Object.fromEntries(own));
            ctx.reset(testEvent({ attributes }));
            if (enumerateFirst) ctx.attributeKeys();
            for (const s of slots) expect(ctx.value(s.id), `${s.name} of ${JSON.stringify(own)} over ${JSON.stringify(inherited)}`).toBe(expected(attributes, s.name));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
