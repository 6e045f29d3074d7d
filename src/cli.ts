/** `odin-ws <command>`: one CLI for every part of the system. */
import { gatewayCommand } from './apps/gateway/main.js';
import { devCommand } from './apps/dev/main.js';
import { publisherCommand } from './apps/publisher/main.js';
import { loadtestCommand } from './apps/loadtest/main.js';
import { kafkaCommand } from './apps/kafka/main.js';
import { benchCommand } from '../bench/command.js';

type Command = (argv: readonly string[]) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  gateway: { run: gatewayCommand, summary: 'run the WebSocket gateway' },
  publisher: { run: publisherCommand, summary: 'run the market-event publisher (load generator) with its control API' },
  dev: { run: devCommand, summary: 'run gateway + simulated feed on the embedded broker (npm start)' },
  loadtest: { run: loadtestCommand, summary: 'open N subscribers against a server and measure delivery' },
  kafka: { run: kafkaCommand, summary: 'Kafka topics: list, create the Odin ones, consume a few records; run a local broker' },
  bench: { run: benchCommand, summary: 'fan-out benchmark: our gateway vs nats-server, naive ws, Centrifugo' },
};

const HELP = `Usage: odin-ws <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "odin-ws <command> --help" for a command's options.
`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`odin-ws: unknown command "${name}"\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  const code = await cmd.run(rest);
  if (code >= 0) process.exitCode = code;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
