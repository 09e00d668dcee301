/**
 * `--log-prefix slot|pid`: worker output passes through the primary, and each line gets the
 * worker's slot or pid in front (or, with --log-format json, becomes a JSON line). Without the
 * flag, workers write straight to the terminal and none of this runs.
 *
 * The primary never holds more than a bounded amount of it: lines are cut at MAX_LINE_LENGTH
 * (line-splitter.ts), and while corral's own output is full (a slow reader) each worker's pipe is
 * paused, so that the app's writes wait as they would on inherited output.
 */
import type { Readable } from 'node:stream';
import type { ManagedCluster } from '../managed/managed-cluster.js';
import { LineSplitter } from './line-splitter.js';
import type { LogFormat } from './logger.js';
import type { CliOutput } from './output-sink.js';
import type { LogPrefix } from './start-options.js';

/** Pauses are reported at most this often (a slow reader pauses output many times a second). */
const PAUSE_NOTICE_INTERVAL = 60_000;

/**
 * Starts passing worker output on; the function it returns resolves once every pipe opened so far
 * has ended (or after `ms`), so that the primary exits only after the workers' last lines.
 */
export function prefixWorkerOutput(
  cluster: ManagedCluster, prefix: LogPrefix, format: LogFormat, output: CliOutput, onPause: () => void,
): (ms: number) => Promise<void> {
  let noticedAt = -Infinity;
  const open = new Set<Promise<void>>();
  cluster.on('fork', (worker) => {
    const slot = cluster.slotOf(worker);
    const pid = worker.process.pid;
    const tag = prefix === 'slot' ? `[${slot ?? '?'}] ` : `[${pid ?? '?'}] `;
    const pipe = (stream: Readable | null, name: 'stdout' | 'stderr'): void => {
      if (stream === null) return;
      let room = true;
      const lines = new LineSplitter((line, continued) => {
        const text = format === 'json'
          ? `${JSON.stringify({ time: new Date().toISOString(), app: cluster.options.name, slot, pid, stream: name, line, ...(continued ? { continued } : {}) })}\n`
          : `${tag}${line}\n`;
        if (!(name === 'stdout' ? output.out(text) : output.err(text))) room = false;
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
        output.whenWritable(() => stream.resume());
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
