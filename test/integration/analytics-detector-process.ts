// One detector instance as its own process, for analytics-state-kill.test.ts: the per-source
// analytics with the changelog, run by a StageRunner in a consumer group. The test starts several,
// SIGKILLs one mid-stream and reads what they wrote. Prints `ready` once consuming and a status line
// (held partitions, restores) every 200 ms.
import { silentLogger } from '@mamori/core';
import { DetectionCodec, EventCodec } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { StageRunner } from '@mamori/pipeline';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { BeaconingAnalytic } from '../../services/detector/src/analytics/beaconing.ts';
import { BruteForceAnalytic } from '../../services/detector/src/analytics/brute-force.ts';
import { DnsTunnelingAnalytic } from '../../services/detector/src/analytics/dns-tunneling.ts';
import { FirstSeenAnalytic } from '../../services/detector/src/analytics/first-seen.ts';
import { LongConnectionAnalytic } from '../../services/detector/src/analytics/long-connection.ts';
import { OutboundVolumeAnalytic } from '../../services/detector/src/analytics/outbound-volume.ts';
import { PortScanAnalytic } from '../../services/detector/src/analytics/port-scan.ts';
import { DetectorStage } from '../../services/detector/src/detector-stage.ts';
import { AnalyticsChangelog } from '../../services/detector/src/state/analytics-changelog.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const transport = createKafkajsTransport({ brokers: env('KILL_BROKERS').split(','), clientId: 'kill-detector', logger: silentLogger() });
const producer = transport.producer({ clientId: 'kill-detector' });
await producer.connect();
const registry = createRegistry();
const eventCodec = new EventCodec();
const detectionCodec = new DetectionCodec();
const stage = new DetectorStage({
  eventsTopic: env('KILL_EVENTS'),
  detectionsTopic: env('KILL_DETECTIONS'),
  analytics: [new PortScanAnalytic(), new BruteForceAnalytic(), new BeaconingAnalytic(), new DnsTunnelingAnalytic(), new LongConnectionAnalytic(), new OutboundVolumeAnalytic(), new FirstSeenAnalytic()],
  codecs: { decodeEvent: (b) => eventCodec.decode(b), encodeDetection: (d) => detectionCodec.encode(d) },
  registry,
  allowedLatenessMs: Number(env('KILL_LATENESS_MS')),
  // Wall-clock idle closing is the one non-deterministic close; windows close on event time here.
  idleCloseMs: 600_000,
  changelog: new AnalyticsChangelog({ transport, producer, topic: env('KILL_STATE'), groupPrefix: env('KILL_GROUP') }),
});
const runner = new StageRunner({
  stage,
  transport,
  producer,
  registry,
  logger: silentLogger(),
  groupId: env('KILL_GROUP'),
  deadLetterTopic: env('KILL_DLQ'),
  maxBatchSize: 40,
  maxWaitMs: 50,
  tickIntervalMs: 200,
  sessionTimeoutMs: 6_000,
});
await runner.start();
process.stdout.write('ready\n');
setInterval(() => process.stdout.write(`status ${JSON.stringify({ held: stage.heldPartitions(), restores: stage.restores })}\n`), 200);
process.on('SIGTERM', () => {
  void runner
    .close(5_000)
    .then(() => producer.close())
    .finally(() => process.exit(0));
});
