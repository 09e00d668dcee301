/** The one log line of `corral start` for each health action (the `health` event). */
import type { HangDiagnosis } from '../managed/hang-diagnosis.js';
import type { HealthAction } from '../managed/managed-cluster.js';
import { formatDuration, formatSize } from '../options/units.js';

/** Short ages (tests, tight limits) in ms; longer ones as 6h00m. */
const age = (ms: number): string => (ms < 60_000 ? `${ms} ms` : formatDuration(ms));
const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;

/** What a hung worker was doing, as the kernel saw it. */
function doing({ state, waitingIn, children }: HangDiagnosis): string {
  const what = state === 'running' ? 'it was running on a CPU (a busy loop or long synchronous work)'
    : state === 'waiting' ? `it was waiting in a system call${waitingIn === undefined ? '' : ` (${waitingIn})`} (a synchronous call such as execSync, Atomics.wait or a blocking read)`
      : 'what it was doing is unknown';
  if (children.length === 0) return what;
  const shown = children.slice(0, 3).map(({ pid, command }) => `pid ${pid} \`${command}\``).join(', ');
  return `${what}, with ${plural(children.length, 'process')} it started still running: ${shown}${children.length > 3 ? ', …' : ''}`;
}

export function describeHealthAction(action: HealthAction): string {
  const { slot, worker, lastReport } = action;
  const who = `worker ${worker.id} (slot ${slot}, pid ${worker.process.pid ?? '?'})`;
  const outcome = action.action === 'kill' ? 'SIGKILLed it, a replacement starts now' : 'recycling it: a replacement starts, then it drains';
  switch (action.reason) {
    case 'hang': {
      const last = lastReport === undefined ? 'no report came'
        : `last event-loop delay ${Math.round(lastReport.loop.delay)} ms, ${plural(lastReport.connections, 'open connection')}, ` +
          `${plural(lastReport.requests, 'request')} served`;
      return `${who} is hung: its event loop sent no report for ${action.silentFor} ms (${last}); ${doing(action.diagnosis)}; ${outcome}`;
    }
    case 'memory':
      return `${who} uses ${formatSize(action.value)} of ${action.measure === 'heap' ? 'V8 heap' : 'memory (RSS)'}, over ` +
        `${action.action === 'kill' ? 'maxMemoryHard' : 'maxMemory'} (${formatSize(action.limit)}); ${outcome}`;
    case 'requests':
      return `${who} has served ${plural(action.value, 'request')}, its maxRequests (${action.limit} with its jitter); ${outcome}`;
    case 'age':
      return `${who} has been ready for ${age(action.value)}, its maxAge (${age(action.limit)} with its jitter); ${outcome}`;
  }
}
