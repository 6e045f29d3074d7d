/**
 * Kafka settings from the outside world, shared by `gateway --ingest kafka`, `publisher --sink
 * kafka` and `odin-ws kafka`: the `kafka:` section of a config file ← environment ← flags,
 * validated once (a bad value names its key).
 */
import { z } from 'zod';
import { ConfigError } from '../core/options.js';
import type { KafkaConnectionOptions } from './client.js';
import { DEFAULT_MAX_RECORD_BYTES } from './mapping.js';

/** Where the plans' Redpanda listens for clients outside compose. */
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:19092';
export const DEFAULT_KAFKA_GROUP = 'odin-ws-gateway';

/** Flags every Kafka-speaking command takes (node:util parseArgs options). */
export const KAFKA_CONNECTION_FLAGS = {
  'kafka-brokers': { type: 'string' },
  'kafka-sasl-mechanism': { type: 'string' },
  'kafka-username': { type: 'string' },
  'kafka-password': { type: 'string' },
  'kafka-tls': { type: 'boolean' },
  'kafka-tls-ca': { type: 'string' },
} as const;

/** The gateway's ingest flags besides the connection. */
export const KAFKA_INGEST_FLAGS = {
  ...KAFKA_CONNECTION_FLAGS,
  'kafka-group': { type: 'string' },
  'kafka-mode': { type: 'string' },
  'kafka-start': { type: 'string' },
} as const;

export const KAFKA_CONNECTION_HELP = `      --kafka-brokers LIST      KAFKA_BROKERS              host:port,... (default ${DEFAULT_KAFKA_BROKERS})
      --kafka-sasl-mechanism M  KAFKA_SASL_MECHANISM       SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN (default: no SASL)
      --kafka-username U        KAFKA_USERNAME
      --kafka-password P        KAFKA_PASSWORD
      --kafka-tls               KAFKA_TLS=true             TLS to the brokers
      --kafka-tls-ca FILE       KAFKA_TLS_CA               CA certificate (PEM) for a private CA
`;

export const KAFKA_INGEST_HELP = `${KAFKA_CONNECTION_HELP}      --kafka-group ID          KAFKA_CONSUMER_GROUP       consumer group (each mode: prefix of this node's own) (${DEFAULT_KAFKA_GROUP})
      --kafka-mode each|shared  KAFKA_MODE                 each: this node reads every partition (default with the memory broker);
                                                           shared: one group for all gateways, each record once into JetStream (default with nats)
      --kafka-start latest|committed KAFKA_START           where a new group starts (each: latest; shared: committed)
`;

const ruleSchema = z
  .object({ topic: z.string().min(1), channel: z.string().min(1), types: z.array(z.string().min(1)).min(1).optional() })
  .strict();

const sectionSchema = z
  .object({
    brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1),
    clientId: z.string().min(1).default('odin-ws'),
    sasl: z
      .object({ mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']), username: z.string().min(1), password: z.string() })
      .strict()
      .optional(),
    tls: z
      .object({ caFile: z.string().min(1).optional(), rejectUnauthorized: z.boolean().optional(), serverName: z.string().optional() })
      .strict()
      .optional(),
    group: z.string().min(1).default(DEFAULT_KAFKA_GROUP),
    mode: z.enum(['each', 'shared']).optional(),
    start: z.enum(['latest', 'committed']).optional(),
    /** Topic → channel rules; default: the Odin topics (docs/kafka.md). */
    rules: z.array(ruleSchema).min(1).optional(),
    /** Largest record value, bytes; larger ones are skipped and counted. */
    maxRecordBytes: z.number().int().min(1).default(DEFAULT_MAX_RECORD_BYTES),
  })
  .strict();

export type KafkaSection = z.output<typeof sectionSchema>;

type FlagValues = Partial<Record<keyof typeof KAFKA_INGEST_FLAGS, string | boolean | undefined>>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** File section ← env ← flags → a validated section. */
export function loadKafkaSection(file: unknown, env: NodeJS.ProcessEnv, flags: FlagValues): KafkaSection {
  if (file !== undefined && file !== null && (typeof file !== 'object' || Array.isArray(file)))
    throw new ConfigError('kafka: must be an object');
  const o: Record<string, unknown> = { ...((file as Record<string, unknown> | null | undefined) ?? {}) };
  const brokers = str(flags['kafka-brokers']) ?? str(env['KAFKA_BROKERS']);
  if (brokers !== undefined)
    o['brokers'] = brokers
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  o['brokers'] ??= [DEFAULT_KAFKA_BROKERS];
  const mechanism = str(flags['kafka-sasl-mechanism']) ?? str(env['KAFKA_SASL_MECHANISM']);
  const username = str(flags['kafka-username']) ?? str(env['KAFKA_USERNAME']);
  const password = str(flags['kafka-password']) ?? env['KAFKA_PASSWORD'];
  if (mechanism !== undefined || username !== undefined) {
    o['sasl'] = {
      ...((o['sasl'] as object | undefined) ?? {}),
      ...(mechanism ? { mechanism } : {}),
      ...(username ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  }
  const tlsEnv = str(env['KAFKA_TLS']);
  if (tlsEnv !== undefined && !/^(1|0|true|false|yes|no|on|off)$/i.test(tlsEnv))
    throw new ConfigError(`KAFKA_TLS: expected true or false (got ${JSON.stringify(tlsEnv)})`);
  const ca = str(flags['kafka-tls-ca']) ?? str(env['KAFKA_TLS_CA']);
  if (flags['kafka-tls'] === true || (tlsEnv !== undefined && /^(1|true|yes|on)$/i.test(tlsEnv)) || ca !== undefined) {
    o['tls'] = { ...((o['tls'] as object | undefined) ?? {}), ...(ca ? { caFile: ca } : {}) };
  }
  const set = (k: string, v: string | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  set('group', str(flags['kafka-group']) ?? str(env['KAFKA_CONSUMER_GROUP']));
  set('mode', str(flags['kafka-mode']) ?? str(env['KAFKA_MODE']));
  set('start', str(flags['kafka-start']) ?? str(env['KAFKA_START']));
  const r = sectionSchema.safeParse(o);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `kafka.${i.path.map(String).join('.')}: ${i.message}`);
    throw new ConfigError('invalid kafka options:\n  ' + lines.join('\n  '));
  }
  if (r.data.sasl && r.data.sasl.password === undefined) throw new ConfigError('kafka.sasl.password: required with a SASL username');
  return r.data;
}

/** The client's connection options from a section. */
export function kafkaConnection(s: KafkaSection, clientId = s.clientId): KafkaConnectionOptions {
  return {
    brokers: s.brokers,
    clientId,
    ...(s.sasl ? { sasl: s.sasl } : {}),
    ...(s.tls ? { tls: s.tls } : {}),
  };
}

/** The ingest's mode and start position, defaults filled in from the broker; invalid pairs fail here, at start. */
export function resolveIngestMode(s: KafkaSection, broker: string): { mode: 'each' | 'shared'; start: 'latest' | 'committed' } {
  const mode = s.mode ?? (broker === 'memory' ? 'each' : 'shared');
  if (mode === 'shared' && broker === 'memory') {
    throw new ConfigError(
      'kafka.mode: "shared" ingests each record on one node only, and the memory broker does not pass it to the others; use --broker nats, or --kafka-mode each',
    );
  }
  const start = s.start ?? (mode === 'each' ? 'latest' : 'committed');
  if (mode === 'shared' && start === 'latest') {
    throw new ConfigError(
      'kafka.start: "latest" needs --kafka-mode each (a shared group resumes from its committed offsets; new groups start at the latest)',
    );
  }
  return { mode, start };
}
