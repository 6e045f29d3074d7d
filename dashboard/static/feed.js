// The page's one WebSocket to the gateway it came from, speaking the Odin protocol (/ws):
// it subscribes to the stats channels and to any channel the inspector tails, and
// re-subscribes after a reconnect. When the gateway refuses anonymous connections (close
// 3500), it asks the admin API for a short connection token (needs a login) and retries.
import { api } from './util.js';

export const STATS_CHANNEL = '_odin.stats';
export const LOADTEST_CHANNEL = '_odin.loadtest';

export class Feed {
  constructor(onStatus) {
    this.onStatus = onStatus;
    this.handlers = new Map(); // channel -> Set<fn(data, envelope)>
    this.errors = new Map(); // channel -> fn(message)
    this.ws = null;
    this.backoff = 500;
    this.needToken = false;
    this.waiting = false;
    this.connect();
  }

  async connect() {
    let url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    if (this.needToken) {
      try {
        const r = await api('ws-token');
        if (r.token) url += '?token=' + encodeURIComponent(r.token);
      } catch (e) {
        // Not logged in (or no way to sign a token): wait for retry() after a login.
        this.onStatus(e.status === 401 ? 'log in for the live feed' : `feed refused: ${e.message}`);
        this.waiting = true;
        return;
      }
    }
    const ws = new WebSocket(url);
    this.ws = ws;
    this.onStatus('connecting');
    ws.onopen = () => {
      this.backoff = 500;
      this.onStatus('live');
      const channels = [...this.handlers.keys()];
      if (channels.length > 0) this.send({ type: 'subscribe', data: { channels } });
    };
    // One Odin message a frame (its payload may hold raw line breaks as whitespace).
    ws.onmessage = (ev) => this.dispatch(String(ev.data));
    ws.onclose = (ev) => {
      // 3500: invalid token, which is also how anonymous connections are refused.
      if (ev.code === 3500) this.needToken = true;
      this.onStatus(ev.code === 1006 ? 'offline' : `closed ${ev.code}`);
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
  }

  /** Tries again at once if the feed was waiting for a login. */
  retry() {
    if (!this.waiting) return;
    this.waiting = false;
    this.connect();
  }

  dispatch(text) {
    const m = JSON.parse(text);
    if (m.type === 'subscription_ack' && Array.isArray(m.errors)) {
      for (const e of m.errors) this.errors.get(e.channel)?.(`${e.code}: ${e.message}`);
      return;
    }
    if (typeof m.channel !== 'string' || m.data === undefined) return;
    // The payload as published: the push ends with `,"data":<text>}` (the first `,"data":`
    // outside a string: earlier strings escape their quotes), so big integers and number
    // formatting show as sent, not as JavaScript re-serializes them.
    m.dataText = text.slice(text.indexOf(',"data":') + 8, text.lastIndexOf('}'));
    const set = this.handlers.get(m.channel);
    if (set) for (const fn of set) fn(m.data, m);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Calls `fn(data, envelope)` for each publication of `channel`; returns the unsubscribe function. */
  subscribe(channel, fn, onError) {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      this.send({ type: 'subscribe', data: { channels: [channel] } });
    }
    set.add(fn);
    if (onError) this.errors.set(channel, onError);
    return () => {
      set.delete(fn);
      if (set.size === 0) {
        this.handlers.delete(channel);
        this.errors.delete(channel);
        this.send({ type: 'unsubscribe', data: { channels: [channel] } });
      }
    };
  }
}
