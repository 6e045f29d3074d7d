// The admin console: login, channels table, channel inspector with live tail, publish,
// client look-up and disconnect, and the publisher's controls. Every change carries the
// session's CSRF token (util.api); the session itself is an HttpOnly cookie.
import { $, api, ApiError, row, setCsrf, setText } from './util.js';

/** How often the channels table refreshes while the console is open, ms. */
const CHANNELS_REFRESH_MS = 2000;
/** Tail lines kept. */
const TAIL_MAX = 200;

export class ConsoleView {
  constructor(feed) {
    this.feed = feed;
    this.visible = false;
    this.loggedIn = false;
    this.timer = null;
    this.untail = null;
    this.bind();
  }

  bind() {
    $('login').addEventListener('submit', (e) => {
      e.preventDefault();
      this.login($('login-password').value);
    });
    $('logout').addEventListener('click', () => this.act(() => api('logout', {}).then(() => this.refreshSession())));
    $('inspect').addEventListener('submit', (e) => {
      e.preventDefault();
      this.act(() => this.inspect());
    });
    $('tail-toggle').addEventListener('click', () => this.toggleTail());
    $('publish').addEventListener('submit', (e) => {
      e.preventDefault();
      this.act(() => this.publish());
    });
    $('lookup').addEventListener('submit', (e) => {
      e.preventDefault();
      this.act(() => this.lookup());
    });
    $('publisher').addEventListener('submit', (e) => {
      e.preventDefault();
      this.act(() => this.publisher(e.submitter?.dataset.action ?? 'configure'));
    });
  }

  /** Runs an admin action, showing its error (and the login form again when the session ended). */
  async act(fn) {
    setText('admin-error', '');
    try {
      await fn();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.refreshSession();
      setText('admin-error', e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    }
  }

  show(visible) {
    this.visible = visible;
    if (visible) this.refreshSession();
    else this.stopTimer();
  }

  async refreshSession() {
    const s = await api('session');
    setCsrf(s.csrf);
    this.loggedIn = s.loggedIn;
    $('admin-off').hidden = s.admin;
    $('login').hidden = !s.admin || s.loggedIn;
    $('admin').hidden = !s.loggedIn;
    $('publisher-off').hidden = s.publisher;
    $('publisher-on').hidden = !s.publisher;
    if (s.loggedIn && this.visible) {
      this.startTimer();
      if (s.publisher) this.act(() => this.publisherStatus());
    } else this.stopTimer();
  }

  async login(password) {
    setText('login-error', '');
    try {
      const r = await api('login', { password });
      setCsrf(r.csrf);
      $('login-password').value = '';
      this.feed.retry();
      await this.refreshSession();
    } catch (e) {
      setText('login-error', e instanceof ApiError ? e.message : String(e));
    }
  }

  startTimer() {
    if (this.timer) return;
    const tick = () => this.act(() => this.channels());
    tick();
    this.timer = setInterval(tick, CHANNELS_REFRESH_MS);
  }

  stopTimer() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async channels() {
    const r = await api('channels');
    setText('channels-note', `${r.total} on node ${r.node}${r.total > r.channels.length ? `, busiest ${r.channels.length} shown` : ''}`);
    const trs = r.channels.map((c) => {
      const name = document.createElement('a');
      name.href = '#console';
      name.textContent = c.channel;
      name.addEventListener('click', (e) => {
        e.preventDefault();
        $('inspect-channel').value = c.channel;
        this.act(() => this.inspect());
      });
      const pos = c.offset === null ? '–' : `${c.offset} @ ${c.epoch}`;
      return row([name, c.subscribers, c.publicationsPerSecond, c.historySize, pos]);
    });
    $('channels').tBodies[0].replaceChildren(...trs);
  }

  async inspect() {
    const q = new URLSearchParams({ channel: $('inspect-channel').value.trim(), limit: $('inspect-limit').value || '20' });
    if ($('inspect-since-offset').value !== '') q.set('since_offset', $('inspect-since-offset').value);
    if ($('inspect-since-epoch').value !== '') q.set('since_epoch', $('inspect-since-epoch').value.trim());
    const r = await api('channel?' + q);
    setText(
      'inspect-summary',
      `${r.channel} (namespace ${r.namespace}): ${r.subscribers} subscribers here, position ${r.position.offset} @ ${r.position.epoch}, history up to ${r.historySize}` +
        (r.historyError ? ` — ${r.historyError}` : ''),
    );
    const present = Object.values(r.presence ?? {});
    const users = [...new Set(present.map((p) => p.user).filter(Boolean))];
    setText(
      'inspect-presence',
      r.presenceError
        ? `presence: ${r.presenceError}`
        : `presence: ${present.length} client(s), ${users.length} user(s)${users.length ? ': ' + users.slice(0, 20).join(', ') : ''}`,
    );
    const items = (r.history ?? []).map((p) => {
      const li = document.createElement('li');
      li.textContent = `#${p.offset} ${new Date(p.time).toISOString().slice(11, 23)} ${p.dataText ?? JSON.stringify(p.data)}`;
      return li;
    });
    $('inspect-history').replaceChildren(...items);
  }

  toggleTail() {
    const list = $('tail');
    if (this.untail) {
      this.untail();
      this.untail = null;
      $('tail-toggle').textContent = 'Live tail';
      return;
    }
    const channel = $('inspect-channel').value.trim();
    if (!channel) return;
    list.replaceChildren();
    this.untail = this.feed.subscribe(
      channel,
      (data, m) => {
        const li = document.createElement('li');
        li.textContent = `#${m.offset} ${m.dataText ?? JSON.stringify(data)}`;
        list.prepend(li);
        while (list.childElementCount > TAIL_MAX) list.lastElementChild.remove();
      },
      (err) => setText('admin-error', `live tail of ${channel}: ${err}`),
    );
    $('tail-toggle').textContent = `Stop tail (${channel})`;
  }

  async publish() {
    let data;
    try {
      data = JSON.parse($('publish-data').value);
    } catch {
      setText('publish-result', 'data is not valid JSON');
      return;
    }
    const r = await api('publish', { channel: $('publish-channel').value.trim(), data });
    setText('publish-result', `published at offset ${r.offset} (epoch ${r.epoch})`);
  }

  async lookup() {
    const q = new URLSearchParams();
    if ($('lookup-user').value.trim()) q.set('user', $('lookup-user').value.trim());
    if ($('lookup-client').value.trim()) q.set('client', $('lookup-client').value.trim());
    const r = await api('clients?' + q);
    const trs = r.clients.map((c) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Disconnect';
      b.dataset.client = c.client;
      b.addEventListener('click', () =>
        this.act(async () => {
          const d = await api('disconnect', { client: c.client, ...(c.user ? { user: c.user } : {}) });
          setText('lookup-result', `disconnected ${d.disconnected} connection(s)`);
          b.disabled = true;
        }),
      );
      return row([c.client, c.user || '(anonymous)', c.ip, c.protocol, c.channels.join(' '), b]);
    });
    $('clients').tBodies[0].replaceChildren(...trs);
    setText('lookup-result', `${r.clients.length} connection(s) on this node`);
  }

  async publisherStatus() {
    const s = await api('publisher');
    const st = s.stats ?? {};
    setText(
      'publisher-status',
      `${s.isPublishing ? 'publishing' : 'stopped'} · profile ${s.profile} · ${Math.round(st.currentRate ?? 0)}/s now, target ${st.targetRate ?? '–'}/s · ` +
        `${st.messagesPublished ?? 0} published, ${st.errors ?? 0} errors, ${st.dropped ?? 0} dropped`,
    );
  }

  async publisher(action) {
    const body = { action };
    if (action !== 'stop') {
      body.profile = $('publisher-profile').value;
      body.messagesPerSecond = Number($('publisher-rate').value);
      if ($('publisher-duration').value !== '') body.duration = Number($('publisher-duration').value);
      if ($('publisher-ramp').value !== '') body.rampSeconds = Number($('publisher-ramp').value);
    }
    try {
      const r = await api('publisher', body);
      setText('publisher-result', r.message ?? 'ok');
    } catch (e) {
      // The publisher's own refusals ({success:false, message}) arrive as 4xx without our shape.
      setText('publisher-result', e.message);
    }
    await this.publisherStatus();
  }
}
