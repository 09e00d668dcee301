/**
 * Waits for a process this one did not start to end (`corral restart` waits for the primary it
 * stopped). Nothing tells a process that an unrelated one has ended, so this looks every 25 ms.
 * A zombie has ended: in a container whose PID 1 does not reap, it may stay one.
 */
import { readFileSync } from 'node:fs';

const POLL_INTERVAL = 25;

function ended(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false; // No /proc: it runs, as far as can be told.
  }
}

/** Resolves true once `pid` has ended, false if it still runs after `timeout` ms. */
export async function processEnded(pid: number, timeout: number): Promise<boolean> {
  const deadline = Date.now() + timeout;
  while (!ended(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL));
  }
  return true;
}
