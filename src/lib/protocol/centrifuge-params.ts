/**
 * Typed parameters of Centrifugo client commands: each command's params are checked here once,
 * and core gets a typed value or the protocol error to reply with (107 with the field's name).
 */
import { ErrorCode, protocolError, type ProtocolError } from './codes.js';
import { MAX_JSON_DEPTH } from './limits.js';
import { payloadText } from './json-text.js';
import { parseStreamPosition, type StreamPosition } from './position.js';
import type { CentrifugeCommand } from './centrifuge.js';
import { parseTagsFilter, type FilterNode } from './tags-filter.js';

/** Delta types a subscriber may ask for (`delta` in subscribe) and a namespace may allow. */
export const DELTA_TYPES = ['fossil'] as const;
export type DeltaType = (typeof DELTA_TYPES)[number];

export function isDeltaType(s: string): s is DeltaType {
  return (DELTA_TYPES as readonly string[]).includes(s);
}

export interface TokenParams {
  /** null when absent or not a string. */
  readonly token: string | null;
}
export interface ConnectParams extends TokenParams {
  /** Positions to recover server-side subscriptions from (`subs` with `recover: true`). */
  readonly subs: Readonly<Record<string, StreamPosition>>;
  /**
   * Every `subs` entry: on a unidirectional transport, the channels the client asks to be
   * subscribed to (each with its own subscription `token` and recovery position, if any).
   */
  readonly requested: Readonly<Record<string, { readonly since: StreamPosition | null; readonly token: string | null }>>;
  /** The connect `data` as JSON text (what a connect proxy is given), or null. */
  readonly data: string | null;
  readonly name: string;
  readonly version: string;
}
export interface ChannelParams {
  readonly channel: string;
}
export interface SubscribeParams extends ChannelParams {
  /** The position to recover from, when the client asked to recover (`recover: true`). */
  readonly since: StreamPosition | null;
  /** Subscription feature bits (client.proto's SubscribeRequest.flag); 0 when absent. */
  readonly flag: number;
  /** The client's tags filter (`tf`), validated; null when absent. */
  readonly tagsFilter: FilterNode | null;
  /** The delta compression asked for (`delta`, e.g. "fossil"); "" when none. */
  readonly delta: string;
  /** A subscription token (JWT), or null when absent or empty. */
  readonly token: string | null;
}
export interface SubRefreshParams extends ChannelParams {
  /** The new subscription token; "" when absent (answered with 107, as Centrifugo does). */
  readonly token: string;
}
export interface PublishParams extends ChannelParams {
  /** The payload: its JSON text exactly as the client sent it. */
  readonly data: string;
}
export interface HistoryParams extends ChannelParams {
  /** -1: all kept; 0: none (only the position). */
  readonly limit: number;
  readonly since: StreamPosition | undefined;
  readonly reverse: boolean;
}

export type TypedCentrifugeCommand =
  | { readonly id: number; readonly method: 'connect'; readonly params: ConnectParams }
  | { readonly id: number; readonly method: 'refresh'; readonly params: TokenParams }
  | { readonly id: number; readonly method: 'subscribe'; readonly params: SubscribeParams }
  | { readonly id: number; readonly method: 'unsubscribe' | 'presence' | 'presence_stats'; readonly params: ChannelParams }
  | { readonly id: number; readonly method: 'publish'; readonly params: PublishParams }
  | { readonly id: number; readonly method: 'history'; readonly params: HistoryParams }
  | { readonly id: number; readonly method: 'sub_refresh'; readonly params: SubRefreshParams }
  | { readonly id: number; readonly method: 'rpc' | 'send'; readonly params: Readonly<Record<string, unknown>> };

const CHANNEL_REQUIRED = 'channel required';

function channelOf(p: Record<string, unknown>): string | null {
  return typeof p.channel === 'string' ? p.channel : null;
}

/** Checks a command's params; never throws. */
export function parseCentrifugeParams(cmd: CentrifugeCommand): TypedCentrifugeCommand | ProtocolError {
  const { id, params: p } = cmd;
  switch (cmd.method) {
    case 'connect': {
      const subs: Record<string, StreamPosition> = {};
      const requested: Record<string, { since: StreamPosition | null; token: string | null }> = Object.create(null) as Record<
        string,
        { since: StreamPosition | null; token: string | null }
      >;
      if (typeof p.subs === 'object' && p.subs !== null && !Array.isArray(p.subs)) {
        for (const [ch, s] of Object.entries(p.subs as Record<string, unknown>)) {
          if (typeof s !== 'object' || s === null) continue;
          const token = typeof (s as { token?: unknown }).token === 'string' ? (s as { token: string }).token : '';
          if ((s as { recover?: unknown }).recover !== true) {
            requested[ch] = { since: null, token: token === '' ? null : token };
            continue;
          }
          const pos = parseStreamPosition(s, `subs.${ch.slice(0, 64)}`, { zeroDefaults: true });
          if ('code' in pos) return pos;
          subs[ch] = pos;
          requested[ch] = { since: pos, token: token === '' ? null : token };
        }
      }
      const data = p.data === undefined ? null : payloadText(p.data);
      if (p.data !== undefined && data === null)
        return protocolError(ErrorCode.BadRequest, `data nests deeper than ${MAX_JSON_DEPTH} levels`);
      return {
        id,
        method: 'connect',
        params: {
          token: typeof p.token === 'string' ? p.token : null,
          subs,
          requested,
          data,
          name: typeof p.name === 'string' ? p.name.slice(0, 64) : '',
          version: typeof p.version === 'string' ? p.version.slice(0, 64) : '',
        },
      };
    }
    case 'refresh':
      return { id, method: cmd.method, params: { token: typeof p.token === 'string' ? p.token : null } };
    case 'subscribe': {
      const channel = channelOf(p);
      if (channel === null || channel === '') return protocolError(ErrorCode.BadRequest, CHANNEL_REQUIRED);
      const flag = p.flag === undefined ? 0 : p.flag;
      if (!Number.isSafeInteger(flag) || (flag as number) < 0)
        return protocolError(ErrorCode.BadRequest, 'flag must be a non-negative integer');
      let tagsFilter: FilterNode | null = null;
      if (p.tf !== undefined && p.tf !== null) {
        const tf = parseTagsFilter(p.tf, 'tf');
        if ('code' in tf) return tf;
        tagsFilter = tf;
      }
      if (p.delta !== undefined && typeof p.delta !== 'string') return protocolError(ErrorCode.BadRequest, 'delta must be a string');
      const token = typeof p.token === 'string' && p.token !== '' ? p.token : null;
      const base = { channel, flag: flag as number, tagsFilter, delta: p.delta ?? '', token };
      if (p.recover !== true) return { id, method: 'subscribe', params: { ...base, since: null } };
      const since = parseStreamPosition(p, 'subscribe', { zeroDefaults: true });
      if ('code' in since) return since;
      return { id, method: 'subscribe', params: { ...base, since } };
    }
    case 'unsubscribe':
    case 'presence':
    case 'presence_stats': {
      const channel = channelOf(p);
      if (channel === null) return protocolError(ErrorCode.BadRequest, CHANNEL_REQUIRED);
      return { id, method: cmd.method, params: { channel } };
    }
    case 'publish': {
      const channel = channelOf(p);
      if (channel === null || p.data === undefined) return protocolError(ErrorCode.BadRequest, 'channel and data required');
      // The frame parsers keep `data` as the text that arrived (RawJson): it is carried as is.
      const data = payloadText(p.data);
      if (data === null) return protocolError(ErrorCode.BadRequest, `data nests deeper than ${MAX_JSON_DEPTH} levels`);
      return { id, method: 'publish', params: { channel, data } };
    }
    case 'history': {
      const channel = channelOf(p);
      if (channel === null) return protocolError(ErrorCode.BadRequest, CHANNEL_REQUIRED);
      const limit = p.limit === undefined ? 0 : p.limit;
      if (!Number.isSafeInteger(limit) || (limit as number) < -1) return protocolError(ErrorCode.BadRequest, 'bad limit');
      let since: StreamPosition | undefined;
      if (p.since !== undefined) {
        const s = parseStreamPosition(p.since, 'since', { zeroDefaults: true });
        if ('code' in s) return s;
        since = s;
      }
      return { id, method: 'history', params: { channel, limit: limit as number, since, reverse: p.reverse === true } };
    }
    case 'sub_refresh': {
      // An empty channel is Centrifugo's "bad request" disconnect; the client decides on it.
      const channel = channelOf(p) ?? '';
      return { id, method: 'sub_refresh', params: { channel, token: typeof p.token === 'string' ? p.token : '' } };
    }
    case 'rpc':
    case 'send':
      return { id, method: cmd.method, params: p };
  }
}
