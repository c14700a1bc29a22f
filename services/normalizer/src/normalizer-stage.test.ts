import { MamoriError } from '@mamori/core';
import { EventCodec } from '@mamori/events';
import type { Inventory } from '@mamori/inventory';
import { Registry } from '@mamori/metrics';
import { partitionForKey, type ConsumedMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { loadNormalizerConfig } from './config.ts';
import { zeekConnFormat } from './formats/zeek-conn/index.ts';
import type { SensorFormat } from './formats/types.ts';
import { NormalizerStage, type NormalizerDeps } from './normalizer-stage.ts';

/*
 * The stage's per-record safety net: whatever one record throws while it is normalized, enriched or
 * encoded, that record is dead-lettered and the rest of the batch goes on. The formats below are
 * Zeek conn with a defect planted (an event the schema cannot hold, a throwing decoder), so the
 * net is tested apart from the formats' own checks.
 */

const TOPIC = 'test.raw.planted';
const line = (i: number) => `{"ts":1664462456.${100000 + i},"uid":"C${i}","id.orig_h":"172.16.1.11","id.orig_p":${40000 + i},"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","duration":0.5,"orig_bytes":10}`;

/**
 * Zeek conn with defects planted by a `"PLANT":n` key: 1 puts a number in the event's attributes (a
 * decoder bug the codec refuses), 2 gives it a byte count no Avro long holds (hostile input the
 * format let through, which the normalizer's backstop reports).
 */
const planting: SensorFormat = {
  id: 'test.planting',
  topics: [TOPIC],
  decode(bytes, ctx) {
    const text = bytes.toString('utf8');
    const result = zeekConnFormat.decode(Buffer.from(text.replace(/,"PLANT":\d/g, '')), ctx);
    const planted = text.split('\n').map((l) => /"PLANT":(\d)/.exec(l)?.[1]);
    result.events.forEach((event, i) => {
      if (planted[i] === '1') (event.attributes as Record<string, unknown>)['planted'] = 7;
      if (planted[i] === '2') event.bytes_out = 1e300;
    });
    return result;
  },
};

function message(value: string | null, offset: number, topic = TOPIC): ConsumedMessage {
  return { topic, partition: 3, offset: String(offset), key: Buffer.from('s1'), value: value === null ? null : Buffer.from(value), headers: {}, timestamp: 1_700_000_000_000 };
}

function stageWith(format: SensorFormat, deps: Partial<NormalizerDeps> = {}): NormalizerStage {
  return new NormalizerStage(loadNormalizerConfig({ MAMORI_ALLOW_UNREGISTERED_SENSORS: 'true' }), {
    eventCodec: new EventCodec(),
    defaultOrg: 'default',
    formatForTopic: (topic) => (topic === TOPIC ? format : undefined),
    ...deps,
  });
}

describe('NormalizerStage per-record safety net', () => {
  it('dead-letters a record whose event the codec refuses (AVRO_ENCODE_FAILED) and keeps the batch going', async () => {
    const registry = new Registry();
    const stage = stageWith(planting, { registry });
    const hostile = line(2).replace('}', ',"PLANT":1}');
    const result = await stage.process({ messages: [message(line(1), 10), message(hostile, 11), message(line(3), 12)] });
    expect(result.outputs[0]!.messages).toHaveLength(2);
    expect(result.deadLetters).toHaveLength(1);
    const letter = result.deadLetters[0]!;
    expect(letter.code).toBe('AVRO_ENCODE_FAILED');
    expect(letter.reason).toContain('test.planting event 0');
    expect(letter.reason).toContain('attributes');
    expect(letter.message.offset).toBe('11');
    expect(letter.message.partition).toBe(3);
    expect(letter.message.value?.toString()).toBe(hostile);
    const counts = (await registry.getSingleMetric('mamori_normalizer_records_total')!.get()).values;
    expect(counts.find((v) => v.labels['outcome'] === 'normalized')?.value).toBe(2);
    expect(counts.find((v) => v.labels['outcome'] === 'dead_lettered')?.value).toBe(1);
  });

  it('keeps the other events of a multi-line record when one of its events cannot be encoded', async () => {
    const stage = stageWith(planting);
    const record = [line(1), line(2).replace('}', ',"PLANT":1}'), line(3)].join('\n');
    const result = await stage.process({ messages: [message(record, 5)] });
    expect(result.outputs[0]!.messages).toHaveLength(2);
    expect(result.deadLetters.map((d) => d.code)).toEqual(['AVRO_ENCODE_FAILED']);
    expect(result.deadLetters[0]!.reason).toContain('event 1');
  });

  it('reports an event number the schema cannot hold as FIELD_INVALID naming the event field, before the encode', async () => {
    const stage = stageWith(planting);
    const record = [line(1), line(2).replace('}', ',"PLANT":2}')].join('\n');
    const result = await stage.process({ messages: [message(record, 5), message(line(3), 6)] });
    expect(result.outputs[0]!.messages).toHaveLength(2);
    expect(result.deadLetters).toHaveLength(1);
    expect(result.deadLetters[0]!.code).toBe('FIELD_INVALID');
    expect(result.deadLetters[0]!.reason).toContain('bytes_out is out of range');
  });

  it('dead-letters a record whose work throws a bare error as RECORD_FAILED', async () => {
    let calls = 0;
    const inventory = {
      get current(): Inventory {
        if (++calls === 2) throw new Error('planted inventory defect');
        return undefined as unknown as Inventory;
      },
    };
    const stage = stageWith(zeekConnFormat, { inventory, formatForTopic: () => zeekConnFormat });
    const result = await stage.process({ messages: [message(line(1), 1), message(line(2), 2), message(line(3), 3)] });
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(result.deadLetters).toHaveLength(1);
    expect(result.deadLetters[0]!.code).toBe('RECORD_FAILED');
    expect(result.deadLetters[0]!.reason).toContain('planted inventory defect');
    // The thrown error rides along (the runner logs it with its stack; it is not written to the topic).
    expect((result.deadLetters[0]!.error as Error).message).toBe('planted inventory defect');
    expect(result.outputs[0]!.messages.length + result.deadLetters.length).toBe(3);
  });

  it('keeps the code of a non-retryable MamoriError, and rethrows a retryable one (the runner retries the batch)', async () => {
    let failure: Error = new MamoriError('SOME_CODE', 'planted');
    const inventory = {
      get current(): Inventory {
        throw failure;
      },
    };
    const stage = stageWith(zeekConnFormat, { inventory, formatForTopic: () => zeekConnFormat });
    const result = await stage.process({ messages: [message(line(1), 1)] });
    expect(result.deadLetters.map((d) => d.code)).toEqual(['SOME_CODE']);
    failure = new MamoriError('SOME_TRANSIENT', 'try again', { retryable: true });
    await expect(stage.process({ messages: [message(line(1), 1)] })).rejects.toThrow('try again');
  });

  it('still reports a decoder that throws as FORMAT_FAILED, and empty or unknown records with their codes', async () => {
    const throwing: SensorFormat = {
      id: 'test.throwing',
      topics: [TOPIC],
      decode: () => {
        throw new RangeError('planted decoder defect');
      },
    };
    const stage = stageWith(throwing);
    const result = await stage.process({ messages: [message(line(1), 1), message(null, 2), message(line(1), 3, 'test.raw.other')] });
    expect(result.deadLetters.map((d) => d.code)).toEqual(['FORMAT_FAILED', 'RECORD_EMPTY', 'FORMAT_UNKNOWN']);
    expect(result.outputs[0]!.messages).toHaveLength(0);
  });
});

describe('NormalizerStage event keys', () => {
  const windowsLine = (host: string, pid: number) =>
    JSON.stringify({
      '@timestamp': '2020-10-29T08:23:20.533Z',
      EventID: 4688,
      Channel: 'security',
      SourceName: 'Microsoft-Windows-Security-Auditing',
      Hostname: host,
      NewProcessName: 'C:\\Windows\\System32\\whoami.exe',
      CommandLine: 'whoami /all',
      NewProcessId: `0x${pid.toString(16)}`,
      SubjectUserName: 'pgustavo',
    });

  it('keys network events by source address and host events by host, so the hosts of one organization spread over partitions', async () => {
    const stage = new NormalizerStage(loadNormalizerConfig({ MAMORI_ALLOW_UNREGISTERED_SENSORS: 'true' }), { eventCodec: new EventCodec(), defaultOrg: 'org-a' });
    const hosts = Array.from({ length: 200 }, (_, i) => `ws-${i}.corp.example`);
    const messages = [
      message(line(1), 0, 'telemetry.raw.zeek.conn'),
      ...hosts.map((h, i) => message(windowsLine(h, 1000 + i), i + 1, 'telemetry.raw.windows.event')),
    ];
    const result = await stage.process({ messages });
    expect(result.deadLetters).toEqual([]);
    const keys = result.outputs[0]!.messages.map((m) => String(m.key));
    expect(keys[0]).toBe('org-a|172.16.1.11');
    expect(keys.slice(1)).toEqual(hosts.map((h) => `org-a|host:${h}`));
    // All of them shared one key (`org-a|`), so one partition, before host keys.
    const partitions = new Set(keys.slice(1).map((k) => partitionForKey(Buffer.from(k), 12)));
    expect(partitions.size).toBe(12);
  });
});
