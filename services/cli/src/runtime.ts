import { Lifecycle, createLogger, type Env, type Logger } from '@mamori/core';
import { OpsServer, createRegistry, type Registry } from '@mamori/metrics';
import { LagMonitor, StageRunner, TOPICS, deadLetterTopicSpec, type LagSubject, type Stage } from '@mamori/pipeline';
import { migrate, type StorageDriver } from '@mamori/storage';
import type { Producer, Transport } from '@mamori/transport';
import { IntelKnownLog, buildDetector, buildDetectorCorrelation, detectionMessages, loadDetectorConfig, openIntelFeeds, type DetectorCorrelation, type IntelFeeds } from '@mamori/detector';
import { FORMATS, buildNormalizer, loadNormalizerConfig, openNormalizerResources } from '@mamori/normalizer';
import { buildWriter, loadWriterConfig } from '@mamori/writer';
import { buildQueryApi, loadQueryApiConfig } from '@mamori/query-api';
import { buildIngest, loadIngestConfig, type IngestService } from '@mamori/ingest';
import { ConfigError } from '@mamori/core';
import { createStorage, createTransport } from './adapters.ts';
import { createCodecs } from './codecs.ts';
import type { RuntimeConfig } from './config.ts';

export const SERVICE_NAMES = ['ingest', 'normalizer', 'detector', 'writer', 'query-api'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
/** What `mamori run all` starts: the processing pipeline and the API (ingest runs where sensors are). */
export const ALL_SERVICES: readonly ServiceName[] = ['normalizer', 'detector', 'writer', 'query-api'];

export function parseServiceNames(args: readonly string[]): ServiceName[] {
  if (args.length === 0) throw new ConfigError(`name the services to run: ${SERVICE_NAMES.join(', ')}, or all`);
  const names = new Set<ServiceName>();
  for (const arg of args) {
    if (arg === 'all') ALL_SERVICES.forEach((n) => names.add(n));
    else if ((SERVICE_NAMES as readonly string[]).includes(arg)) names.add(arg as ServiceName);
    else throw new ConfigError(`unknown service ${JSON.stringify(arg)}; choose from ${SERVICE_NAMES.join(', ')}, or all`);
  }
  return SERVICE_NAMES.filter((n) => names.has(n));
}

/** A running set of services in this process. */
export interface RunningServices {
  readonly registry: Registry;
  readonly metricsPort: number;
  /** Set when query-api runs. */
  readonly apiUrl: string | undefined;
  readonly transport: Transport;
  readonly storage: StorageDriver | undefined;
  readonly ingest: IngestService | undefined;
  /** Set when the detector runs with threat-intel feeds (`refresh()` reloads them and awaits retro-matching). */
  readonly intel: IntelFeeds | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Called with progress lines while starting (the demo shows them). */
  progress?: (line: string) => void;
}

/**
 * Starts the named services in this process with one shared producer, one metrics registry and one
 * ops server. The same builders run each service alone or all together.
 */
export async function startServices(names: readonly ServiceName[], config: RuntimeConfig, env: Env, options: StartOptions = {}): Promise<RunningServices> {
  const logger = options.logger ?? createLogger({ name: 'mamori' });
  const progress = options.progress ?? (() => undefined);
  const lifecycle = new Lifecycle();
  const has = (n: ServiceName) => names.includes(n);

  // Read every service's config first, so all mistakes are reported before anything starts.
  const detectorConfig = has('detector') ? loadDetectorConfig(env) : undefined;
  const normalizerConfig = has('normalizer') ? loadNormalizerConfig(env) : undefined;
  const writerConfig = has('writer') ? loadWriterConfig(env) : undefined;
  const apiConfig = has('query-api') ? loadQueryApiConfig(env) : undefined;
  const ingestConfig = has('ingest') ? loadIngestConfig(env) : undefined;

  if (config.storage.kind === 'chdb' && has('query-api') !== has('writer')) {
    throw new ConfigError(
      'embedded chDB keeps one data directory per process, so writer and query-api must run in the same process ' +
        '(mamori run writer query-api), or set CLICKHOUSE_URL to use a ClickHouse server',
    );
  }

  const registry = createRegistry();
  // The inventory and GeoIP files are read before anything connects: a bad file stops the start.
  const normalizerResources = normalizerConfig ? openNormalizerResources(normalizerConfig, { logger: logger.child({ service: 'normalizer' }), registry }) : undefined;
  if (normalizerResources) lifecycle.register('inventory watcher', async () => normalizerResources.close());
  const ops = new OpsServer({ registry, port: config.metricsPort, host: config.metricsHost });
  let metricsPort: number;
  try {
    metricsPort = await ops.listen();
  } catch (error) {
    throw new ConfigError(`cannot serve metrics on ${config.metricsHost}:${config.metricsPort} (${(error as Error).message}); set METRICS_PORT to a free port`, { cause: error });
  }
  lifecycle.register('ops server', () => ops.close());
  // Not ready until every requested service has started.
  let started = false;
  ops.addReadinessCheck('startup', () => started);

  try {
    progress(`connecting to Kafka at ${config.kafkaBrokers.join(',')} (${config.transport})`);
    // Kafka clients are chatty at info level (joins, rebalances): warnings and up unless debugging.
    const kafkaLogger = logger.child({ component: 'kafka' }, { level: logger.levelVal <= 20 || logger.levelVal > 40 ? logger.level : 'warn' });
    const transport = await createTransport(config, kafkaLogger);
    const producer: Producer = transport.producer({ clientId: 'mamori' });
    await producer.connect();
    lifecycle.register('producer', () => producer.close());

    let storage: StorageDriver | undefined;
    if (has('writer') || has('query-api')) {
      progress(config.storage.kind === 'chdb' ? `opening embedded ClickHouse (chDB) at ${config.storage.path}` : `connecting to ClickHouse at ${new URL(config.storage.url).origin}`);
      storage = await createStorage(config);
      await storage.connect();
      lifecycle.register('storage', () => storage!.close());
      const applied = await migrate(storage, { database: config.storage.database });
      progress(`database ${config.storage.database} ready (${applied.applied.length} migrations applied)`);
    }

    const { eventCodec, detectionCodec } = await createCodecs(config, {
      events: normalizerConfig?.eventsTopic ?? detectorConfig?.eventsTopic ?? writerConfig?.eventsTopic ?? TOPICS.events,
      detections: detectorConfig?.detectionsTopic ?? writerConfig?.detectionsTopic ?? TOPICS.detections,
    });
    const stages: Stage[] = [];
    let intel: IntelFeeds | undefined;
    let correlation: DetectorCorrelation | undefined;
    if (normalizerConfig) {
      stages.push(buildNormalizer(normalizerConfig, { eventCodec, defaultOrg: config.defaultOrg, inventory: normalizerResources?.inventory, geo: normalizerResources?.geo, registry }));
    }
    if (detectorConfig) {
      const knownLog = new IntelKnownLog({ transport, producer, topic: detectorConfig.intel.knownTopic, groupPrefix: 'mamori-detector', ...(config.replicationFactor ? { replicationFactor: config.replicationFactor } : {}) });
      intel = await openIntelFeeds(detectorConfig.intel, registry, logger.child({ component: 'intel' }), { knownLog });
      if (intel) {
        const feeds = intel;
        lifecycle.register('intel feeds', async () => feeds.close());
        // Retro-matching reads stored events: the storage this process shares (all-in-one), else its own
        // ClickHouse connection (connected per run, so a server that comes up later is used); chDB belongs
        // to the writer's process, so a detector alone with chDB has none (logged once, counted).
        const own = !storage && config.storage.kind === 'clickhouse' && detectorConfig.intel.retroLookbackMs > 0 ? await createStorage(config) : undefined;
        if (own) lifecycle.register('intel retro storage', () => own.close());
        const detectionsTopic = detectorConfig.detectionsTopic;
        feeds.enableRetroMatching({ storage: storage ?? own, connect: own !== undefined, send: (ds) => producer.send(detectionsTopic, detectionMessages(ds, (d) => detectionCodec.encode(d))) });
        progress(`threat intel: ${detectorConfig.intel.feeds.length} feed(s) loaded`);
      }
      const codecs = { prefetch: (values: (Buffer | null)[]) => eventCodec.prefetch(values), decodeEvent: (b: Buffer) => eventCodec.decode(b), encodeDetection: (d: Parameters<typeof detectionCodec.encode>[0]) => detectionCodec.encode(d) };
      stages.push(
        buildDetector(detectorConfig, {
          ...(intel ? { intelIndex: intel.index, intelAnalytic: intel.analytic } : {}),
          registry,
          codecs,
          logger: logger.child({ service: 'detector' }),
          state: { transport, producer, ...(config.replicationFactor ? { replicationFactor: config.replicationFactor } : {}) },
        }),
      );
      // Sigma correlation rules in the packs: two more stages (started once the events topic exists).
      correlation = buildDetectorCorrelation(detectorConfig, { transport, producer, codecs, registry, logger: logger.child({ component: 'correlation' }), defaultPartitions: config.topicPartitions, ...(config.replicationFactor ? { replicationFactor: config.replicationFactor } : {}) });
    }
    if (writerConfig && storage) stages.push(buildWriter(writerConfig, { storage, eventCodec, detectionCodec, registry }));

    // Create every topic these services read or write (configured names included) before consuming.
    const topics = new Set<string>([TOPICS.deadLetter, TOPICS.rawZeekConn]);
    // Ingest entry points produce to every raw topic a format reads, whether or not a normalizer runs here.
    if (ingestConfig) for (const format of FORMATS) for (const topic of format.topics) topics.add(topic);
    for (const stage of stages) for (const topic of [...stage.inputTopics, ...stage.outputTopics]) topics.add(topic);
    const admin = transport.admin();
    await admin.connect();
    try {
      // The dead-letter topic takes bigger records than the others: a dead letter is a record plus headers.
      const spec = (topic: string) => ({
        ...(topic === TOPICS.deadLetter ? deadLetterTopicSpec(config.dlqMaxMessageBytes) : {}),
        topic,
        partitions: config.topicPartitions,
        ...(config.replicationFactor ? { replicationFactor: config.replicationFactor } : {}),
      });
      await admin.ensureTopics([...topics].map(spec));
    } finally {
      await admin.close();
    }
    if (correlation) {
      const c = correlation;
      lifecycle.register('correlation state replica', () => c.close());
      const { source, correlation: stage } = await c.start();
      stages.push(source, stage);
      progress(`correlation: ${c.set.rules.length} rule(s)`);
    }

    const lagSubjects: LagSubject[] = [];
    for (const stage of stages) {
      const runner = new StageRunner({
        stage,
        transport,
        producer,
        registry,
        logger: logger.child({ stage: stage.name }),
        maxBatchSize: stage.name === 'writer' ? writerConfig?.maxBatchRecords : stage.name.startsWith('detector') ? detectorConfig?.maxBatchRecords : normalizerConfig?.maxBatchRecords,
        deadLetterMaxBytes: config.dlqMaxMessageBytes,
      });
      await runner.start();
      lagSubjects.push({ stage: stage.name, groupId: runner.groupId, topics: stage.inputTopics });
      ops.addReadinessCheck(stage.name, () => runner.isReady());
      lifecycle.register(stage.name, () => runner.close(config.shutdownTimeoutMs));
      progress(`${stage.name} consuming ${stage.inputTopics.join(', ')}`);
    }

    if (lagSubjects.length > 0) {
      const lag = new LagMonitor({ admin: transport.admin(), registry, subjects: lagSubjects, logger, intervalMs: config.lagIntervalMs });
      await lag.start();
      lifecycle.register('lag monitor', () => lag.close());
    }

    let apiUrl: string | undefined;
    if (apiConfig && storage) {
      const app = await buildQueryApi(apiConfig, { storage, logger: logger.child({ service: 'query-api' }), registry });
      try {
        apiUrl = await app.listen({ host: apiConfig.host, port: apiConfig.port });
      } catch (error) {
        throw new ConfigError(`cannot serve the API on ${apiConfig.host}:${apiConfig.port} (${(error as Error).message}); set API_PORT to a free port`, { cause: error });
      }
      lifecycle.register('query-api', () => app.close());
      ops.addReadinessCheck('query-api', () => true);
      progress(`query-api listening on ${apiUrl}`);
    }

    let ingest: IngestService | undefined;
    if (ingestConfig) {
      ingest = buildIngest(ingestConfig, { producer, registry, logger: logger.child({ service: 'ingest' }), inventory: normalizerResources?.inventory });
      await ingest.start();
      lifecycle.register('ingest', () => ingest!.close());
      ops.addReadinessCheck('ingest', () => true);
    }

    started = true;
    return {
      registry,
      metricsPort,
      apiUrl,
      transport,
      storage,
      ingest,
      intel,
      close: () => {
        ops.markShuttingDown();
        return lifecycle.close();
      },
    };
  } catch (error) {
    await lifecycle.close().catch(() => undefined);
    throw error;
  }
}
