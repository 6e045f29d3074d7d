/**
 * `odin-ws loadtest`'s options: the presets, the flags with their help and defaults, and
 * `parseLoadtestArgs` (argv and environment → one options object; a bad flag is a UsageError
 * naming it, exit code 2).
 */
import { defaultWorkers } from '../../lib/loadtest/runner.js';
import { PROFILES, type ProfileName } from '../../lib/loadtest/publisher.js';
import { parseThresholds, ThresholdError, type Threshold } from '../../lib/loadtest/thresholds.js';
import type { LoadProtocol } from '../../lib/loadtest/protocols.js';
import { parseFlags, toList, toNumber, UsageError } from '../../lib/runtime/flags.js';

export interface Preset {
  readonly connections: number;
  /** Seconds measured after all are connected; 0 = until stopped (Ctrl-C, SIGTERM, `task local:test:stop`). */
  readonly durationSeconds: number;
  /** Publications per second when this tool publishes. */
  readonly rate: number;
  /** The publisher's profile for the run. */
  readonly profile: ProfileName;
}

export type PresetName = 'light' | 'medium' | 'heavy' | 'sustained' | 'burst' | 'ramp';

/**
 * The runs the original plans define: light/medium/heavy by size (100 connections 30 s, 500 60 s,
 * 2,000 120 s); sustained 1,000 events/s until stopped, burst 2,000/s for 5 minutes, ramp from
 * 100/s up to 2,000/s (over the publisher's 60 s, then held) until stopped — 500 connections each.
 * One table: the help, the Taskfile and docs/development/taskfile.md all read these.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  light: { connections: 100, durationSeconds: 30, rate: 20, profile: 'sustained' },
  medium: { connections: 500, durationSeconds: 60, rate: 50, profile: 'sustained' },
  heavy: { connections: 2000, durationSeconds: 120, rate: 100, profile: 'sustained' },
  sustained: { connections: 500, durationSeconds: 0, rate: 1000, profile: 'sustained' },
  burst: { connections: 500, durationSeconds: 300, rate: 2000, profile: 'burst' },
  ramp: { connections: 500, durationSeconds: 0, rate: 2000, profile: 'ramp' },
};
const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/**
 * Connections that may fail to open before a run exits 1, as a fraction of those attempted,
 * unless --assert names its own `failed` limit: a run against a gateway that is not there fails.
 */
export const DEFAULT_MAX_FAILED = 0.01;

function presetLine(name: PresetName): string {
  const p = PRESETS[name];
  const d = p.durationSeconds === 0 ? 'until stopped' : `${p.durationSeconds} s`;
  return `  ${name.padEnd(10)} ${p.connections.toLocaleString('en-US')} connections, ${d}, ${p.rate.toLocaleString('en-US')} events/s ${p.profile}`;
}

/**
 * Channels the simulated feed publishes on for its default tokens: trades on `{SYM}.trade`, price
 * and holder updates on `{SYM}.analytics` (src/lib/protocol/events.ts maps event types to channels).
 */
export const DEFAULT_CHANNELS = ['BTC', 'ETH', 'ODIN', 'SOL', 'DOGE'].flatMap((s) => [`${s}.trade`, `${s}.analytics`]);
export const DEFAULT_CONNECT_RATE = 500;
/** Connections per 127.0.0.x source address (one address has about 28k ephemeral ports). */
export const DEFAULT_PER_ADDRESS = 20_000;

export const LOADTEST_HELP = `Usage: odin-ws loadtest [${PRESET_NAMES.join('|')}] [options]

Opens N WebSocket subscribers against a running gateway (or another server), measures what
they receive, and prints a live progress line and a summary. Worker processes do the work so
the client is not the bottleneck; it warns loudly when it was. A run where more than
${DEFAULT_MAX_FAILED * 100}% of the connections fail to open exits 1 (--assert failed<=N% sets another limit).

Presets (flags override each value; the rate applies with --publisher-url or --api-key):
${PRESET_NAMES.map(presetLine).join('\n')}

Options:
  --url URL              ws://host:port of the server             ws://127.0.0.1:3002
  --protocol P           odin | centrifuge | nats                  odin
  --connections N        subscribers                               100 (or the preset's)
  --duration S           seconds measured after all are connected; 0 = until Ctrl-C/SIGTERM  30 (or the preset's)
  --channels LIST        channel mix, comma-separated              BTC/ETH/ODIN/SOL/DOGE .trade,.analytics
  --channels-per-conn K  channels each connection subscribes to    1
  --connect-rate R       new connections per second                ${DEFAULT_CONNECT_RATE}
  --rate R               publications per second (needs --api-key or --publisher-url)
  --profile P            sustained | burst | ramp                  sustained (or the preset's)
  --api-key KEY          publish through the server API (/api/publish, /api/batch) itself (env LOADTEST_API_KEY)
  --api-url URL          server API base                           http(s) form of --url
  --publisher-url URL    drive the publisher service's control API instead (POST /control)
  --publisher-key KEY    the control API's key (env PUBLISHER_CONTROL_KEY), when it has one
  --workers N            load worker processes                     one per CPU, up to connections/5000+1
  --track-every N        parse offsets and latency on every Nth connection (others only count)  1
  --per-address N        connections per 127.0.0.x source address  ${DEFAULT_PER_ADDRESS}
  --no-reconnect         do not reconnect after an unexpected close
  --connect-retries N    retry a failed open N times (failures are then counted once)  0
  --drop-rate R          chaos: drop R random connections per second (TCP cut); each reconnects and recovers  0
  --seed N               seed of the random drops and reconnect jitter (the result shows the one used)  random
  --report-to URL        publish progress to this gateway's dashboard (http://host:port; needs --report-key or --api-key)
  --report-key KEY       server API key for --report-to             --api-key's
  --assert LIST          thresholds, e.g. "p99<50ms,loss=0,failed<=1%"; exit 1 if one is missed
  --pid-file PATH        write this process's pid there while it runs (what \`task local:test:stop\` signals)
  --json                 print the result as JSON (no progress line)
  --quiet                no progress line
  -h, --help
`;

const FLAGS = {
  url: { type: 'string' },
  protocol: { type: 'string' },
  connections: { type: 'string' },
  duration: { type: 'string' },
  channels: { type: 'string' },
  'channels-per-conn': { type: 'string' },
  'connect-rate': { type: 'string' },
  rate: { type: 'string' },
  profile: { type: 'string' },
  'api-key': { type: 'string' },
  'api-url': { type: 'string' },
  'publisher-url': { type: 'string' },
  'publisher-key': { type: 'string' },
  'pid-file': { type: 'string' },
  workers: { type: 'string' },
  'track-every': { type: 'string' },
  'per-address': { type: 'string' },
  'no-reconnect': { type: 'boolean' },
  'connect-retries': { type: 'string' },
  'drop-rate': { type: 'string' },
  seed: { type: 'string' },
  assert: { type: 'string' },
  'report-to': { type: 'string' },
  'report-key': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LoadtestOptions {
  readonly url: URL;
  readonly protocol: LoadProtocol;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly channels: readonly string[];
  readonly channelsPerConnection: number;
  readonly connectRate: number;
  readonly rate: number;
  readonly profile: ProfileName;
  readonly apiKey: string | null;
  readonly apiUrl: string;
  readonly publisherUrl: string | null;
  readonly publisherKey: string | null;
  readonly pidFile: string | null;
  readonly workers: number;
  readonly trackEvery: number;
  readonly perAddress: number;
  readonly reconnect: boolean;
  readonly connectRetries: number;
  readonly dropPerSecond: number;
  /** Seed of the random draws; null: a random one (reported in the result). */
  readonly seed: number | null;
  readonly thresholds: readonly Threshold[];
  /** Gateway whose dashboard shows the run live, and the API key to publish there. */
  readonly reportTo: { readonly url: string; readonly apiKey: string } | null;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly help: boolean;
}

const num = (name: string, v: string | undefined, dflt: number, min: number): number => toNumber(`--${name}`, v, { min }, dflt);

/** Parses argv into options; throws UsageError naming the bad flag. */
export function parseLoadtestArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): LoadtestOptions {
  const parsed = parseFlags(argv, FLAGS, { positionals: true });
  const f = parsed.values;
  const presetName = parsed.positionals[0];
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected arguments: ${parsed.positionals.slice(1).join(' ')}`);
  let preset: Preset = { connections: 100, durationSeconds: 30, rate: 0, profile: 'sustained' };
  if (presetName !== undefined) {
    if (!(PRESET_NAMES as string[]).includes(presetName))
      throw new UsageError(`unknown preset "${presetName}" (${PRESET_NAMES.join(', ')})`);
    preset = PRESETS[presetName as PresetName];
  }
  let url: URL;
  try {
    url = new URL(f.url ?? 'ws://127.0.0.1:3002');
  } catch {
    throw new UsageError(`--url: not a URL (got ${JSON.stringify(f.url)})`);
  }
  if (url.protocol !== 'ws:') throw new UsageError('--url: only ws:// is supported (load stays on local or trusted networks)');
  const protocol = (f.protocol ?? 'odin') as LoadProtocol;
  if (protocol !== 'odin' && protocol !== 'centrifuge' && protocol !== 'nats')
    throw new UsageError(`--protocol: odin, centrifuge or nats (got ${JSON.stringify(f.protocol)})`);
  const profile = (f.profile ?? preset.profile) as ProfileName;
  if (!PROFILES.includes(profile)) throw new UsageError(`--profile: ${PROFILES.join(', ')} (got ${JSON.stringify(f.profile)})`);
  const connections = Math.floor(num('connections', f.connections, preset.connections, 1));
  const channels = f.channels !== undefined ? toList(f.channels) : DEFAULT_CHANNELS;
  if (channels.length === 0) throw new UsageError('--channels: give at least one channel');
  // The key may come from the environment (a flag shows in `ps`): the console starts runs that way.
  const apiKey = f['api-key'] ?? (env.LOADTEST_API_KEY || null);
  const publisherUrl = f['publisher-url'] ?? null;
  const rate = num('rate', f.rate, apiKey !== null || publisherUrl !== null ? preset.rate || 10 : 0, 0);
  if (f.rate !== undefined && apiKey === null && publisherUrl === null)
    throw new UsageError(
      '--rate: needs --api-key or LOADTEST_API_KEY (publish via the server API) or --publisher-url (drive the publisher)',
    );
  const durationSeconds = num('duration', f.duration, preset.durationSeconds, 0);
  if (durationSeconds === 0 && profile === 'ramp' && apiKey !== null && rate > 0)
    throw new UsageError(
      '--profile ramp with --api-key needs --duration (the ramp runs over it); with --publisher-url the publisher ramps over 60 s',
    );
  let thresholds: Threshold[];
  try {
    thresholds = f.assert !== undefined ? parseThresholds(f.assert) : [];
  } catch (e) {
    if (e instanceof ThresholdError) throw new UsageError(e.message);
    throw e;
  }
  let reportTo: LoadtestOptions['reportTo'] = null;
  if (f['report-to'] !== undefined) {
    let u: URL;
    try {
      u = new URL(f['report-to']);
    } catch {
      throw new UsageError(`--report-to: not a URL (got ${JSON.stringify(f['report-to'])})`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--report-to: expected http://host:port of a gateway');
    const key = f['report-key'] ?? apiKey;
    if (key === null) throw new UsageError('--report-to: needs --report-key (or --api-key): progress is published through the server API');
    reportTo = { url: u.origin, apiKey: key };
  } else if (f['report-key'] !== undefined) throw new UsageError('--report-key: only with --report-to');
  return {
    url,
    protocol,
    connections,
    durationSeconds,
    channels,
    channelsPerConnection: Math.floor(num('channels-per-conn', f['channels-per-conn'], 1, 1)),
    connectRate: num('connect-rate', f['connect-rate'], DEFAULT_CONNECT_RATE, 1),
    rate,
    profile,
    apiKey,
    apiUrl: f['api-url'] ?? `http://${url.host}`,
    publisherUrl,
    publisherKey: f['publisher-key'] || env.PUBLISHER_CONTROL_KEY || null,
    pidFile: f['pid-file'] ?? null,
    workers: Math.floor(num('workers', f.workers, defaultWorkers(connections), 1)),
    trackEvery: Math.floor(num('track-every', f['track-every'], 1, 1)),
    perAddress: Math.floor(num('per-address', f['per-address'], DEFAULT_PER_ADDRESS, 1)),
    reconnect: f['no-reconnect'] !== true,
    connectRetries: Math.floor(num('connect-retries', f['connect-retries'], 0, 0)),
    dropPerSecond: num('drop-rate', f['drop-rate'], 0, 0),
    seed: f.seed === undefined ? null : Math.floor(num('seed', f.seed, 0, 0)),
    thresholds,
    reportTo,
    json: f.json === true,
    quiet: f.quiet === true || f.json === true,
    help: f.help === true,
  };
}
