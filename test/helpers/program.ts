// Runs a program as a real process and reads its output line by line: `waitFor` resolves once
// enough lines match (with a deadline, never a sleep), `exited` once it ends. Every program a
// test starts is killed by `killPrograms()` (call it from afterEach), even when the test fails.
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { once } from 'node:events';

export interface Program {
  readonly child: ChildProcess;
  /** stdout lines so far. */
  readonly lines: string[];
  /** stderr so far. */
  readonly stderr: () => string;
  waitFor(pattern: RegExp, count?: number, timeout?: number): Promise<string[]>;
  /** As waitFor, on stderr lines. */
  waitForErr(pattern: RegExp, count?: number, timeout?: number): Promise<string[]>;
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ProgramOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  execPath?: string;
  execArgv?: string[];
  /** stdin, stdout and stderr are always ignore, pipe, pipe; more entries pass descriptors on. */
  stdio?: ['ignore', 'pipe', 'pipe', ...(number | 'ignore')[]];
  /** Its own process group (so that a test can signal the whole group, as a terminal's Ctrl-C does). */
  detached?: boolean;
}

const running = new Set<ChildProcess>();
/** Programs started in their own process group: killed with the whole group. */
const groups = new WeakSet<ChildProcess>();

export function startProgram(file: string, args: readonly string[] = [], options: ProgramOptions = {}): Program {
  const child = spawn(options.execPath ?? process.execPath, [...(options.execArgv ?? []), file, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  }) as ChildProcessByStdio<null, Readable, Readable>;
  running.add(child);
  if (options.detached === true) groups.add(child);
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const lines: string[] = [];
  const errLines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  const splitter = (into: string[]) => {
    let buffered = '';
    return (chunk: string): void => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      into.push(...parts);
      for (const waiter of waiters) waiter();
    };
  };
  child.stdout.setEncoding('utf8').on('data', splitter(lines));
  const errSplitter = splitter(errLines);
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    errSplitter(chunk);
  });
  let ended = false;
  const waitIn = (source: string[]) => (pattern: RegExp, count = 1, timeout = 15_000): Promise<string[]> => new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      waiters.delete(check);
      reject(new Error(`${why} waiting for ${count} x ${pattern}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`timed out after ${timeout} ms`), timeout);
    const check = (): void => {
      const matches = source.filter((line) => pattern.test(line));
      if (matches.length >= count) {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(matches);
      } else if (ended) {
        fail('the program exited');
      }
    };
    waiters.add(check);
    check();
  });
  const waitFor = waitIn(lines);
  const waitForErr = waitIn(errLines);
  // Once both streams have ended (all lines are in), a waiter still unmatched never will be.
  let open = 2;
  const onEnd = (): void => {
    open -= 1;
    if (open > 0) return;
    ended = true;
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout.once('end', onEnd);
  child.stderr.once('end', onEnd);
  return { child, lines, stderr: () => stderr, waitFor, waitForErr, exited };
}

/** Waits for a program to exit, failing after `timeout` ms. */
export async function exitOf(program: Program, timeout = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`program did not exit within ${timeout} ms; stdout:\n${program.lines.join('\n')}\nstderr:\n${program.stderr()}`)), timeout);
  });
  try {
    return await Promise.race([program.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills every program still running (SIGKILL) and waits until each has exited. */
export async function killPrograms(): Promise<void> {
  await Promise.all([...running].map(async (child) => {
    if (child.exitCode === null && child.signalCode === null) {
      const exit = once(child, 'exit');
      if (groups.has(child) && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      } else {
        child.kill('SIGKILL');
      }
      await exit;
    }
  }));
  running.clear();
}

/**
 * Runs a command to its end without blocking the event loop (a test's load generator or server
 * may run in it meanwhile); resolves with its exit code and output.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
