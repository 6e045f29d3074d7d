/**
 * `odin-ws publisher`: flags and environment → PublisherOptions, signals, exit code.
 * The only publisher file that reads process.env or argv.
 */
import { pathToFileURL } from 'node:url';
import {
  DEFAULT_GATEWAY_URL,
  DEFAULT_HOST,
  DEFAULT_NATS_URL,
  DEFAULT_PORT,
  type PublisherOptions,
  type SinkOptions,
} from '../../lib/publisher/options.js';
import { PublisherError } from '../../lib/publisher/errors.js';
import { PROFILES, type Profile } from '../../lib/publisher/profiles.js';
import { startPublisher } from '../../lib/publisher/server.js';
import { EXIT_PORT_UNAVAILABLE, listenErrorMessage } from '../../lib/runtime/exit-codes.js';
import { parseFlags, toList, toNumber, UsageError } from '../../lib/runtime/flags.js';
import { createLogger } from '../../lib/runtime/logger.js';
import { KAFKA_CONNECTION_FLAGS, KAFKA_CONNECTION_HELP, kafkaConnection, loadKafkaSection } from '../../lib/kafka/config.js';

export const PUBLISHER_USAGE = `Usage: odin-ws publisher [options]

Generates Odin market events and publishes them to the gateway (HTTP API), NATS or Kafka.
Control API: POST /control, GET /stats, GET /health, GET /metrics (see docs/publisher.md).

Options:
  --port <n>           control API port (env PUBLISHER_PORT, default ${DEFAULT_PORT}; 0 = any free port)
  --host <addr>        control API address (env PUBLISHER_HOST, default ${DEFAULT_HOST}); beyond loopback
                       it needs --control-key
  --control-key <key>  key POST /control requires, as X-API-Key (env PUBLISHER_CONTROL_KEY; 8+ characters)
  --sink <kind>        gateway | nats | kafka (env PUBLISHER_SINK, default gateway)
  --gateway-url <url>  gateway base URL (env GATEWAY_URL, default ${DEFAULT_GATEWAY_URL})
  --api-key <key>      gateway server API key, sent as X-API-Key (env GATEWAY_API_KEY)
  --nats-url <url>     NATS server(s), comma-separated (env NATS_URL, default ${DEFAULT_NATS_URL})
  --jetstream          publish to JetStream with Nats-Msg-Id (nats sink)
  --kafka-partitions <n> partitions of the Odin topics when created (kafka sink, default 12)
  --kafka-replicas <n> replicas of the Odin topics when created (kafka sink, default 1)
  --rate <n>           target events/s (default: the profile's; sustained 1000)
  --profile <name>     ${PROFILES.join(' | ')} (default sustained)
  --duration <s>       stop after this many seconds (0 = until stopped)
  --ramp-seconds <s>   ramp profile length (default 60)
  --tokens <list|n>    comma-separated symbols, or a count (default BTC,ETH,ODIN,SOL,DOGE)
  --autostart          start publishing at once
  --log-level <level>  pino level (env LOG_LEVEL, default info)
  -h, --help           show this help

Kafka sink connection (flag | environment | default):
${KAFKA_CONNECTION_HELP}`;

const num = (name: string, v: string | undefined): number | undefined => toNumber(`--${name}`, v);

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'control-key': { type: 'string' },
  sink: { type: 'string' },
  'gateway-url': { type: 'string' },
  'api-key': { type: 'string' },
  'nats-url': { type: 'string' },
  jetstream: { type: 'boolean' },
  ...KAFKA_CONNECTION_FLAGS,
  'kafka-partitions': { type: 'string' },
  'kafka-replicas': { type: 'string' },
  rate: { type: 'string' },
  profile: { type: 'string' },
  duration: { type: 'string' },
  'ramp-seconds': { type: 'string' },
  tokens: { type: 'string' },
  autostart: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Builds options from argv and env; throws UsageError on bad flags. `help` when asked for. */
export function parsePublisherArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { help: true } | { help: false; options: PublisherOptions; logLevel: string } {
  const { values } = parseFlags(argv, FLAGS);
  if (values.help) return { help: true };
  const sinkKind = values.sink ?? env['PUBLISHER_SINK'] ?? 'gateway';
  let sink: SinkOptions;
  if (sinkKind === 'gateway') {
    const apiKey = values['api-key'] ?? env['GATEWAY_API_KEY'];
    sink = { kind: 'gateway', url: values['gateway-url'] ?? env['GATEWAY_URL'] ?? DEFAULT_GATEWAY_URL, ...(apiKey ? { apiKey } : {}) };
  } else if (sinkKind === 'nats') {
    sink = { kind: 'nats', url: values['nats-url'] ?? env['NATS_URL'] ?? DEFAULT_NATS_URL, jetstream: values.jetstream ?? false };
  } else if (sinkKind === 'kafka') {
    let section;
    try {
      section = loadKafkaSection(undefined, env, values);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const partitions = toNumber('--kafka-partitions', values['kafka-partitions'], { integer: true, min: 1 });
    const replicas = toNumber('--kafka-replicas', values['kafka-replicas'], { integer: true, min: 1 });
    sink = {
      kind: 'kafka',
      connection: kafkaConnection(section, 'odin-ws-publisher'),
      ...(partitions !== undefined ? { partitions } : {}),
      ...(replicas !== undefined ? { replicas } : {}),
    };
  } else {
    throw new UsageError(`--sink must be gateway, nats or kafka, got "${sinkKind}"`);
  }
  const profile = values.profile;
  if (profile !== undefined && !(PROFILES as readonly string[]).includes(profile))
    throw new UsageError(`--profile must be one of ${PROFILES.join(', ')}, got "${profile}"`);
  const tokensFlag = values.tokens;
  const tokens = tokensFlag === undefined ? undefined : /^\d+$/.test(tokensFlag) ? Number(tokensFlag) : toList(tokensFlag);
  const options: PublisherOptions = {
    port: num('port', values.port ?? env['PUBLISHER_PORT']) ?? DEFAULT_PORT,
    sink,
    autostart: values.autostart ?? false,
    processMetrics: true,
    ...((values.host ?? env['PUBLISHER_HOST']) ? { host: values.host ?? env['PUBLISHER_HOST'] } : {}),
    ...((values['control-key'] ?? env['PUBLISHER_CONTROL_KEY'])
      ? { controlKey: values['control-key'] ?? env['PUBLISHER_CONTROL_KEY'] }
      : {}),
    ...(profile !== undefined ? { profile: profile as Profile } : {}),
    ...(values.rate !== undefined ? { messagesPerSecond: num('rate', values.rate) } : {}),
    ...(values.duration !== undefined ? { duration: num('duration', values.duration) } : {}),
    ...(values['ramp-seconds'] !== undefined ? { rampSeconds: num('ramp-seconds', values['ramp-seconds']) } : {}),
    ...(tokens !== undefined ? { tokens } : {}),
  };
  return { help: false, options, logLevel: values['log-level'] ?? env['LOG_LEVEL'] ?? 'info' };
}

/** Runs the publisher until SIGTERM/SIGINT; resolves with the process exit code. */
export async function publisherCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parsePublisherArgs(argv, process.env);
  } catch (err) {
    process.stderr.write(`odin-ws publisher: ${err instanceof Error ? err.message : String(err)}\n\n${PUBLISHER_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(PUBLISHER_USAGE);
    return 0;
  }
  const logger = createLogger(parsed.logLevel, 'odin-publisher');
  let running;
  try {
    running = await startPublisher({ ...parsed.options, logger });
  } catch (err) {
    const listen = listenErrorMessage(err);
    if (listen !== null) {
      process.stderr.write(`odin-ws publisher: ${listen}\n`);
      return EXIT_PORT_UNAVAILABLE;
    }
    // A known failure (bad options, the sink's server down) is one line, not a stack trace.
    if (err instanceof PublisherError) {
      process.stderr.write(`odin-ws publisher: ${err.message}\n`);
      return err.code === 'invalid_options' ? 2 : 1;
    }
    logger.error({ err }, 'publisher failed to start');
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  await running.close();
  logger.info({ stats: running.publisher.stats() }, 'publisher stopped');
  return 0;
}

// Runnable on its own too: node dist/src/apps/publisher/main.js [options]
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await publisherCommand(process.argv.slice(2));
}
