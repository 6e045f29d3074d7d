/**
 * `odin-ws kafka topics|create-topics|consume|broker`: what the plans did with `rpk`, with no
 * Docker: list the topics, create the Odin ones, print a few records, run a local broker.
 */
import { ConfigError } from '../../lib/core/options.js';
import { describeError, KafkaAdmin, KafkaConsumerSession, type ConsumedRecord } from '../../lib/kafka/client.js';
import { KAFKA_CONNECTION_FLAGS, KAFKA_CONNECTION_HELP, kafkaConnection, loadKafkaSection } from '../../lib/kafka/config.js';
import { DEFAULT_TOPIC_PARTITIONS, DEFAULT_TOPIC_REPLICAS, ODIN_TOPICS, TOPIC_CONFIGS } from '../../lib/kafka/topics.js';
import { startLocalKafka } from '../../lib/kafka-local/local-broker.js';
import { parseFlags, toNumber } from '../../lib/runtime/flags.js';

export const KAFKA_HELP = `Usage: odin-ws kafka <command> [options]

Commands:
  topics                       list the topics: partitions, partitions with a leader
  create-topics                create the missing Odin topics (--partitions N, default ${DEFAULT_TOPIC_PARTITIONS};
                               --replicas N, default ${DEFAULT_TOPIC_REPLICAS}) with their retention; waits for leaders
  consume TOPIC [--n N]        print records as JSON lines (key, partition, offset, timestamp, value) and exit
                               after N (default: until Ctrl-C); --from earliest|latest (default earliest);
                               --wait S: exit 1 when fewer than N came within S seconds (default: no limit)
  broker                       run a local single-node Kafka broker (KRaft) from tools/kafka's jars;
                               --port N (default 19092), --data DIR (default: a temp dir, removed on exit)

Connection (flag | environment | default):
${KAFKA_CONNECTION_HELP}`;

const FLAGS = {
  ...KAFKA_CONNECTION_FLAGS,
  partitions: { type: 'string' },
  replicas: { type: 'string' },
  n: { type: 'string' },
  from: { type: 'string' },
  wait: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const positiveInt = (name: string, v: string | undefined, dflt: number): number =>
  toNumber(`--${name}`, v, { integer: true, min: 1, error: ConfigError }, dflt);

export async function kafkaCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, FLAGS, { positionals: true });
  } catch (err) {
    process.stderr.write(`odin-ws kafka: ${(err as Error).message}\n\n${KAFKA_HELP}`);
    return 2;
  }
  const { values: f, positionals } = parsed;
  const [cmd, ...args] = positionals;
  if (f.help || cmd === undefined) {
    process.stdout.write(KAFKA_HELP);
    return cmd === undefined && !f.help ? 2 : 0;
  }
  try {
    const conn = kafkaConnection(loadKafkaSection(undefined, process.env, f), 'odin-ws-cli');
    switch (cmd) {
      case 'topics': {
        const admin = new KafkaAdmin(conn);
        try {
          const names = await admin.listTopics();
          for (const t of await admin.describe(names))
            process.stdout.write(`${t.topic}\tpartitions=${t.partitions}\tleaders=${t.withLeader}\n`);
        } finally {
          await admin.close();
        }
        return 0;
      }
      case 'create-topics': {
        const partitions = positiveInt('partitions', f.partitions, DEFAULT_TOPIC_PARTITIONS);
        const replicas = positiveInt('replicas', f.replicas, DEFAULT_TOPIC_REPLICAS);
        const admin = new KafkaAdmin(conn);
        try {
          const specs = ODIN_TOPICS.map((t) => ({
            topic: t.topic,
            partitions,
            replicas,
            configs: { ...TOPIC_CONFIGS, 'retention.ms': String(t.retentionMs) },
          }));
          const created = await admin.ensureTopics(specs);
          for (const s of specs) process.stdout.write(`${s.topic}\t${created.includes(s.topic) ? 'created' : 'exists'}\n`);
        } finally {
          await admin.close();
        }
        return 0;
      }
      case 'consume':
        return await consume(
          conn,
          args[0],
          f.n === undefined ? Infinity : positiveInt('n', f.n, 1),
          f.from ?? 'earliest',
          f.wait === undefined ? null : toNumber('--wait', f.wait, { min: 0, error: ConfigError }, 0) * 1000,
        );
      case 'broker':
        return await broker(f.port === undefined ? 19092 : positiveInt('port', f.port, 19092), f.data);
      default:
        process.stderr.write(`odin-ws kafka: unknown command "${cmd}"\n\n${KAFKA_HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`odin-ws kafka: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`odin-ws kafka ${cmd}: ${describeError(err)}\n`);
    return 1;
  }
}

async function consume(
  conn: Parameters<typeof KafkaConsumerSession.open>[0],
  topic: string | undefined,
  n: number,
  from: string,
  waitMs: number | null,
): Promise<number> {
  if (topic === undefined) throw new ConfigError('consume: name the topic (odin-ws kafka consume odin.trades --n 5)');
  if (from !== 'earliest' && from !== 'latest') throw new ConfigError(`--from: expected earliest or latest (got ${JSON.stringify(from)})`);
  let seen = 0;
  let finish!: () => void;
  const enough = new Promise<void>((r) => (finish = r));
  const print = (r: ConsumedRecord): void => {
    if (seen >= n) return;
    seen++;
    const value = r.value?.toString('utf8') ?? null;
    let parsed: unknown = value;
    try {
      if (value !== null) parsed = JSON.parse(value);
    } catch {
      // Not JSON: printed as a string.
    }
    process.stdout.write(
      JSON.stringify({
        topic: r.topic,
        key: r.key?.toString('utf8') ?? null,
        partition: r.partition,
        offset: String(r.offset),
        timestamp: r.timestamp,
        value: parsed,
      }) + '\n',
    );
    if (seen >= n) finish();
  };
  const session = await KafkaConsumerSession.open(
    conn,
    { groupId: `odin-ws-cli-${process.pid}-${Date.now()}`, topics: [topic], start: from },
    print,
  );
  const interrupted = new Promise<void>((r) => process.once('SIGINT', () => r()));
  // Said once, on stderr, so an empty topic is not a silent hang.
  process.stderr.write(
    `odin-ws kafka consume: reading ${topic} from the ${from} offset${n === Infinity ? '' : ` (${n} records)`}` +
      `${waitMs === null ? '; Ctrl-C stops' : `; giving up after ${waitMs / 1000} s`}\n`,
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => {
    if (waitMs !== null) timer = setTimeout(() => r('timeout'), waitMs);
  });
  let outcome: unknown;
  try {
    outcome = await Promise.race([enough, interrupted, session.done, timedOut]);
  } finally {
    clearTimeout(timer);
    await session.close();
  }
  if (outcome === 'timeout' && seen < n) {
    process.stderr.write(
      `odin-ws kafka consume: ${seen} of ${n === Infinity ? 'the' : n} records in ${(waitMs ?? 0) / 1000} s: ` +
        `is anything producing to ${topic}? (odin-ws stats topics shows the end offsets)\n`,
    );
    return 1;
  }
  return 0;
}

async function broker(port: number, dataDir: string | undefined): Promise<number> {
  const k = await startLocalKafka({ port, ...(dataDir !== undefined ? { dataDir } : {}), onLog: (l) => process.stderr.write(l + '\n') });
  process.stdout.write(`Kafka is running at ${k.bootstrap} (data: ${k.dataDir}); Ctrl-C stops it\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  await k.stop();
  return 0;
}
