import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type avsc from 'avsc';
import { CodecError } from './errors.ts';
import { schemaVersion, type SchemaVersion } from './schemas.ts';
import type { SchemaLookup } from './codec.ts';

export interface SchemaRegistryOptions {
  /** Base URL, e.g. http://schema-registry:8081 (SCHEMA_REGISTRY_URL). */
  url: string;
  username?: string;
  password?: string;
}

/**
 * Confluent Schema Registry over @kafkajs/confluent-schema-registry. Registers Mamori's schemas
 * under `<topic>-value` subjects and finds writer schemas by id for decoding. Schemas fetched from
 * the registry are rebuilt with our own (hardened) avsc types before use.
 */
export class ConfluentSchemaRegistry implements SchemaLookup {
  private readonly client: SchemaRegistry;

  constructor(private readonly options: SchemaRegistryOptions) {
    this.client = new SchemaRegistry({
      host: options.url,
      clientId: 'mamori',
      retry: { retries: 2, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
      ...(options.username ? { auth: { username: options.username, password: options.password ?? '' } } : {}),
    });
  }

  /**
   * Registers `schema` under `<topic>-value` with FULL compatibility (the same rule as the repository's
   * gate; idempotent in the registry) and returns its id.
   */
  async register(topic: string, schema: SchemaVersion): Promise<number> {
    try {
      const { id } = await this.client.register({ type: SchemaType.AVRO, schema: schema.canonical }, { subject: `${topic}-value`, compatibility: COMPATIBILITY.FULL });
      return id;
    } catch (cause) {
      throw new CodecError('SCHEMA_REGISTRY_FAILED', `registering ${schema.fullName} for ${topic} at ${redact(this.options.url)} failed: ${(cause as Error).message}`, { cause, retryable: true });
    }
  }

  async byId(id: number): Promise<avsc.Type | undefined> {
    let found: { schema(): unknown } | undefined;
    try {
      found = (await this.client.getSchema(id)) as unknown as { schema(): unknown };
    } catch (cause) {
      if (/not found|40403/i.test((cause as Error).message)) return undefined;
      throw cause;
    }
    return schemaVersion(found.schema() as object, 0, `schema id ${id}`).type;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.origin;
  } catch {
    return '<invalid url>';
  }
}
