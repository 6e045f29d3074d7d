// The live view: one row per gateway process/node from the stats channel, their sum in the
// tiles and charts, updated as rows arrive (about once a second per process).
import { RollingChart } from './charts.js';
import { validStatsRow } from './stats-row.js';
import { $, fmtBytes, fmtDuration, fmtMs, fmtNum, row, setText } from './util.js';

/** A process whose row is older than this is shown as stale and left out of the sums, ms. */
const STALE_MS = 5000;

const sum = (rows, f) => rows.reduce((a, r) => a + f(r), 0);
const max = (rows, f) => rows.reduce((a, r) => Math.max(a, f(r)), 0);

export class LiveView {
  constructor() {
    this.nodes = new Map();
    /** Rows dropped as malformed (shown in the "bad rows" tile). */
    this.dropped = 0;
    this.charts = {
      connections: new RollingChart($('c-connections'), 'Connections and subscriptions', ['connections', 'subscriptions'], fmtNum),
      throughput: new RollingChart($('c-throughput'), 'Publications and deliveries per second', ['publications/s', 'deliveries/s'], fmtNum),
      latency: new RollingChart($('c-latency'), 'Delivery latency (publish → fan-out), ms', ['p50', 'p90', 'p99'], (v) => v + ''),
      loop: new RollingChart($('c-loop'), 'Event-loop lag, ms (worst process)', ['p99', 'max'], (v) => v + ''),
      memory: new RollingChart($('c-memory'), 'Memory, MiB (all processes)', ['rss', 'heap used'], (v) => v.toFixed(0)),
    };
  }

  onRow(r) {
    if (!validStatsRow(r)) {
      this.dropped++;
      setText('t-dropped', fmtNum(this.dropped));
      return;
    }
    this.nodes.set(r.node, { row: r, seen: Date.now() });
    const now = Date.now();
    for (const [k, n] of this.nodes) if (now - n.seen > 10 * STALE_MS) this.nodes.delete(k);
    const rows = [...this.nodes.values()].filter((n) => now - n.seen <= STALE_MS).map((n) => n.row);
    this.render(rows, r.ts / 1000);
  }

  render(rows, t) {
    const conns = sum(rows, (r) => r.connections.total);
    const subs = sum(rows, (r) => r.subscriptions);
    const pubs = sum(rows, (r) => r.rates.publications);
    const deliv = sum(rows, (r) => r.rates.deliveries);
    // Percentiles do not add up across processes: the worst process's is shown.
    const p = (k) => max(rows, (r) => r.latencyMs[k]);
    const rejected = sum(rows, (r) => Object.values(r.rejected).reduce((a, b) => a + b, 0));
    const rss = sum(rows, (r) => r.memory.rss);
    setText('t-connections', fmtNum(conns));
    setText('t-subscriptions', fmtNum(subs));
    setText('t-publications', fmtNum(pubs));
    setText('t-deliveries', fmtNum(deliv));
    setText('t-p99', fmtMs(p('p99')));
    setText('t-slow', fmtNum(sum(rows, (r) => r.slowDisconnects)));
    setText('t-rejected', fmtNum(rejected));
    setText('t-loop', fmtMs(max(rows, (r) => r.loop.p99)));
    setText('t-rss', fmtBytes(rss));
    this.charts.connections.push(t, [conns, subs]);
    this.charts.throughput.push(t, [pubs, deliv]);
    this.charts.latency.push(t, [p('p50'), p('p90'), p('p99')]);
    this.charts.loop.push(t, [max(rows, (r) => r.loop.p99), max(rows, (r) => r.loop.max)]);
    this.charts.memory.push(t, [rss / 1048576, sum(rows, (r) => r.memory.heapUsed) / 1048576]);
    this.renderTable();
  }

  renderTable() {
    const body = $('nodes').tBodies[0];
    const now = Date.now();
    const trs = [...this.nodes.values()]
      .sort((a, b) => (a.row.host + a.row.pid).localeCompare(b.row.host + b.row.pid))
      .map(({ row: r, seen }) => {
        const health = Object.entries(r.health)
          // An ingest that does not hold the feed's lease is a standby (another gateway reads).
          .map(
            ([k, h]) =>
              `${k} ${!h.ok ? 'DOWN' : h.reading === false ? 'standby' : 'ok'}${typeof h.lagMs === 'number' && h.reading !== false ? ` (lag ${h.lagMs} ms)` : ''}`,
          )
          .join(', ');
        const refused = Object.entries(r.rejected)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ');
        const tr = row([
          r.node,
          `${r.host} / ${r.pid}`,
          fmtDuration(r.uptime),
          r.draining ? 'draining' : r.ready ? 'yes' : 'NO',
          fmtNum(r.connections.total),
          fmtNum(r.subscriptions),
          fmtNum(r.channels),
          fmtNum(r.rates.publications),
          fmtNum(r.rates.deliveries),
          `${r.latencyMs.p50} / ${r.latencyMs.p99}`,
          r.loop.p99,
          fmtBytes(r.memory.rss),
          health,
          r.slowDisconnects,
          refused || '0',
        ]);
        if (now - seen > STALE_MS) tr.className = 'stale';
        if (!r.ready || Object.values(r.health).some((h) => !h.ok)) tr.classList.add('bad');
        return tr;
      });
    body.replaceChildren(...trs);
  }
}
