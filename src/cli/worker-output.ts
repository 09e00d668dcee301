/**
 * Worker output through the primary: with `--log-prefix slot|pid` each line goes to corral's
 * stdout or stderr with the worker's slot or pid in front (or, with --log-format json, as a JSON
 * line), and with a log file (`corral start -d`, `--log-file`) each line also goes to the app's
 * file, with the time, slot, pid and stream. Without either, workers write straight to the
 * terminal and none of this runs.
 *
 * The primary never holds more than a bounded amount of it: lines are cut at MAX_LINE_LENGTH
 * (line-splitter.ts), and while a destination is full (a slow reader, a busy disk) each worker's
 * pipe is paused, so that the app's writes wait as they would on inherited output.
 */
import type { Readable } from 'node:stream';
import type { ManagedCluster } from '../managed/managed-cluster.js';
import { LineSplitter } from './line-splitter.js';
import type { RotatingLogFile } from './log-file.js';
import type { LogFormat } from './logger.js';
import type { CliOutput } from './output-sink.js';
import type { LogPrefix } from './start-options.js';

/** Pauses are reported at most this often (a slow reader pauses output many times a second). */
const PAUSE_NOTICE_INTERVAL = 60_000;

export interface WorkerLine {
  readonly app: string;
  readonly slot: number | undefined;
  readonly pid: number | undefined;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  /** The line was cut (too long): this piece continues the previous one. */
  readonly continued: boolean;
}

/** Where worker lines go. */
export interface WorkerLineSink {
  /** False while it is full (see whenWritable). */
  write(line: WorkerLine): boolean;
  whenWritable(callback: () => void): void;
}

const jsonLine = (line: WorkerLine): string => `${JSON.stringify({
  time: new Date().toISOString(), app: line.app, slot: line.slot, pid: line.pid, stream: line.stream, line: line.line,
  ...(line.continued ? { continued: true } : {}),
})}\n`;

/** corral's own stdout and stderr: prefixed (`[1] `, `[4301] `), JSON, or as the worker wrote it. */
export function terminalSink(output: CliOutput, prefix: LogPrefix | undefined, format: LogFormat): WorkerLineSink {
  return {
    write(line) {
      const text = prefix === undefined ? `${line.line}\n`
        : format === 'json' ? jsonLine(line)
          : `[${String((prefix === 'slot' ? line.slot : line.pid) ?? '?')}] ${line.line}\n`;
      return line.stream === 'stdout' ? output.out(text) : output.err(text);
    },
    whenWritable: (callback) => output.whenWritable(callback),
  };
}

/** The app's log file: `2026-12-03T09:00:00.000Z [slot 1 pid 4301 stdout] the line`, or JSON lines. */
export function fileSink(file: RotatingLogFile, format: LogFormat): WorkerLineSink {
  return {
    write(line) {
      return file.write(format === 'json' ? jsonLine(line)
        : `${new Date().toISOString()} [slot ${line.slot ?? '?'} pid ${line.pid ?? '?'} ${line.stream}] ${line.line}\n`);
    },
    whenWritable: (callback) => file.whenWritable(callback),
  };
}

/**
 * Starts passing worker output on to `sinks`; the function it returns resolves once every pipe
 * opened so far has ended (or after `ms`), so that the primary exits only after the workers'
 * last lines.
 */
export function passWorkerOutput(
  cluster: ManagedCluster, sinks: readonly WorkerLineSink[], onPause: () => void, maxPause?: number,
): (ms: number) => Promise<void> {
  let noticedAt = -Infinity;
  const open = new Set<Promise<void>>();
  const whenAllWritable = (callback: () => void, index = 0): void => {
    const sink = sinks[index];
    if (sink === undefined) callback();
    else sink.whenWritable(() => whenAllWritable(callback, index + 1));
  };
  cluster.on('fork', (worker) => {
    const slot = cluster.slotOf(worker);
    const pid = worker.process.pid;
    const app = cluster.options.name;
    const pipe = (stream: Readable | null, name: 'stdout' | 'stderr'): void => {
      if (stream === null) return;
      let room = true;
      const lines = new LineSplitter((line, continued) => {
        const entry: WorkerLine = { app, slot, pid, stream: name, line, continued };
        for (const sink of sinks) if (!sink.write(entry)) room = false;
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        lines.push(chunk);
        if (room) return;
        room = true;
        stream.pause();
        if (Date.now() - noticedAt >= PAUSE_NOTICE_INTERVAL) {
          noticedAt = Date.now();
          onPause();
        }
        // With `maxPause` (workers that block on a paused pipe, so a pause that never ended would
        // stop the app), the sinks are asked again every `maxPause` ms: a wake-up that went amiss
        // costs that long at most.
        let resumed = false;
        let timer: NodeJS.Timeout | undefined;
        const resume = (): void => {
          if (resumed) return;
          resumed = true;
          clearTimeout(timer);
          stream.resume();
        };
        const askAgain = (): void => {
          whenAllWritable(resume);
          if (!resumed) timer = setTimeout(askAgain, maxPause);
        };
        whenAllWritable(resume);
        if (!resumed && maxPause !== undefined) timer = setTimeout(askAgain, maxPause);
      });
      const ended = new Promise<void>((resolve) => {
        stream.on('end', () => lines.end());
        stream.on('close', resolve);
      });
      open.add(ended);
      void ended.then(() => open.delete(ended));
    };
    pipe(worker.process.stdout, 'stdout');
    pipe(worker.process.stderr, 'stderr');
  });
  return async (ms) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(open), new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
    clearTimeout(timer);
  };
}
