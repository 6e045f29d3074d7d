/**
 * The `jetstream:` section of the gateway's config file and its environment variables,
 * validated once. Limits left out follow the gateway's namespaces (largest history size and
 * TTL), so the stream always holds what the gateway promises to recover.
 */
import { z } from 'zod';
import { ConfigError } from '../core/options.js';

const ruleSchema = z.object({ subject: z.string().min(1), channel: z.string().min(1) }).strict();

export const jetStreamSectionSchema = z
  .object({
    /** Stream name (default ODIN_WS). */
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional(),
    /** Stream replicas: 1, or 3 on a 3-node cluster (default 1). */
    replicas: z.number().int().min(1).max(5).optional(),
    /** max_msgs_per_subject: history per channel (default: largest namespace historySize). */
    historySize: z.number().int().min(1).optional(),
    /** max_age, ms (default: largest namespace historyTtlMs). */
    maxAgeMs: z.number().int().min(1000).optional(),
    /** max_msgs for the whole stream; -1 unlimited (default). */
    maxMessages: z.number().int().min(-1).optional(),
    /** max_bytes for the whole stream; -1 unlimited (default). */
    maxBytes: z.number().int().min(-1).optional(),
    /** Idempotency window, ms (default 120000, at most maxAgeMs). */
    duplicateWindowMs: z.number().int().min(1000).optional(),
    storage: z.enum(['file', 'memory']).optional(),
    /** Presence entry TTL, ms: a crashed node's clients leave presence after this (default 60000). */
    presenceTtlMs: z.number().int().min(1000).max(3_600_000).optional(),
    ingest: z
      .object({
        /** Ingest the NATS subjects of existing publishers (default: on with the nats broker, off with memory). */
        enabled: z.boolean().optional(),
        /** Subject → channel rules; default odin.token.*.* → $1.$2, odin.market.statistics → market.stats. */
        rules: z.array(ruleSchema).min(1).optional(),
        /** Queue group: each message ingested by one gateway process only (a channel's order may change). */
        queue: z.string().min(1).optional(),
        /** With the nats broker, one process at a time reads the feed (JetStream lease; default true unless `queue`). */
        lease: z.boolean().optional(),
        /** Lease time to live, ms: how long a crashed reader's feed goes unread at most (plus a third). */
        leaseTtlMs: z.number().int().min(500).max(60_000).optional(),
        /** Removed: ingest dedups only by a real message id (Nats-Msg-Id or the event's id), never by content. */
        dedupByContent: z
          .literal(false, { error: 'removed: ingest dedups only by Nats-Msg-Id or the event id, never by content' })
          .optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type JetStreamSection = z.output<typeof jetStreamSectionSchema>;

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`${name}: expected an integer (got ${JSON.stringify(v)})`);
  return n;
}

/** File section ← environment (NATS_STREAM, NATS_STREAM_REPLICAS, NATS_STREAM_MAX_AGE_MS, NATS_STREAM_MAX_MSGS, NATS_STREAM_MAX_BYTES, NATS_PRESENCE_TTL_MS, NATS_INGEST). */
export function loadJetStreamSection(file: unknown, env: NodeJS.ProcessEnv): JetStreamSection {
  const o: Record<string, unknown> =
    typeof file === 'object' && file !== null && !Array.isArray(file) ? { ...(file as Record<string, unknown>) } : {};
  if (file !== undefined && file !== null && (typeof file !== 'object' || Array.isArray(file))) {
    throw new ConfigError('jetstream: must be an object');
  }
  const set = (k: string, v: unknown): void => {
    if (v !== undefined) o[k] = v;
  };
  set('stream', env.NATS_STREAM || undefined);
  set('replicas', envInt(env, 'NATS_STREAM_REPLICAS'));
  set('maxAgeMs', envInt(env, 'NATS_STREAM_MAX_AGE_MS'));
  set('maxMessages', envInt(env, 'NATS_STREAM_MAX_MSGS'));
  set('maxBytes', envInt(env, 'NATS_STREAM_MAX_BYTES'));
  set('presenceTtlMs', envInt(env, 'NATS_PRESENCE_TTL_MS'));
  if (env.NATS_INGEST) {
    if (!/^(1|0|true|false|yes|no|on|off)$/i.test(env.NATS_INGEST))
      throw new ConfigError(`NATS_INGEST: expected true or false (got ${JSON.stringify(env.NATS_INGEST)})`);
    const ingest = typeof o['ingest'] === 'object' && o['ingest'] !== null ? { ...(o['ingest'] as Record<string, unknown>) } : {};
    ingest['enabled'] = /^(1|true|yes|on)$/i.test(env.NATS_INGEST);
    o['ingest'] = ingest;
  }
  const r = jetStreamSectionSchema.safeParse(o);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `jetstream.${i.path.map(String).join('.')}: ${i.message}`);
    throw new ConfigError('invalid jetstream options:\n  ' + lines.join('\n  '));
  }
  return r.data;
}
