/**
 * The `jetstream:` section of the gateway's options (its rows, flags and environment variables are
 * in the gateway's option table), validated by this schema. Limits left out follow the gateway's namespaces (largest history size and
 * TTL), so the stream always holds what the gateway promises to recover.
 */
import { z } from 'zod';

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
    /** maxConnectionsPerUser across nodes: a crashed node's connections stop counting after this, ms (default 30000). */
    userTtlMs: z.number().int().min(1000).max(3_600_000).optional(),
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
