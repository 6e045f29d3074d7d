import { pino, type Logger as PinoLogger } from 'pino';

/** JSON logs; pretty when stdout is a terminal (pino-pretty runs in a worker thread). */
export function createLogger(level: string, name: string): PinoLogger {
  if (process.stdout.isTTY) {
    return pino({
      name,
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ name, level });
}
