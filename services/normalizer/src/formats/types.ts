import type { FieldWriter, MamoriEvent } from '@mamori/events';
import type { EventHead, KnownAddresses } from '../enrich/enricher.ts';
import type { NormalizeError } from './errors.ts';

/** What the runner knows about a raw record besides its bytes. */
export interface DecodeContext {
  /** Raw topic, `telemetry.raw.<source>.<type>`. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly sensorId: string;
  readonly orgId: string;
  /** When the record entered the pipeline (Kafka timestamp), epoch ms. */
  readonly ingestTime: number;
}

/** Everything one raw record turned into: zero or more events and zero or more per-line errors. */
export interface DecodeResult {
  readonly events: MamoriEvent[];
  readonly errors: NormalizeError[];
  /**
   * Well-formed lines that are deliberately not events (e.g. Suricata `stats`: sensor telemetry, not
   * something about the network). Neither errors nor dead letters: the stage counts their record as
   * normalized, and `mamori normalize` reports them in its summary as "not events".
   * @default 0
   */
  readonly skipped?: number;
}

/**
 * A sensor format: how the bytes of one raw topic become events. Adding one is a folder under
 * `formats/` (index.ts, decode.ts, fixtures/, README.md) plus one line in `registry.ts`.
 */
export interface SensorFormat {
  /** Stable id, also written to `MamoriEvent.source_format`, e.g. `zeek.conn`. */
  readonly id: string;
  /** Raw topics carrying this format. */
  readonly topics: readonly string[];
  /** Records larger than this are refused with RECORD_TOO_LARGE before parsing. @default 1048576 */
  readonly maxRecordBytes?: number;
  /** Pure and synchronous; reports bad input in the result instead of throwing. */
  decode(bytes: Buffer, ctx: DecodeContext): DecodeResult;
  /**
   * Content detection for `mamori normalize` / `mamori import`: whether a file whose first bytes
   * (decompressed, up to 64 KiB, as UTF-8) are `head` holds this format. File names never decide.
   * Returns a confidence in 0..1; the highest wins, 0 means "not mine".
   */
  sniff?(head: string): number;
  /**
   * A fused path for the format's common record shape, used when events are encoded (the
   * normalizer stage): the record's event without its attributes, whose Avro encoding
   * `writeAttributes` then writes straight from the record's bytes, or undefined to leave the
   * record to `decode`. Must give byte-identical Avro to `decode` + encode for every record it
   * takes, and take none that `decode` would report an error for. @default none
   */
  readonly fused?: FusedDecoder;
}

/** See {@link SensorFormat.fused}. */
export interface FusedDecoder {
  /** One record's only event, attributes left out; undefined: the general path decodes the record. */
  decode(bytes: Buffer, ctx: DecodeContext): EventHead | undefined;
  /** The `attributes` field of the event the last `decode` returned (valid until the next call). */
  readonly writeAttributes: FieldWriter;
  /**
   * The addresses of the event the last `decode` returned as the decoder read them (valid until the
   * next call), handed to enrichment so that it need not parse them again. @default none
   */
  readonly addresses?: Readonly<KnownAddresses>;
}
