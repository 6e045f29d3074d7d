/**
 * Server API commands aimed at a user's connections, wherever they are connected: the control
 * messages nodes exchange through a broker that is a `ControlPublisher` (core/broker.ts), and
 * how one node applies them to its own connections.
 *
 * A message is JSON `{"v":1,"from":<node id>,"cmd":{...}}`. A node applies what it receives
 * from other nodes and skips its own (it applied it before publishing). Decoding checks every
 * field: a malformed message (another version, a foreign writer) is dropped, never applied in
 * part.
 */
import type { StreamPosition } from './broker.js';
import type { DisconnectReason } from '../protocol/codes.js';

export const CONTROL_VERSION = 1;

/** One command; `client` limits it to that connection of the user. */
export type UserCommand =
  | {
      readonly op: 'subscribe';
      readonly user: string;
      readonly channel: string;
      readonly client?: string;
      /** JSON text for the subscribe push. */
      readonly data?: string;
      readonly since?: StreamPosition;
    }
  | { readonly op: 'unsubscribe'; readonly user: string; readonly channel: string; readonly client?: string }
  | {
      readonly op: 'disconnect';
      readonly user: string;
      readonly client?: string;
      readonly reason: DisconnectReason;
      /** Client ids left connected. */
      readonly whitelist: readonly string[];
    }
  | {
      readonly op: 'refresh';
      readonly user: string;
      readonly client?: string;
      readonly expired: boolean;
      /** New expiry, seconds since the Unix epoch. */
      readonly expireAt?: number;
    };

export function encodeControl(from: string, cmd: UserCommand): string {
  return JSON.stringify({ v: CONTROL_VERSION, from, cmd });
}

export interface ControlMessage {
  readonly from: string;
  readonly cmd: UserCommand;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const optStr = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** The message, or null when it is not one this version understands. */
export function decodeControl(text: string): ControlMessage | null {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(m) || m['v'] !== CONTROL_VERSION || !isStr(m['from']) || !isObj(m['cmd'])) return null;
  const c = m['cmd'];
  if (!isStr(c['user']) || !optStr(c['client'])) return null;
  const base = { user: c['user'], ...(isStr(c['client']) ? { client: c['client'] } : {}) };
  switch (c['op']) {
    case 'subscribe': {
      if (!isStr(c['channel']) || !optStr(c['data'])) return null;
      const since = c['since'];
      if (since !== undefined && !(isObj(since) && Number.isSafeInteger(since['offset']) && isStr(since['epoch']))) return null;
      return {
        from: m['from'],
        cmd: {
          op: 'subscribe',
          ...base,
          channel: c['channel'],
          ...(isStr(c['data']) ? { data: c['data'] } : {}),
          ...(isObj(since) ? { since: { offset: since['offset'] as number, epoch: since['epoch'] as string } } : {}),
        },
      };
    }
    case 'unsubscribe':
      if (!isStr(c['channel'])) return null;
      return { from: m['from'], cmd: { op: 'unsubscribe', ...base, channel: c['channel'] } };
    case 'disconnect': {
      const r = c['reason'];
      const wl = c['whitelist'];
      if (!isObj(r) || !Number.isInteger(r['code']) || !isStr(r['reason'])) return null;
      if (!Array.isArray(wl) || !wl.every(isStr)) return null;
      return {
        from: m['from'],
        cmd: { op: 'disconnect', ...base, reason: { code: r['code'] as number, reason: r['reason'] }, whitelist: wl },
      };
    }
    case 'refresh': {
      if (typeof c['expired'] !== 'boolean') return null;
      const at = c['expireAt'];
      if (at !== undefined && !Number.isSafeInteger(at)) return null;
      return {
        from: m['from'],
        cmd: { op: 'refresh', ...base, expired: c['expired'], ...(at !== undefined ? { expireAt: at as number } : {}) },
      };
    }
    default:
      return null;
  }
}
