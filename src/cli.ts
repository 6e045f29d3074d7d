/** `odin-ws <command>`: one CLI for every part of the system. */
import { readFileSync } from 'node:fs';
import { EXIT_FAILURE, EXIT_PORT_UNAVAILABLE, EXIT_USAGE, listenErrorMessage } from './lib/runtime/exit-codes.js';

type Command = (argv: readonly string[]) => Promise<number>;

/**
 * Each command is loaded when it runs (a dynamic import), so a command loads its own app and
 * nothing of the others: `odin-ws loadtest` or `odin-ws tail` never load the gateway, and the
 * benchmark harness (bench/) is loaded by `odin-ws bench` only. test/architecture/closure.test.ts
 * checks what each loads.
 */
const commands: Record<string, { load: () => Promise<Command>; summary: string }> = {
  gateway: { load: async () => (await import('./apps/gateway/main.js')).gatewayCommand, summary: 'run the WebSocket gateway' },
  publisher: {
    load: async () => (await import('./apps/publisher/main.js')).publisherCommand,
    summary: 'run the market-event publisher (load generator) with its control API',
  },
  dev: {
    load: async () => (await import('./apps/dev/main.js')).devCommand,
    summary: 'run gateway + simulated feed on the embedded broker (npm start)',
  },
  health: {
    load: async () => (await import('./apps/health/main.js')).healthCommand,
    summary: 'check every service (gateway, publisher, NATS, Kafka, Prometheus, Grafana, Loki)',
  },
  stats: {
    load: async () => (await import('./apps/stats/main.js')).statsCommand,
    summary: 'gateway, publisher, broker and Kafka figures; --watch for a live view',
  },
  tail: {
    load: async () => (await import('./apps/tail/main.js')).tailCommand,
    summary: 'subscribe to channels and print what arrives (Odin protocol)',
  },
  loadtest: {
    load: async () => (await import('./apps/loadtest/main.js')).loadtestCommand,
    summary: 'open N subscribers against a server and measure delivery',
  },
  kafka: {
    load: async () => (await import('./apps/kafka/main.js')).kafkaCommand,
    summary: 'Kafka topics: list, create the Odin ones, consume a few records; run a local broker',
  },
  bench: {
    load: async () => (await import('../bench/command.js')).benchCommand,
    summary: 'fan-out benchmark: our gateway vs nats-server, naive ws, Centrifugo',
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const HELP = `Usage: odin-ws <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "odin-ws <command> --help" for a command's options; "odin-ws --version" prints the version.
Exit codes: 0 ok, 1 failure (or a failed check), 2 bad usage, 3 port in use or not allowed.
`;

/** "message (cause: message (cause: ...))" of an error and its causes. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 5; e = (e as { cause?: unknown }).cause)
    parts.push(e instanceof Error ? e.message : String(e));
  return parts.join(': ');
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`odin-ws ${version()} (node ${process.version})\n`);
    return;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`odin-ws: unknown command "${name}"\n\n${HELP}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const run = await cmd.load();
  const code = await run(rest);
  if (code >= 0) process.exitCode = code;
}

/** Bad usage, from any command: a flag, variable or option it cannot take (exit 2, with a pointer to its help). */
function isUsageError(err: unknown): err is Error {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && (code === 'ERR_USAGE' || code === 'ERR_CONFIG');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isUsageError(err)) {
    const name = process.argv[2] ?? '';
    process.stderr.write(`odin-ws ${name}: ${err.message}\n(see odin-ws ${name} --help)\n`);
    process.exit(EXIT_USAGE);
  }
  const listen = listenErrorMessage(err);
  if (listen !== null) {
    // In a cluster worker too: the primary sees the exit code and stops the others (workers.ts).
    process.stderr.write(`odin-ws ${process.argv[2]}: ${listen}\n`);
    process.exit(EXIT_PORT_UNAVAILABLE);
  }
  // One line a cause, no stack trace (ODIN_WS_DEBUG=1 prints it).
  if (process.env.ODIN_WS_DEBUG) console.error(err);
  else process.stderr.write(`odin-ws ${process.argv[2] ?? ''}: ${causeChain(err)}\n`);
  process.exit(EXIT_FAILURE);
});
