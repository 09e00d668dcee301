/**
 * `--log-prefix slot|pid`: worker output passes through the primary, and each line gets the
 * worker's slot or pid in front (or, with --log-format json, becomes a JSON line). Without the
 * flag, workers write straight to the terminal and none of this runs.
 */
import type { Readable } from 'node:stream';
import type { ManagedCluster } from '../managed/managed-cluster.js';
import type { LogFormat } from './logger.js';
import type { LogPrefix } from './start-options.js';

export interface OutputStreams {
  out: (text: string) => void;
  err: (text: string) => void;
}

export function prefixWorkerOutput(cluster: ManagedCluster, prefix: LogPrefix, format: LogFormat, streams: OutputStreams): void {
  cluster.on('fork', (worker) => {
    const slot = cluster.slotOf(worker);
    const pid = worker.process.pid;
    const tag = prefix === 'slot' ? `[${slot ?? '?'}] ` : `[${pid ?? '?'}] `;
    const pipe = (stream: Readable | null, name: 'stdout' | 'stderr'): void => {
      if (stream === null) return;
      const write = name === 'stdout' ? streams.out : streams.err;
      let partial = '';
      const emit = (line: string): void => {
        write(format === 'json'
          ? `${JSON.stringify({ time: new Date().toISOString(), app: cluster.options.name, slot, pid, stream: name, line })}\n`
          : `${tag}${line}\n`);
      };
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) emit(line);
      });
      stream.on('end', () => {
        if (partial !== '') emit(partial);
        partial = '';
      });
    };
    pipe(worker.process.stdout, 'stdout');
    pipe(worker.process.stderr, 'stderr');
  });
}
