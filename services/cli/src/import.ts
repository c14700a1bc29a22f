import type { Writable } from 'node:stream';
import type { Env } from '@mamori/core';
import { FORMATS, SENSOR_ID_HEADER, loadNormalizerConfig, type SensorFormat } from '@mamori/normalizer';
import type { OutgoingMessage } from '@mamori/transport';
import { createTransport } from './adapters.ts';
import type { RuntimeConfig } from './config.ts';
import { expandPaths, formatById, openFile } from './files.ts';
import type { NormalizeSummary } from './normalize.ts';

export interface ImportOptions {
  readonly paths: readonly string[];
  readonly format?: string | undefined;
  /** Sensor id stamped on the records (`mamori.sensor_id` header and key). @default 'mamori-import' */
  readonly sensor?: string | undefined;
  readonly stderr: Writable;
  /** Records per produce request. @default 1000 */
  readonly batchRecords?: number;
  readonly formats?: readonly SensorFormat[];
}

/** What was produced, per raw topic, on top of the usual counts. */
export interface ImportSummary extends NormalizeSummary {
  produced: Record<string, number>;
}

const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * `mamori import`: files to the raw topics, as a sensor would have sent them, so the running
 * pipeline (normalizer, detector, writer) processes them exactly as live data. One line per record,
 * keyed and headed with the sensor id; produced in batches with acks=all. Old data keeps its event
 * times (detection runs on event time); the Kafka timestamp is the import time, so topic retention
 * counts from the import and does not expire the records unread.
 */
export async function runImport(runtime: RuntimeConfig, env: Env, options: ImportOptions): Promise<ImportSummary> {
  const formats = options.formats ?? FORMATS;
  const forced = options.format === undefined ? undefined : formatById(options.format, formats);
  const paths = expandPaths(options.paths);
  const sensorId = options.sensor ?? 'mamori-import';
  const say = (line: string) => options.stderr.write(`${line}\n`);
  const normalizerConfig = loadNormalizerConfig(env);
  if (normalizerConfig.inventoryFile !== undefined && !normalizerConfig.allowUnregisteredSensors && options.sensor === undefined) {
    say(`mamori import: warning: no --sensor given; records go out as sensor ${sensorId}, which the normalizer dead-letters (SENSOR_UNREGISTERED) unless the inventory lists it`);
  }
  // Open every file first: an unreadable one is a usage error before anything is sent.
  const files = [];
  for (const path of paths) files.push(await openFile(path, formats, forced));

  const transport = await createTransport(runtime);
  const admin = transport.admin();
  await admin.connect();
  try {
    const topics = new Set(files.flatMap((f) => (f.ok ? [f.format.topics[0]!] : [])));
    await admin.ensureTopics([...topics].map((topic) => ({ topic, partitions: runtime.topicPartitions, ...(runtime.replicationFactor ? { replicationFactor: runtime.replicationFactor } : {}) })));
  } finally {
    await admin.close();
  }
  const producer = transport.producer({ clientId: 'mamori-import' });
  await producer.connect();
  const summary: ImportSummary = { files: 0, filesSkipped: 0, records: 0, events: 0, deadLettered: 0, notEvents: 0, byCode: {}, byFormat: {}, produced: {} };
  const batchRecords = options.batchRecords ?? 1000;
  let lastProgress = Date.now();
  let produced = 0;
  try {
    for (const file of files) {
      if (!file.ok) {
        summary.filesSkipped++;
        say(`${file.path}: ${file.code} ${file.message}`);
        continue;
      }
      const topic = file.format.topics[0]!;
      summary.files++;
      if (file.warning) say(`${file.path}: ${file.warning.code} ${file.warning.message}`);
      const perFormat = (summary.byFormat[file.format.id] ??= { files: 0, records: 0, events: 0, deadLettered: 0, notEvents: 0 });
      perFormat.files++;
      let batch: OutgoingMessage[] = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await producer.send(topic, batch);
        produced += batch.length;
        summary.produced[topic] = (summary.produced[topic] ?? 0) + batch.length;
        batch = [];
        bytes = 0;
        if (Date.now() - lastProgress >= 2000) {
          lastProgress = Date.now();
          say(`mamori import: produced ${produced} records`);
        }
      };
      for (const record of file.records) {
        summary.records++;
        perFormat.records++;
        if (record.error !== undefined) {
          // Sent as it is: the normalizer dead-letters it with the original bytes, like live data.
          say(`${file.path}:${record.line}: PARSE_FAILED ${record.error} (sent as is; the normalizer will dead-letter it)`);
        }
        batch.push({ key: sensorId, value: record.text, headers: { [SENSOR_ID_HEADER]: sensorId } });
        bytes += record.text.length;
        if (batch.length >= batchRecords || bytes >= MAX_BATCH_BYTES) await flush();
      }
      await flush();
    }
  } finally {
    await producer.close();
  }
  for (const [id, f] of Object.entries(summary.byFormat).sort(([a], [b]) => a.localeCompare(b))) say(`  ${id}: ${f.files} file(s), ${f.records} records`);
  const topics = Object.entries(summary.produced).map(([t, n]) => `${n} to ${t}`).join(', ');
  say(`mamori import: ${summary.files} file(s)${summary.filesSkipped ? `, ${summary.filesSkipped} skipped` : ''}, produced ${produced} records${topics ? ` (${topics})` : ''} as sensor ${sensorId}`);
  return summary;
}
