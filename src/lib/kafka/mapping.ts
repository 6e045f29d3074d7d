/**
 * Kafka record → channel publication. A record's value is JSON `{type, timestamp, data, ...}`
 * and is delivered as it is (never re-serialized; Odin pushes read its `type` from the text); the channel comes
 * from the first rule whose topic (and, when given, type list) matches, with `{key}` (the record
 * key, a token id), `{type}` and `{user}` (the value's `data.userId` or `data.user`) filled in. What cannot be mapped has a reason, never an exception.
 */
import { utf8Text } from '../protocol/json-text.js';
import { jsonTooDeep } from '../protocol/limits.js';
import { nativeTypesOf, ODIN_TOPICS } from './topics.js';

export interface KafkaChannelRule {
  readonly topic: string;
  /** Channel template: `{key}`, `{type}` and `{user}` are replaced (`{key}.trade`). */
  readonly channel: string;
  /** Accepted value `type`s; omitted: any. A record of its topic with another type goes to the next rule. */
  readonly types?: readonly string[];
}

/** Why a record was skipped (a metric label each). */
export const BAD_RECORD_REASONS = ['not_json', 'no_key', 'unknown_type', 'too_large', 'bad_channel'] as const;
export type BadRecordReason = (typeof BAD_RECORD_REASONS)[number];

/**
 * The existing mapping: `odin.trades` + key `BTC` → `BTC.trade` (Go gateway), for the Odin
 * types and for odin-ws's own; market-wide events on odin.analytics (key `market`) → `market.stats`.
 * One difference: balances are personal, so they go to the user's channel `BTC.balances.{user}`
 * (only that user may subscribe), not to a token-wide `BTC.balances` anyone could read.
 */
export const DEFAULT_KAFKA_RULES: readonly KafkaChannelRule[] = Object.freeze([
  { topic: 'odin.analytics', channel: 'market.stats', types: ['market:stats'] },
  ...ODIN_TOPICS.map((t) => ({
    topic: t.topic,
    channel: t.suffix === 'balances' ? '{key}.balances.{user}' : `{key}.${t.suffix}`,
    types: [...t.odinTypes, ...nativeTypesOf(t.topic)],
  })),
]);

/** Largest record value accepted, bytes (the topics' max.message.bytes). */
export const DEFAULT_MAX_RECORD_BYTES = 1_048_576;

export interface MappedRecord {
  readonly channel: string;
  /** The value's JSON text, as received. */
  readonly data: string;
  readonly type: string;
  /** The value's `id`, when it has a string one (odin-ws events do). */
  readonly eventId: string | undefined;
  /** The event's `timestamp` (ms), else the record's. */
  readonly timestamp: number;
}

/** A key that can be one channel segment: no dots, no spaces or controls, at most 128 characters. */
const KEY_RE = /^[^\s.]{1,128}$/;

interface CompiledRule {
  readonly template: string;
  readonly types: ReadonlySet<string> | null;
  readonly usesKey: boolean;
}

export class RecordMapper {
  private readonly byTopic = new Map<string, CompiledRule[]>();

  constructor(
    rules: readonly KafkaChannelRule[] = DEFAULT_KAFKA_RULES,
    private readonly maxBytes = DEFAULT_MAX_RECORD_BYTES,
  ) {
    if (rules.length === 0) throw new RangeError('kafka rules: at least one rule is needed');
    for (const r of rules) {
      if (r.topic === '' || r.channel === '') throw new RangeError(`kafka rule needs a topic and a channel: ${JSON.stringify(r)}`);
      const unknown = r.channel.match(/\{(?!key\}|type\}|user\})[^}]*\}/);
      if (unknown) throw new RangeError(`kafka rule channel ${r.channel}: unknown placeholder ${unknown[0]} (use {key}, {type} or {user})`);
      let list = this.byTopic.get(r.topic);
      if (!list) this.byTopic.set(r.topic, (list = []));
      list.push({ template: r.channel, types: r.types ? new Set(r.types) : null, usesKey: r.channel.includes('{key}') });
    }
  }

  /** The topics to consume. */
  get topics(): string[] {
    return [...this.byTopic.keys()];
  }

  map(
    topic: string,
    key: Buffer | null | undefined,
    value: Buffer | null | undefined,
    recordTimestamp: number,
  ): MappedRecord | BadRecordReason {
    if (value === null || value === undefined || value.length === 0) return 'not_json';
    if (value.length > this.maxBytes) return 'too_large';
    // Delivered as the bytes that arrived: strict UTF-8 JSON within the depth limit. Parsed
    // only to read the fields routing needs.
    const data = utf8Text(value);
    if (data === null) return 'not_json';
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      return 'not_json';
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v) || jsonTooDeep(v)) return 'not_json';
    const o = v as { type?: unknown; timestamp?: unknown; id?: unknown; data?: { userId?: unknown; user?: unknown } | null };
    if (typeof o.type !== 'string') return 'unknown_type';
    const type = o.type;
    const rules = this.byTopic.get(topic);
    const rule = rules?.find((r) => r.types === null || r.types.has(type));
    if (!rule) return 'unknown_type';
    let channel = rule.template;
    if (rule.usesKey) {
      const k = key === null || key === undefined ? '' : key.toString('utf8');
      if (k === '') return 'no_key';
      if (!KEY_RE.test(k)) return 'bad_channel';
      channel = channel.replaceAll('{key}', k);
    }
    if (channel.includes('{type}')) channel = channel.replaceAll('{type}', type);
    if (channel.includes('{user}')) {
      const d = typeof o.data === 'object' && o.data !== null ? o.data : {};
      const user = typeof d.userId === 'string' ? d.userId : typeof d.user === 'string' ? d.user : '';
      if (user === '') return 'no_key';
      if (!KEY_RE.test(user)) return 'bad_channel';
      channel = channel.replaceAll('{user}', user);
    }
    return {
      channel,
      data,
      type,
      eventId: typeof o.id === 'string' && o.id !== '' ? o.id : undefined,
      timestamp: typeof o.timestamp === 'number' && Number.isFinite(o.timestamp) ? o.timestamp : recordTimestamp,
    };
  }
}
