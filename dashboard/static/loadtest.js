// The load-test view: progress rows that `odin-ws loadtest --report-to` publishes to the
// loadtest channel, shown live (and its summary when the run ends); a logged-in admin also gets
// a form that starts and stops a bounded run on this gateway (POST /dashboard/api/loadtest).
import { RollingChart } from './charts.js';
import { $, api, ApiError, fmtMs, fmtNum, setCsrf, setText } from './util.js';

export class LoadtestView {
  constructor() {
    this.run = null;
    this.rate = new RollingChart($('c-lt-rate'), 'Load test: messages received per second', ['msgs/s'], fmtNum);
    this.latency = new RollingChart($('c-lt-latency'), 'Load test: delivery latency, ms', ['p50', 'p99'], (v) => v + '');
    $('lt-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.control(e.submitter?.dataset.action ?? 'start');
    });
  }

  /** On showing the tab: the form only for a logged-in admin of a gateway that can run one. */
  async show(visible) {
    if (!visible) return;
    try {
      const s = await api('session');
      setCsrf(s.csrf);
      $('lt-form').hidden = !(s.loggedIn && s.loadtest);
    } catch {
      $('lt-form').hidden = true;
    }
  }

  async control(action) {
    setText('lt-control-result', action === 'stop' ? 'stopping…' : 'starting…');
    try {
      if (action === 'stop') {
        const r = await api('loadtest/stop', {});
        setText('lt-control-result', r.stopped ? 'stopped' : 'no run to stop');
        return;
      }
      const body = {
        connections: Number($('lt-in-connections').value),
        durationSeconds: Number($('lt-in-duration').value),
      };
      if ($('lt-in-rate').value !== '') body.rate = Number($('lt-in-rate').value);
      const r = await api('loadtest', body);
      setText('lt-control-result', `started (pid ${r.pid}): ${r.connections} connections, ${r.durationSeconds} s, ${r.rate}/s`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) $('lt-form').hidden = true;
      setText('lt-control-result', e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    }
  }

  onProgress(p) {
    if (!p || p.v !== 1) return;
    if (p.run !== this.run) {
      this.run = p.run;
      this.rate.clear();
      this.latency.clear();
      setText('lt-summary', '');
    }
    $('lt-none').hidden = true;
    $('lt-run').hidden = false;
    setText('lt-state', p.state);
    setText('lt-elapsed', `${Math.round(p.elapsed)} s`);
    setText('lt-conns', `${fmtNum(p.subscribed)} / ${fmtNum(p.target)}`);
    setText('lt-rate', fmtNum(p.rate));
    setText('lt-p', `${fmtMs(p.p50)} / ${fmtMs(p.p99)}`);
    setText('lt-gaps', `${fmtNum(p.missing)} / ${fmtNum(p.gaps)}`);
    setText('lt-disc', fmtNum(p.disconnects));
    this.rate.push(p.ts / 1000, [p.rate]);
    this.latency.push(p.ts / 1000, [p.p50, p.p99]);
    if (p.summary) setText('lt-summary', p.summary);
  }
}
