/**
 * What a hung worker was doing, read by the primary from /proc just before it is SIGKILLed.
 *
 * Node's own diagnostic report cannot be had from a hung worker: `--report-on-signal` writes it
 * from a JavaScript signal handler, which runs on the event loop that is stuck (measured: nothing
 * is written), and the inspector would open a debugging port. What the kernel knows needs no help
 * from the worker: whether its main thread was on a CPU (a busy loop, long synchronous work) or
 * asleep in a system call (a synchronous call: `execSync`, `Atomics.wait`, a blocking read), where
 * it slept, and the processes it was waiting for.
 */
import fs from 'node:fs';
import tree from '../worker/process-tree.cjs';

export interface HangDiagnosis {
  /**
   * `running`: its main thread was on a CPU or ready to run (a busy loop, long synchronous work);
   * `waiting`: asleep in a system call (a synchronous call that does not return); `unknown`
   * where /proc cannot tell.
   */
  state: 'running' | 'waiting' | 'unknown';
  /** The kernel function it slept in (/proc/<pid>/wchan), where the kernel says. */
  waitingIn: string | undefined;
  /** The processes it had started and that still ran (what a synchronous call may wait for). */
  children: { pid: number; command: string }[];
}

/** The longest command line shown per child. */
const COMMAND_LENGTH = 120;

export function diagnoseHang(pid: number | undefined): HangDiagnosis {
  if (pid === undefined) return { state: 'unknown', waitingIn: undefined, children: [] };
  return { state: stateOf(pid), waitingIn: wchanOf(pid), children: tree.descendantsOf(pid).flatMap(commandOf) };
}

function stateOf(pid: number): HangDiagnosis['state'] {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return 'unknown';
  // "pid (comm) state …": comm may hold spaces and parentheses, so read after the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'R') return 'running';
  if (state === 'S' || state === 'D') return 'waiting';
  return 'unknown';
}

function wchanOf(pid: number): string | undefined {
  const wchan = read(`/proc/${pid}/wchan`)?.trim();
  // "0" when it runs, or when the kernel hides its addresses.
  return wchan === undefined || wchan === '' || wchan === '0' ? undefined : wchan;
}

function commandOf(pid: number): { pid: number; command: string }[] {
  const cmdline = read(`/proc/${pid}/cmdline`);
  if (cmdline === undefined) return [];
  const command = cmdline.replace(/\0+$/, '').replaceAll('\0', ' ');
  return [{ pid, command: command.length > COMMAND_LENGTH ? `${command.slice(0, COMMAND_LENGTH - 1)}…` : command }];
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined; // Not Linux, or it ended meanwhile.
  }
}
