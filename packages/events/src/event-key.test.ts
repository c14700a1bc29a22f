import { describe, expect, it } from 'vitest';
import { eventKey } from './event-key.ts';

const base = { org_id: 'org-a', sensor_id: 'sensor-1' };

describe('eventKey', () => {
  it('keys an event with a source address by organization and address, as before host keys existed', () => {
    expect(eventKey({ ...base, src_ip: '10.0.0.5', host: 'ws-1' })).toBe('org-a|10.0.0.5');
    expect(eventKey({ ...base, src_ip: '2001:db8::1' })).toBe('org-a|2001:db8::1');
  });

  it('keys an event without an address by its host, then by its sensor', () => {
    expect(eventKey({ ...base, src_ip: '', host: 'WORKSTATION5.theshire.local' })).toBe('org-a|host:WORKSTATION5.theshire.local');
    expect(eventKey({ ...base, src_ip: '', host: null })).toBe('org-a|sensor:sensor-1');
    expect(eventKey({ ...base, src_ip: '' })).toBe('org-a|sensor:sensor-1');
  });

  it('never gives a host the key of an address of the same text', () => {
    expect(eventKey({ ...base, src_ip: '', host: '10.0.0.5' })).not.toBe(eventKey({ ...base, src_ip: '10.0.0.5' }));
  });
});
