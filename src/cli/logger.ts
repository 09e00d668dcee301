/**
 * corral's own messages on the command line: one line each, with a timestamp, on stderr (the
 * app's stdout stays the app's). `--log-format json` makes each a JSON object on one line.
 */
export type LogFormat = 'text' | 'json';
export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, event: string, message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export function createLogger(
  name: string,
  format: LogFormat,
  write: (line: string, level: LogLevel) => void,
  now: () => Date = () => new Date(),
): Logger {
  return {
    log(level, event, message, fields = {}) {
      for (const line of formatLog(name, format, level, event, message, fields, now())) write(line, level);
    },
  };
}

/** One of corral's messages as the lines it is written as (each with its newline). */
export function formatLog(name: string, format: LogFormat, level: LogLevel, event: string, message: string,
  fields: Readonly<Record<string, unknown>> = {}, now = new Date()): string[] {
  const time = now.toISOString();
  if (format === 'json') return [`${JSON.stringify({ time, level, app: name, event, msg: message, ...fields })}\n`];
  // Multi-line messages (stderr tails) keep one timestamped line each.
  const tag = level === 'info' ? '' : ` ${level.toUpperCase()}`;
  return message.split('\n').map((line) => `${time} corral[${name}]${tag} ${line}\n`);
}
