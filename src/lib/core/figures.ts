/**
 * The gateway's figures at one moment: the one projection of a node's state and counters that
 * `/stats` (server/http-app.ts), the process group's merged `/stats`, the dashboard's stats row
 * (dashboard/stats-producer.ts) and `/metrics`' gauges (server/metrics.ts) all read, so they
 * cannot disagree about what a figure means. Counters are totals since the node started; rates
 * are taken by the reader from two snapshots.
 */
import type { Gateway } from './gateway.js';

export interface GatewayFigures {
  readonly node: string;
  readonly version: string;
  readonly ready: boolean;
  readonly draining: boolean;
  /** Seconds since the node started. */
  readonly uptime: number;
  /** Open connections, by protocol and in all. */
  readonly connections: { readonly odin: number; readonly centrifuge: number; readonly total: number };
  /** Connections accepted since the start, in all. */
  readonly connectsTotal: number;
  readonly subscriptions: number;
  /** Channels with at least one subscriber on this node. */
  readonly channels: number;
  readonly messages: { readonly in: number; readonly out: number; readonly bytesIn: number; readonly bytesOut: number };
  readonly publications: number;
  readonly recoveries: Readonly<Record<string, number>>;
  readonly slowDisconnects: number;
  /** Upgrades refused, by reason. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Distinct client addresses connected now. */
  readonly addresses: number;
}

export function figuresOf(gw: Gateway): GatewayFigures {
  const s = gw.stats;
  return {
    node: gw.nodeId,
    version: gw.version,
    ready: gw.isReady(),
    draining: gw.isDraining,
    uptime: Math.floor((gw.clock.now() - gw.startedAt) / 1000),
    connections: { ...s.connections, total: gw.connectionCount },
    connectsTotal: s.connectionsTotal.odin + s.connectionsTotal.centrifuge,
    subscriptions: s.subscriptions,
    channels: gw.hub.channelCount,
    messages: { in: s.messagesIn, out: s.messagesOut, bytesIn: s.bytesIn, bytesOut: s.bytesOut },
    publications: s.publications,
    recoveries: { ...s.recoveries },
    slowDisconnects: s.slowDisconnects,
    rejected: { ...s.rejected },
    addresses: gw.connectionsByIp.size,
  };
}
