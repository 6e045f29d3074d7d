/**
 * `odin-ws tail CHANNEL...`: subscribes to channels over the Odin protocol and prints every frame
 * the gateway sends, one JSON line each (what `wscat` was used for, without another dependency).
 */
import WebSocket from 'ws';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../lib/runtime/exit-codes.js';
import { parseFlags, toNumber } from '../../lib/runtime/flags.js';
import { WS_PATH } from '../../lib/protocol/addresses.js';

const DEFAULT_URL = `ws://127.0.0.1:3002${WS_PATH.odin}`;

export const TAIL_HELP = `Usage: odin-ws tail CHANNEL... [options]

Subscribes to the channels (e.g. BTC.trade ETH.analytics) and prints each frame received.

Options:
  --url URL       Odin WebSocket endpoint          ${DEFAULT_URL}
  --count N       exit after N publications        (until Ctrl-C)
  --timeout S     exit 1 when nothing arrives for S seconds   (no limit)
  -h, --help
`;

const FLAGS = {
  url: { type: 'string' },
  count: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function tailCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  let count: number;
  let timeoutS: number;
  try {
    parsed = parseFlags(argv, FLAGS, { positionals: true });
    count = toNumber('--count', parsed.values.count, { min: 1 }, Infinity);
    timeoutS = toNumber('--timeout', parsed.values.timeout, { min: 0 }, 0);
  } catch (e) {
    process.stderr.write(`odin-ws tail: ${(e as Error).message}\n(see odin-ws tail --help)\n`);
    return EXIT_USAGE;
  }
  const f = parsed.values;
  if (f.help) {
    process.stdout.write(TAIL_HELP);
    return EXIT_OK;
  }
  const channels = parsed.positionals;
  if (channels.length === 0) {
    process.stderr.write('odin-ws tail: give at least one channel; --count > 0, --timeout ≥ 0\n(see odin-ws tail --help)\n');
    return EXIT_USAGE;
  }
  const url = f.url ?? DEFAULT_URL;
  return new Promise<number>((resolve) => {
    let seen = 0;
    let idle: NodeJS.Timeout | null = null;
    const ws = new WebSocket(url);
    const finish = (code: number, message?: string): void => {
      if (idle) clearTimeout(idle);
      if (message) process.stderr.write(`odin-ws tail: ${message}\n`);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      process.off('SIGINT', onSignal);
      resolve(code);
    };
    const onSignal = (): void => finish(EXIT_OK);
    process.once('SIGINT', onSignal);
    const arm = (): void => {
      if (timeoutS <= 0) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => finish(EXIT_FAILURE, `nothing received for ${timeoutS} s`), timeoutS * 1000);
    };
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'subscribe', data: { channels } }));
      arm();
    });
    ws.on('message', (data) => {
      const text = String(data);
      process.stdout.write(text + '\n');
      let msg: { type?: unknown; subscribed?: unknown; errors?: unknown } = {};
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        msg = {};
      }
      const type = msg.type;
      // A refused channel is said at once; when every channel was refused there is nothing to wait for.
      if (type === 'subscription_ack' && Array.isArray(msg.errors) && msg.errors.length > 0) {
        const refused = (msg.errors as { channel?: string; code?: number; message?: string }[])
          .map((e) => `${e.channel ?? '?'} (${e.code ?? '?'} ${e.message ?? ''})`)
          .join(', ');
        process.stderr.write(`odin-ws tail: refused: ${refused}\n`);
        if (!Array.isArray(msg.subscribed) || msg.subscribed.length === 0) return finish(EXIT_FAILURE, 'no channel subscribed');
      }
      // The greeting, acks, pongs and errors are printed but do not count as publications.
      if (type !== 'connected' && type !== 'subscription_ack' && type !== 'pong' && type !== 'error') {
        arm();
        if (++seen >= count) finish(EXIT_OK);
      }
    });
    ws.on('error', (err: Error & { code?: string }) =>
      finish(EXIT_FAILURE, `${url}: ${err.code === 'ECONNREFUSED' ? 'connection refused (is the gateway running?)' : err.message}`),
    );
    ws.on('close', (code, reason) => finish(code === 1000 ? EXIT_OK : EXIT_FAILURE, `closed by the server: ${code} ${String(reason)}`));
  });
}
