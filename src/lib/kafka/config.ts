/**
 * The `kafka:` section of the gateway's options (its flags and environment variables are rows of
 * the gateway's option table), validated by this schema; the connection options and the ingest
 * mode derived from it.
 */
import { z } from 'zod';
import { ConfigError, optionsError } from '../core/options.js';
import type { KafkaConnectionOptions } from './client.js';
import { flagSpecOf, mergeSources, renderRows, type OptionRow } from '../runtime/option-table.js';
import { DEFAULT_MAX_RECORD_BYTES } from './mapping.js';

/** Where the plans' Redpanda listens for clients outside compose. */
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:19092';
export const DEFAULT_KAFKA_GROUP = 'odin-ws-gateway';

/**
 * The connection's options for every Kafka-speaking command (`gateway --ingest kafka` under
 * `kafka.`, `publisher --sink kafka`, `odin-ws kafka`): rows of an option table
 * (runtime/option-table.ts), keys relative to the `kafka:` section.
 */
export const KAFKA_CONNECTION_OPTIONS = [
  { key: 'brokers', kind: 'list', flag: 'kafka-brokers', env: 'KAFKA_BROKERS', section: 'Kafka', help: 'host:port,...' },
  {
    key: 'sasl.mechanism',
    kind: 'string',
    flag: 'kafka-sasl-mechanism',
    env: 'KAFKA_SASL_MECHANISM',
    section: 'Kafka',
    help: 'SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN (default: no SASL)',
  },
  { key: 'sasl.username', kind: 'string', flag: 'kafka-username', env: 'KAFKA_USERNAME', section: 'Kafka', help: 'SASL user' },
  {
    key: 'sasl.password',
    kind: 'secret',
    flag: 'kafka-password',
    refusedFlag: 'secrets are never flags, the command line shows in ps: set KAFKA_PASSWORD or kafka.sasl.password in the --config file',
    env: 'KAFKA_PASSWORD',
    section: 'Kafka',
    help: 'SASL password',
  },
  {
    key: 'tls.enabled',
    kind: 'bool',
    flag: 'kafka-tls',
    env: 'KAFKA_TLS',
    defaultText: 'false',
    section: 'Kafka',
    help: 'TLS to the brokers',
  },
  {
    key: 'tls.caFile',
    kind: 'string',
    flag: 'kafka-tls-ca',
    env: 'KAFKA_TLS_CA',
    section: 'Kafka',
    help: 'CA certificate (PEM) for a private CA',
  },
] as const satisfies readonly OptionRow[];

/** The gateway's ingest options besides the connection. */
export const KAFKA_INGEST_OPTIONS = [
  {
    key: 'group',
    kind: 'string',
    flag: 'kafka-group',
    env: 'KAFKA_CONSUMER_GROUP',
    section: 'Kafka',
    help: "consumer group (each mode: prefix of this node's own)",
  },
  {
    key: 'mode',
    kind: 'string',
    flag: 'kafka-mode',
    env: 'KAFKA_MODE',
    defaultText: 'each with memory, shared with nats',
    section: 'Kafka',
    help: 'each: every node reads every partition; shared: one group, each record once into JetStream',
  },
  {
    key: 'start',
    kind: 'string',
    flag: 'kafka-start',
    env: 'KAFKA_START',
    defaultText: 'each: latest; shared: committed',
    section: 'Kafka',
    help: 'where a new group starts: latest|committed',
  },
  { key: 'rules', kind: 'string', defaultText: 'the Odin topics (docs/kafka.md)', section: 'Kafka', help: 'topic → channel rules' },
  { key: 'maxRecordBytes', kind: 'int', unit: 'bytes', section: 'Kafka', help: 'larger records are skipped and counted' },
  { key: 'clientId', kind: 'string', section: 'Kafka', help: 'client id (the gateway uses its node id)' },
] as const satisfies readonly OptionRow[];

/** parseArgs options of the connection flags. */
export const KAFKA_CONNECTION_FLAGS = flagSpecOf(KAFKA_CONNECTION_OPTIONS);

const ruleSchema = z
  .object({ topic: z.string().min(1), channel: z.string().min(1), types: z.array(z.string().min(1)).min(1).optional() })
  .strict();

export const kafkaSectionSchema = z
  .object({
    brokers: z
      .array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port'))
      .min(1)
      .default([DEFAULT_KAFKA_BROKERS]),
    clientId: z.string().min(1).default('odin-ws'),
    sasl: z
      .object({ mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']), username: z.string().min(1), password: z.string() })
      .strict()
      .optional(),
    tls: z
      .object({
        /** false: no TLS even with the other keys set; a `tls` section alone turns it on. */
        enabled: z.boolean().optional(),
        caFile: z.string().min(1).optional(),
        rejectUnauthorized: z.boolean().optional(),
        serverName: z.string().optional(),
      })
      .strict()
      .optional()
      .transform((t) => {
        if (t === undefined || t.enabled === false) return undefined;
        const { enabled: _enabled, ...rest } = t;
        return rest;
      }),
    group: z.string().min(1).default(DEFAULT_KAFKA_GROUP),
    mode: z.enum(['each', 'shared']).optional(),
    start: z.enum(['latest', 'committed']).optional(),
    /** Topic → channel rules; default: the Odin topics (docs/kafka.md). */
    rules: z.array(ruleSchema).min(1).optional(),
    /** Largest record value, bytes; larger ones are skipped and counted. */
    maxRecordBytes: z.number().int().min(1).default(DEFAULT_MAX_RECORD_BYTES),
  })
  .strict();

export type KafkaSection = z.output<typeof kafkaSectionSchema>;

/** The connection flags' help lines (flag | environment | what [default]). */
export const KAFKA_CONNECTION_HELP = renderRows(KAFKA_CONNECTION_OPTIONS, kafkaSectionSchema.parse({}));

/** Validates a `kafka:` section (a bad value names its key, never a password). */
export function resolveKafkaSection(input: unknown): KafkaSection {
  const r = kafkaSectionSchema.safeParse(input);
  if (!r.success) throw optionsError('invalid kafka options', r.error.issues, input, { prefix: 'kafka.', secrets: ['sasl.password'] });
  return r.data;
}

/** A command's Kafka section: file section ← environment ← its parsed flags (connection, and the ingest's when given). */
export function loadKafkaSection(file: unknown, env: NodeJS.ProcessEnv, flags: Readonly<Record<string, unknown>>): KafkaSection {
  if (file !== undefined && file !== null && (typeof file !== 'object' || Array.isArray(file)))
    throw new ConfigError('kafka: must be an object');
  return resolveKafkaSection(
    mergeSources([...KAFKA_CONNECTION_OPTIONS, ...KAFKA_INGEST_OPTIONS], (file as Record<string, unknown> | null) ?? {}, env, flags),
  );
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
