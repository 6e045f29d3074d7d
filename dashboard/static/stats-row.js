// Checks a row of the stats channel before the live view uses it. The channel is published by
// every gateway process, but a row is data from the network: one that is not a well-formed v1
// row (a bad publisher, a field of the wrong type) is dropped and counted, never rendered —
// a single bad row used to throw in every render and freeze the page until it went stale.
// Pure (no DOM), so node tests import it as it is served (test/dashboard/stats-row.test.ts).

/** Longest node id, host name and health entry name a row may carry, characters. */
const MAX_NAME = 256;
/** Most health entries and refusal reasons a row may carry. */
const MAX_ENTRIES = 64;

const num = (v) => typeof v === 'number' && Number.isFinite(v);
const obj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const name = (v) => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;
const nums = (o, keys) => obj(o) && keys.every((k) => num(o[k]));
const entries = (o, ok) => {
  if (!obj(o)) return false;
  const e = Object.entries(o);
  return e.length <= MAX_ENTRIES && e.every(([k, v]) => k.length <= MAX_NAME && ok(v));
};
const health = (h) =>
  obj(h) &&
  typeof h.ok === 'boolean' &&
  (h.lagMs === undefined || num(h.lagMs)) &&
  (h.reading === undefined || typeof h.reading === 'boolean');

/** Whether `r` is a stats row the live view can show (docs/dashboard.md, "Stats channel"). */
export function validStatsRow(r) {
  return (
    obj(r) &&
    r.v === 1 &&
    name(r.node) &&
    num(r.pid) &&
    typeof r.host === 'string' &&
    r.host.length <= MAX_NAME &&
    num(r.ts) &&
    num(r.uptime) &&
    typeof r.ready === 'boolean' &&
    typeof r.draining === 'boolean' &&
    nums(r.connections, ['odin', 'centrifuge', 'total']) &&
    num(r.subscriptions) &&
    num(r.channels) &&
    nums(r.rates, ['publications', 'deliveries', 'messagesIn', 'bytesOut', 'connects']) &&
    nums(r.latencyMs, ['p50', 'p90', 'p99']) &&
    num(r.slowDisconnects) &&
    entries(r.rejected, num) &&
    nums(r.loop, ['p50', 'p99', 'max', 'utilization']) &&
    nums(r.memory, ['rss', 'heapUsed', 'heapTotal']) &&
    entries(r.health, health)
  );
}
