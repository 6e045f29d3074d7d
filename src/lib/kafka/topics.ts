/**
 * The Odin Kafka topics (the plans' setup script): name, the channel suffix the Go gateway
 * used, the event types each carries, and retention. Both the existing Odin event types
 * (`TRADE_EXECUTED`) and odin-ws's own (`trade:new`, what `odin-ws publisher --sink kafka`
 * writes) are accepted on a topic.
 */
import { CHANNEL_EVENT_OF_TYPE, KAFKA_TOPIC_OF_CHANNEL_EVENT, type EventType } from '../protocol/events.js';

export interface OdinTopic {
  readonly topic: string;
  /** `{key}.{suffix}` is the default channel (`BTC.trade`). */
  readonly suffix: string;
  /** The existing Odin event types of this topic. */
  readonly odinTypes: readonly string[];
  readonly retentionMs: number;
}

export const ODIN_TOPICS: readonly OdinTopic[] = Object.freeze([
  { topic: 'odin.trades', suffix: 'trade', odinTypes: ['TRADE_EXECUTED', 'BUY_COMPLETED', 'SELL_COMPLETED'], retentionMs: 30_000 },
  {
    topic: 'odin.liquidity',
    suffix: 'liquidity',
    odinTypes: ['LIQUIDITY_ADDED', 'LIQUIDITY_REMOVED', 'LIQUIDITY_REBALANCED'],
    retentionMs: 60_000,
  },
  {
    topic: 'odin.metadata',
    suffix: 'metadata',
    odinTypes: ['METADATA_UPDATED', 'TOKEN_NAME_CHANGED', 'TOKEN_FLAGS_CHANGED'],
    retentionMs: 3_600_000,
  },
  { topic: 'odin.social', suffix: 'social', odinTypes: ['TWITTER_VERIFIED', 'SOCIAL_LINKS_UPDATED'], retentionMs: 3_600_000 },
  {
    topic: 'odin.community',
    suffix: 'community',
    odinTypes: ['COMMENT_POSTED', 'COMMENT_PINNED', 'COMMENT_UPVOTED', 'FAVORITE_TOGGLED'],
    retentionMs: 300_000,
  },
  { topic: 'odin.creation', suffix: 'creation', odinTypes: ['TOKEN_CREATED', 'TOKEN_LISTED'], retentionMs: 3_600_000 },
  {
    topic: 'odin.analytics',
    suffix: 'analytics',
    odinTypes: ['PRICE_DELTA_UPDATED', 'HOLDER_COUNT_UPDATED', 'ANALYTICS_RECALCULATED', 'TRENDING_UPDATED'],
    retentionMs: 300_000,
  },
  { topic: 'odin.balances', suffix: 'balances', odinTypes: ['BALANCE_UPDATED', 'TRANSFER_COMPLETED'], retentionMs: 30_000 },
]);

/** Partitions of each Odin topic (the plans' setup script). */
export const DEFAULT_TOPIC_PARTITIONS = 12;
/** Replicas of each topic when created here (1 on a single local broker; 3 on a managed cluster). */
export const DEFAULT_TOPIC_REPLICAS = 1;

/**
 * Topic configs besides retention. The plans' `compression.type=snappy` is left out on purpose:
 * broker-recompressed snappy batches crash the Node client (docs/kafka.md); `producer` keeps
 * whatever the producer sent.
 */
export const TOPIC_CONFIGS: Readonly<Record<string, string>> = Object.freeze({
  'cleanup.policy': 'delete',
  'segment.ms': '10000',
  'max.message.bytes': '1048576',
  'min.insync.replicas': '1',
  'compression.type': 'producer',
});

/** Key of market-wide events (token `*`) on `odin.analytics`; they map to `market.stats`. */
export const MARKET_KEY = 'market';

/** odin-ws event types written to `topic` by the publisher's Kafka sink. */
export function nativeTypesOf(topic: string): string[] {
  return (Object.keys(CHANNEL_EVENT_OF_TYPE) as EventType[]).filter((t) => {
    const ev = CHANNEL_EVENT_OF_TYPE[t];
    return ev !== null && KAFKA_TOPIC_OF_CHANNEL_EVENT[ev] === topic;
  });
}

/** The topic an odin-ws event goes to (market-wide events: odin.analytics). */
export function topicOfType(type: EventType): string {
  const ev = CHANNEL_EVENT_OF_TYPE[type];
  return ev === null ? 'odin.analytics' : KAFKA_TOPIC_OF_CHANNEL_EVENT[ev];
}
