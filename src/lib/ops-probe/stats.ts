/** Collecting and rendering the figures behind `odin-ws stats` (one snapshot; rates from two). */
import { getJson } from './fetch-json.js';
import { kafkaPing, type KafkaPing } from './kafka-ping.js';
import { kafkaFigures, type KafkaFigures } from './kafka-stats.js';
import type { Endpoints } from './services.js';
import { bytes, fmt, renderTable } from './table.js';

export const STATS_VIEWS = ['all', 'publisher', 'ws', 'ips', 'topics', 'consume', 'broker'] as const;
export type StatsView = (typeof STATS_VIEWS)[number];

type Json = Record<string, unknown>;

export interface StatsSnapshot {
  readonly at: number;
  readonly view: StatsView;
  readonly gateway?: Json;
  readonly publisher?: Json;
  /** NATS JetStream (/jsz with streams and consumers). */
  readonly jetstream?: Json;
  readonly kafka?: KafkaPing & { readonly broker: string };
  /** Kafka topics and the consumer group's lag (when the broker answered). */
  readonly kafkaTopics?: KafkaFigures;
  /** Sources that did not answer, with the reason. */
  readonly errors: Readonly<Record<string, string>>;
  /** At least one source answered. */
  readonly answered: boolean;
}

const wants = (view: StatsView, part: 'gateway' | 'publisher' | 'jetstream' | 'kafka'): boolean => {
  switch (view) {
    case 'all':
      return true;
    case 'publisher':
      return part === 'publisher';
    case 'ws':
    case 'ips':
      return part === 'gateway';
    case 'topics':
    case 'broker':
      return part === 'jetstream' || part === 'kafka';
    case 'consume':
      return part === 'jetstream' || part === 'kafka';
  }
};

/** The gateway's Kafka consumer group unless told otherwise (src/lib/kafka/config.ts). */
export const DEFAULT_STATS_KAFKA_GROUP = 'odin-ws-gateway';

/**
 * `adminToken`: the gateway's admin token (GATEWAY_ADMIN_TOKEN), without which its /stats gives
 * counts only — no client addresses (the `ips` view).
 */
export async function collectStats(
  view: StatsView,
  ep: Endpoints,
  kafkaGroup = DEFAULT_STATS_KAFKA_GROUP,
  adminToken = '',
): Promise<StatsSnapshot> {
  const errors: Record<string, string> = {};
  const base = (u: string): string => u.replace(/\/+$/, '');
  const admin: Record<string, string> = adminToken !== '' ? { authorization: `Bearer ${adminToken}` } : {};
  const [gw, pub, js, kafka] = await Promise.all([
    wants(view, 'gateway') ? getJson<Json>(`${base(ep.gateway)}/stats`, undefined, false, false, admin) : null,
    wants(view, 'publisher') ? getJson<Json>(`${base(ep.publisher)}/stats`) : null,
    wants(view, 'jetstream') ? getJson<Json>(`${base(ep.nats)}/jsz?streams=true&consumers=true&config=true`) : null,
    wants(view, 'kafka') ? kafkaPing(ep.kafka.split(',')[0]!.trim()) : null,
  ]);
  const snap: { -readonly [K in keyof StatsSnapshot]: StatsSnapshot[K] } = { at: Date.now(), view, errors, answered: false };
  if (gw) {
    if (gw.ok) snap.gateway = gw.body;
    else errors.gateway = `${ep.gateway}: ${gw.error}`;
  }
  if (pub) {
    if (pub.ok) snap.publisher = pub.body;
    else errors.publisher = `${ep.publisher}: ${pub.error}`;
  }
  if (js) {
    if (js.ok) snap.jetstream = js.body;
    else errors.nats = `${ep.nats}: ${js.error}`;
  }
  if (kafka) {
    if (kafka.ok) {
      snap.kafka = { ...kafka, broker: ep.kafka };
      const figures = await kafkaFigures(ep.kafka, kafkaGroup);
      if ('error' in figures) errors.kafkaTopics = `${ep.kafka}: ${figures.error}`;
      else snap.kafkaTopics = figures;
    } else errors.kafka = `${ep.kafka}: ${kafka.error ?? 'down'}`;
  }
  snap.answered = !!(snap.gateway ?? snap.publisher ?? snap.jetstream ?? snap.kafka);
  return snap;
}

const num = (o: unknown, ...path: string[]): number | undefined => {
  let v: unknown = o;
  for (const p of path) v = v && typeof v === 'object' ? (v as Json)[p] : undefined;
  return typeof v === 'number' ? v : undefined;
};

/** Per-second change of a counter between two snapshots ('-' without a previous one). */
function rate(cur: StatsSnapshot, prev: StatsSnapshot | null, pick: (s: StatsSnapshot) => number | undefined): string {
  if (!prev) return '-';
  const a = pick(prev);
  const b = pick(cur);
  const dt = (cur.at - prev.at) / 1000;
  if (a === undefined || b === undefined || dt <= 0) return '-';
  return `${fmt(Math.max(0, (b - a) / dt))}/s`;
}

function publisherSection(s: StatsSnapshot, prev: StatsSnapshot | null): string {
  const p = s.publisher!;
  const st = (p.stats ?? {}) as Json;
  const rows: string[][] = [
    ['publishing', String(p.isPublishing ?? '-')],
    ['profile', fmt(p.profile)],
    ['messages published', fmt(st.messagesPublished)],
    ['rate (publisher)', `${fmt(st.currentRate)}/s now, ${fmt(st.averageRate)}/s average, target ${fmt(st.targetRate)}/s`],
    ['rate (measured)', rate(s, prev, (x) => num(x.publisher, 'stats', 'messagesPublished'))],
    ['errors', fmt(st.errors)],
    ['dropped (behind schedule)', fmt(st.dropped)],
    ['active tokens', Array.isArray(p.activeTokens) ? (p.activeTokens as unknown[]).join(', ') : fmt(p.activeTokens)],
    ['sink', JSON.stringify(p.sink ?? null)],
  ];
  const byType = (st.byType ?? {}) as Record<string, number>;
  const types = Object.entries(byType).sort((a, b) => b[1] - a[1]);
  let out = `PUBLISHER\n${renderTable(['FIGURE', 'VALUE'], rows)}`;
  if (types.length > 0)
    out += `\n${renderTable(
      ['EVENT TYPE', 'PUBLISHED'],
      types.map(([t, n]) => [t, fmt(n)]),
    )}`;
  return out;
}

function gatewaySection(s: StatsSnapshot, prev: StatsSnapshot | null): string {
  const g = s.gateway!;
  const c = (g.connections ?? {}) as Json;
  const m = (g.messages ?? {}) as Json;
  const rows: string[][] = [
    ['workers', fmt(g.workers ?? 1)],
    ['ready', String(g.ready)],
    ['uptime', `${fmt(g.uptime)} s`],
    ['connections', `${fmt(c.total)} (odin ${fmt(c.odin)}, centrifuge ${fmt(c.centrifuge)})`],
    ['subscriptions', fmt(g.subscriptions)],
    ['channels', fmt(g.channels)],
    ['publications', `${fmt(g.publications)}  (${rate(s, prev, (x) => num(x.gateway, 'publications'))})`],
    ['messages out', `${fmt(m.out)}  (${rate(s, prev, (x) => num(x.gateway, 'messages', 'out'))})`],
    ['messages in', `${fmt(m.in)}  (${rate(s, prev, (x) => num(x.gateway, 'messages', 'in'))})`],
    ['bytes out', bytes(m.bytesOut)],
    ['slow clients disconnected', fmt(g.slowDisconnects)],
    ['recoveries', JSON.stringify(g.recoveries ?? {})],
    ['rejected at upgrade', JSON.stringify(g.rejected ?? {})],
    ['memory (rss)', bytes(num(g, 'memory', 'rss'))],
  ];
  return `GATEWAY\n${renderTable(['FIGURE', 'VALUE'], rows)}`;
}

function ipsSection(s: StatsSnapshot): string {
  if (s.gateway !== undefined && s.gateway.ips === undefined)
    return `CONNECTIONS BY CLIENT ADDRESS\n(${fmt(Number(s.gateway.addresses ?? 0))} addresses; the list needs the gateway's admin token: set GATEWAY_ADMIN_TOKEN)\n`;
  const ips = (s.gateway?.ips ?? []) as { ip: string; connections: number }[];
  if (!Array.isArray(ips) || ips.length === 0) return 'CONNECTIONS BY CLIENT ADDRESS\n(no connections)\n';
  return `CONNECTIONS BY CLIENT ADDRESS\n${renderTable(
    ['ADDRESS', 'CONNECTIONS'],
    ips.map((x) => [x.ip, fmt(x.connections)]),
  )}`;
}

interface JszStream {
  name?: string;
  config?: { subjects?: string[]; num_replicas?: number };
  state?: { messages?: number; bytes?: number; first_seq?: number; last_seq?: number; consumer_count?: number };
  consumer_detail?: {
    name?: string;
    num_pending?: number;
    num_ack_pending?: number;
    num_redelivered?: number;
    delivered?: { stream_seq?: number };
  }[];
}

function streamsOf(s: StatsSnapshot): JszStream[] {
  const accounts = (s.jetstream?.account_details ?? []) as { stream_detail?: JszStream[] }[];
  return accounts.flatMap((a) => a.stream_detail ?? []);
}

function topicsSection(s: StatsSnapshot, prev: StatsSnapshot | null): string {
  let out = '';
  if (s.jetstream) {
    const rows = streamsOf(s).map((st) => [
      st.name ?? '?',
      (st.config?.subjects ?? []).join(' '),
      fmt(st.state?.messages),
      bytes(st.state?.bytes),
      `${fmt(st.state?.first_seq)}..${fmt(st.state?.last_seq)}`,
      rate(s, prev, (x) => streamsOf(x).find((y) => y.name === st.name)?.state?.last_seq),
    ]);
    out += `NATS JETSTREAM STREAMS (${fmt(s.jetstream.streams)} streams, ${fmt(s.jetstream.messages)} messages)\n`;
    out += rows.length > 0 ? renderTable(['STREAM', 'SUBJECTS', 'MESSAGES', 'BYTES', 'SEQUENCES', 'APPEND RATE'], rows) : '(no streams)\n';
  }
  if (s.kafka) {
    out += `\nKAFKA TOPICS (broker ${s.kafka.broker}, ${s.kafka.ms} ms)\n`;
    const topics = s.kafkaTopics?.topics ?? [];
    out +=
      topics.length > 0
        ? renderTable(
            ['TOPIC', 'PARTITIONS', 'END OFFSETS', 'APPEND RATE'],
            topics.map((t) => [
              t.topic,
              fmt(t.partitions),
              fmt(t.endOffsets),
              rate(s, prev, (x) => x.kafkaTopics?.topics.find((y) => y.topic === t.topic)?.endOffsets),
            ]),
          )
        : '(no topics)\n';
  }
  return out;
}

function kafkaConsumeSection(s: StatsSnapshot): string {
  const k = s.kafkaTopics;
  if (!k) return '';
  const rows = k.topics.map((t) => [t.topic, fmt(t.endOffsets), fmt(t.committed), t.lag === null ? 'no commits' : fmt(t.lag)]);
  return `KAFKA CONSUMER GROUP ${k.group}\n${rows.length > 0 ? renderTable(['TOPIC', 'END OFFSETS', 'COMMITTED', 'LAG'], rows) : '(no topics)\n'}`;
}

function consumeSection(s: StatsSnapshot): string {
  if (!s.jetstream) return kafkaConsumeSection(s);
  const rows = streamsOf(s).flatMap((st) =>
    (st.consumer_detail ?? []).map((c) => [
      st.name ?? '?',
      c.name ?? '?',
      fmt(c.delivered?.stream_seq),
      fmt(c.num_pending),
      fmt(c.num_ack_pending),
      fmt(c.num_redelivered),
    ]),
  );
  return `${kafkaConsumeSection(s)}BROKER CONSUMERS (JetStream)\n${rows.length > 0 ? renderTable(['STREAM', 'CONSUMER', 'DELIVERED SEQ', 'PENDING', 'ACK PENDING', 'REDELIVERED'], rows) : '(no durable consumers: the gateway reads history with direct gets and live data with core subscriptions)\n'}`;
}

export function renderStats(s: StatsSnapshot, prev: StatsSnapshot | null): string {
  const parts: string[] = [`odin-ws stats (${s.view}) at ${new Date(s.at).toISOString()}`];
  const v = s.view;
  if (s.publisher && (v === 'all' || v === 'publisher')) parts.push(publisherSection(s, prev));
  if (s.gateway && (v === 'all' || v === 'ws')) parts.push(gatewaySection(s, prev));
  if (s.gateway && (v === 'all' || v === 'ips')) parts.push(ipsSection(s));
  if (v === 'all' || v === 'topics' || v === 'broker') parts.push(topicsSection(s, prev));
  if (v === 'all' || v === 'consume' || v === 'broker') parts.push(consumeSection(s));
  const errs = Object.entries(s.errors);
  if (errs.length > 0) parts.push(`NOT ANSWERING\n${errs.map(([k, e]) => `  ${k}: ${e}`).join('\n')}\n`);
  return parts.filter((p) => p !== '').join('\n') + '\n';
}

/** The figures to watch, first and in one short table: what a live view must show on any terminal. */
export function headline(s: StatsSnapshot, prev: StatsSnapshot | null): string {
  const rows: string[][] = [];
  if (s.publisher) {
    const st = (s.publisher.stats ?? {}) as Json;
    rows.push([
      'publisher',
      `${s.publisher.isPublishing ? 'publishing' : 'idle'}, ${fmt(st.messagesPublished)} published (${rate(s, prev, (x) => num(x.publisher, 'stats', 'messagesPublished'))}), ${fmt(st.errors)} errors`,
    ]);
  }
  if (s.gateway) {
    const g = s.gateway;
    rows.push([
      'connections',
      `${fmt(num(g, 'connections', 'total'))}, ${fmt(g.subscriptions)} subscriptions, ${fmt(g.channels)} channels`,
    ]);
    rows.push([
      'gateway traffic',
      `${rate(s, prev, (x) => num(x.gateway, 'publications'))} publications, ${rate(s, prev, (x) => num(x.gateway, 'messages', 'out'))} messages out, ${fmt(g.slowDisconnects)} slow disconnects`,
    ]);
  }
  const k = s.kafkaTopics;
  if (k) {
    const lag = k.topics.reduce((a, t) => a + (t.lag ?? 0), 0);
    const end = k.topics.reduce((a, t) => a + (t.endOffsets ?? 0), 0);
    rows.push(['kafka', `${fmt(end)} records in ${k.topics.length} topics, group ${k.group} lag ${fmt(lag)}`]);
  }
  const errs = Object.keys(s.errors);
  if (errs.length > 0) rows.push(['not answering', errs.join(', ')]);
  return rows.length > 0 ? renderTable(['LIVE', 'NOW'], rows) : '';
}

/**
 * One frame of `stats --watch` on a terminal of `rows` lines: the headline first, then the view,
 * cut to fit so the headline never scrolls off (the cut says how to see the rest).
 */
export function renderWatchFrame(s: StatsSnapshot, prev: StatsSnapshot | null, rows: number): string {
  const lines = `${headline(s, prev)}\n${renderStats(s, prev)}`.split('\n');
  const room = Math.max(8, rows - 2);
  if (lines.length <= room) return lines.join('\n');
  return (
    [...lines.slice(0, room - 1), `… ${lines.length - room + 1} more lines (odin-ws stats ${s.view} prints them all)`].join('\n') + '\n'
  );
}
