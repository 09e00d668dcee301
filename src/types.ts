/** Public types shared by the node:cluster-compatible API and the managed cluster. */
import type { SendHandle, StdioOptions } from 'node:child_process';

/** `SCHED_NONE` (1): the kernel balances; `SCHED_RR` (2): the primary hands out connections. */
export type SchedulingPolicy = 1 | 2;

/** Settings passed to every later `fork()` (node:cluster's `cluster.settings`). */
export interface ClusterSettings {
  /** Worker script. @default process.argv[1] */
  exec?: string;
  /** Arguments for the worker script. @default process.argv.slice(2) */
  args?: string[];
  /** Node options for workers. @default process.execArgv */
  execArgv?: string[];
  /** Pipe worker stdio to the primary instead of inheriting it. @default false */
  silent?: boolean;
  /** Worker stdio; must contain 'ipc'. Overrides `silent`. */
  stdio?: StdioOptions;
  /** Worker working directory. @default the primary's */
  cwd?: string;
  uid?: number;
  gid?: number;
  /**
   * Inspector port for workers started with --inspect; a number or a function returning one.
   * Checked at `fork()`, only when the inspector is in use (a bad one throws a RangeError
   * `ERR_SOCKET_BAD_PORT` there), as in node:cluster.
   */
  inspectPort?: number | (() => number);
  /** IPC serialization. @default 'json' */
  serialization?: 'json' | 'advanced';
  windowsHide?: boolean;
  /**
   * corral's own: how many servers (listening sockets) one worker may hold at once. Past it, the
   * worker's `listen()`/`bind()` fails with `EMFILE`, so that a runaway worker cannot make the
   * primary bind sockets without end. @default 256
   */
  maxServersPerWorker?: number;
}

/** The address a worker listens on, as passed to the `'listening'` events: always these 4 keys. */
export interface WorkerAddress {
  /** 4 or 6 for TCP, -1 for a Unix socket, 'udp4' or 'udp6' for UDP, null for `listen({ fd })`. */
  addressType: 4 | 6 | -1 | 'udp4' | 'udp6' | null;
  address: string | null;
  port: number;
  fd: number | undefined;
}

/** `none` → `online` → `listening` → `disconnected` → `dead` (node:cluster's primary-side states). */
export type WorkerState = 'none' | 'online' | 'listening' | 'disconnected' | 'dead';

export type ExitSignal = NodeJS.Signals | null;

/** Events of a primary-side `Worker`. */
export interface WorkerEvents {
  online: [];
  listening: [address: WorkerAddress];
  message: [message: unknown, handle: SendHandle | undefined];
  disconnect: [];
  exit: [code: number | null, signal: ExitSignal];
  error: [error: Error];
}
