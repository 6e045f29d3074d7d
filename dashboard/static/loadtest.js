// The load-test view: progress rows that `odin-ws loadtest --report-to` publishes to the
// loadtest channel, shown live (and its summary when the run ends).
import { RollingChart } from './charts.js';
import { $, fmtMs, fmtNum, setText } from './util.js';

export class LoadtestView {
  constructor() {
    this.run = null;
    this.rate = new RollingChart($('c-lt-rate'), 'Load test: messages received per second', ['msgs/s'], fmtNum);
    this.latency = new RollingChart($('c-lt-latency'), 'Load test: delivery latency, ms', ['p50', 'p99'], (v) => v + '');
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
